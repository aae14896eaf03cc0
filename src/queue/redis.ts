// Redis clients by role, for one server, a Sentinel-monitored master or a Redis Cluster: every ioredis
// client oo-responder makes comes from createRedisClient. Producers fail fast (no offline queue: a
// request made while Redis is away errors at once, and the HTTP layer answers 503 instead of hanging);
// workers retry forever (`maxRetriesPerRequest: null`, which BullMQ's blocking commands require).
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';

export type RedisRole = 'producer' | 'worker';

/** What every caller holds: one server (or Sentinel's master) or a Cluster; both speak every command. */
export type RedisClient = Redis | Cluster;

export interface RedisEndpoint {
  host: string;
  port: number;
}

/** Credentials and TLS of the Redis servers (not of the sentinels). */
interface RedisAuth {
  username?: string;
  password?: string;
  /** TLS with the system CAs. */
  tls?: boolean;
}

export interface StandaloneConnection extends RedisAuth {
  mode: 'standalone';
  /** `redis://…` or `rediss://…`; a password or database in it wins over the fields here. */
  url: string;
}

export interface SentinelConnection extends RedisAuth {
  mode: 'sentinel';
  sentinels: RedisEndpoint[];
  /** The master group name the sentinels monitor. */
  name: string;
  db?: number;
  sentinelUsername?: string;
  sentinelPassword?: string;
}

export interface ClusterConnection extends RedisAuth {
  mode: 'cluster';
  /** Some nodes of the cluster; the others are discovered. */
  nodes: RedisEndpoint[];
}

/** Where Redis is and how to log in: app/settings.ts builds it from oo.yaml and the environment. */
export type RedisConnection = StandaloneConnection | SentinelConnection | ClusterConnection;

export function clientOptions(role: RedisRole, extra: RedisOptions = {}): RedisOptions {
  const base: RedisOptions =
    role === 'producer'
      ? { enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 5_000 }
      : { maxRetriesPerRequest: null, connectTimeout: 10_000 };
  // The role's guarantees win over whatever else was passed.
  return { ...extra, ...base, connectionName: extra.connectionName ?? `oo-${role}` };
}

function checkUrl(url: string): string {
  if (typeof url !== 'string' || !/^rediss?:\/\//.test(url)) {
    throw new Error(`REDIS_URL must start with redis:// or rediss:// (got ${JSON.stringify(String(url).slice(0, 40))})`);
  }
  return url;
}

function authOptions(connection: RedisAuth): RedisOptions {
  return {
    ...(connection.username !== undefined ? { username: connection.username } : {}),
    ...(connection.password !== undefined ? { password: connection.password } : {}),
    ...(connection.tls ? { tls: {} } : {}),
  };
}

/**
 * After a Sentinel failover the old master comes back as a replica: a write that reaches it before the
 * client noticed fails with READONLY. Reconnect (which asks the sentinels again) and resend it.
 */
function reconnectOnReadonly(error: Error): 1 | 2 | false {
  return error.message.startsWith('READONLY') ? 2 : false;
}

function sentinelOptions(connection: SentinelConnection): RedisOptions {
  return {
    ...authOptions(connection),
    sentinels: connection.sentinels.map(({ host, port }) => ({ host, port })),
    name: connection.name,
    role: 'master',
    ...(connection.db !== undefined ? { db: connection.db } : {}),
    ...(connection.sentinelUsername !== undefined ? { sentinelUsername: connection.sentinelUsername } : {}),
    ...(connection.sentinelPassword !== undefined ? { sentinelPassword: connection.sentinelPassword } : {}),
    ...(connection.tls ? { enableTLSForSentinelMode: true, sentinelTLS: {} } : {}),
    // Follow +switch-master at once instead of waiting for the old master's connection to fail.
    failoverDetector: true,
    reconnectOnError: reconnectOnReadonly,
  };
}

/**
 * A Cluster client. The role's per-command options go to every node's connection; the offline queue
 * is a cluster-level switch (nodes connect lazily and must queue their first command while they do).
 */
function createCluster(connection: ClusterConnection, role: RedisRole, extra: RedisOptions): Cluster {
  const { enableOfflineQueue, lazyConnect, ...redisOptions } = clientOptions(role, { ...extra, ...authOptions(connection) });
  const options: ClusterOptions = {
    redisOptions,
    enableOfflineQueue: enableOfflineQueue ?? true,
    lazyConnect: lazyConnect ?? false,
    // Every key shares the prefix's hash tag, so one master serves them all: read from it too.
    scaleReads: 'master',
    slotsRefreshTimeout: 2_000,
    ...(connection.tls ? { dnsLookup: (address, callback) => callback(null, address) } : {}),
  };
  return new Cluster(
    connection.nodes.map(({ host, port }) => ({ host, port })),
    options,
  );
}

/**
 * The one place an ioredis client is made. A string is a `redis://` URL (one server). `extra` adds
 * ioredis options (a connection name, lazyConnect…); the role's settings always win.
 */
export function createRedisClient(url: string, role: RedisRole, extra?: RedisOptions): Redis;
export function createRedisClient(connection: RedisConnection | string, role: RedisRole, extra?: RedisOptions): RedisClient;
export function createRedisClient(target: RedisConnection | string, role: RedisRole, extra: RedisOptions = {}): RedisClient {
  const connection: RedisConnection = typeof target === 'string' ? { mode: 'standalone', url: target } : target;
  switch (connection.mode) {
    case 'standalone':
      return new Redis(checkUrl(connection.url), clientOptions(role, { ...extra, ...authOptions(connection) }));
    case 'sentinel':
      return new Redis(clientOptions(role, { ...extra, ...sentinelOptions(connection) }));
    case 'cluster':
      return createCluster(connection, role, extra);
  }
}

/** Where the connection points, without any secret (logs, `oo config check`). */
export function describeConnection(connection: RedisConnection): string {
  const list = (endpoints: RedisEndpoint[]) => endpoints.map(({ host, port }) => `${host}:${port}`).join(',');
  switch (connection.mode) {
    case 'standalone':
      try {
        const url = new URL(connection.url);
        return `${url.protocol}//${url.host}${url.pathname === '/' ? '' : url.pathname}`;
      } catch {
        return 'an unreadable URL';
      }
    case 'sentinel':
      return `sentinel master ${connection.name} via ${list(connection.sentinels)}`;
    case 'cluster':
      return `cluster via ${list(connection.nodes)}`;
  }
}

/** The nodes that hold keys: the client itself, or every master of a Cluster (for SCAN, which is per node). */
export function keyHoldingNodes(client: RedisClient): Redis[] {
  return client instanceof Cluster ? client.nodes('master') : [client];
}

export class RedisUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RedisUnavailableError';
  }
}

/** Resolves once the client is ready; rejects after `timeoutMs` or when the client is closed for good. */
export async function waitForReady(client: RedisClient, timeoutMs = 10_000): Promise<void> {
  if (client.status === 'ready') return;
  if (client.status === 'end') throw new RedisUnavailableError('the Redis client is closed');
  if (client.status === 'wait') void client.connect().catch(() => undefined);
  await new Promise<void>((resolve, reject) => {
    const cleanup = () => {
      clearTimeout(timer);
      client.off('ready', onReady);
      client.off('end', onEnd);
    };
    const onReady = () => {
      cleanup();
      resolve();
    };
    const onEnd = () => {
      cleanup();
      reject(new RedisUnavailableError('the Redis connection ended before it was ready'));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new RedisUnavailableError(`Redis was not ready within ${timeoutMs} ms`));
    }, timeoutMs);
    client.on('ready', onReady);
    client.on('end', onEnd);
  });
}

/** Runs a Lua script; EVAL caches it server-side by its SHA, so repeated calls stay cheap. */
export function runScript(client: RedisClient, lua: string, keys: string[], args: (string | number)[]): Promise<unknown> {
  return client.eval(lua, keys.length, ...keys, ...args.map(String));
}

/** Rejects with a RedisUnavailableError when `promise` takes longer than `timeoutMs`. */
export async function withTimeout<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => reject(new RedisUnavailableError(`${what} took longer than ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
