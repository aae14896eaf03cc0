// Redis clients by role. Producers fail fast (no offline queue: a request made while Redis is away
// errors at once, and the HTTP layer answers 503 instead of hanging); workers retry forever
// (`maxRetriesPerRequest: null`, which BullMQ's blocking commands require).
import { Redis, type RedisOptions } from 'ioredis';

export type RedisRole = 'producer' | 'worker';

export function clientOptions(role: RedisRole, extra: RedisOptions = {}): RedisOptions {
  const base: RedisOptions =
    role === 'producer'
      ? { enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 5_000 }
      : { maxRetriesPerRequest: null, connectTimeout: 10_000 };
  // The role's guarantees win over whatever else was passed.
  return { ...extra, ...base, connectionName: extra.connectionName ?? `oo-${role}` };
}

export function createRedisClient(url: string, role: RedisRole, extra: RedisOptions = {}): Redis {
  if (typeof url !== 'string' || !/^rediss?:\/\//.test(url)) {
    throw new Error(`REDIS_URL must start with redis:// or rediss:// (got ${JSON.stringify(String(url).slice(0, 40))})`);
  }
  return new Redis(url, clientOptions(role, extra));
}

export class RedisUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RedisUnavailableError';
  }
}

/** Resolves once the client is ready; rejects after `timeoutMs` or when the client is closed for good. */
export async function waitForReady(client: Redis, timeoutMs = 10_000): Promise<void> {
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
export function runScript(client: Redis, lua: string, keys: string[], args: (string | number)[]): Promise<unknown> {
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
