// Redis Sentinel and Redis Cluster on one machine, for tests: real redis-server processes on loopback
// ports (redis-server.ts), built the way an operator builds them (a master with replicas watched by a
// quorum of sentinels; masters with the 16384 slots split between them, met over the cluster bus).
// Every wait is bounded; stop() ends every process it started, by its pid.
import type { RedisEndpoint } from '../queue/redis.js';
import { createRedisClient, sleep } from '../queue/redis.js';
import { freeLoopbackPort, startRedisServer, startSentinel, type TestRedisServer } from './redis-server.js';

/** Polls `check` every `intervalMs` until it returns something truthy; throws naming `what` after `timeoutMs`. */
async function until<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined | false>, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  const polls = Math.ceil(timeoutMs / intervalMs) + 1;
  let lastError: unknown;
  for (let poll = 0; poll < polls && Date.now() <= deadline; poll++) {
    try {
      const value = await check();
      if (value) return value;
    } catch (error) {
      lastError = error;
    }
    await sleep(intervalMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${(lastError as Error).message})` : ''}`);
}

/** Runs `work` with a short-lived client of one server (or sentinel), then closes it. */
async function withClient<T>(server: Pick<TestRedisServer, 'port'>, password: string | undefined, work: (client: ReturnType<typeof createRedisClient>) => Promise<T>): Promise<T> {
  const auth = password === undefined ? '' : `:${encodeURIComponent(password)}@`;
  const client = createRedisClient(`redis://${auth}127.0.0.1:${server.port}`, 'worker', { lazyConnect: true, connectionName: 'oo-test-admin', retryStrategy: () => null });
  client.on('error', () => undefined);
  try {
    return await work(client);
  } finally {
    client.disconnect();
  }
}

/** `INFO <section>` as a map of its `key:value` lines. */
function infoFields(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const at = line.indexOf(':');
    if (at > 0) fields.set(line.slice(0, at), line.slice(at + 1));
  }
  return fields;
}

async function stopAll(servers: (TestRedisServer | undefined)[]): Promise<void> {
  await Promise.allSettled(servers.map((server) => server?.stop(2000)));
}

export interface SentinelSetOptions {
  /** The master group name (default `oo-master`). */
  name?: string;
  /** Replicas of the master (default 1). */
  replicas?: number;
  /** Sentinels watching it (default 3; the quorum is a majority of them). */
  sentinels?: number;
  /** `requirepass` (and `masterauth`) of the master and replicas. */
  password?: string;
  /** `requirepass` of the sentinels (they also use it with each other). */
  sentinelPassword?: string;
  /** How long the master must be silent before it counts as down (default 1000 ms). */
  downAfterMs?: number;
  /** How long setting up may take, in all (default 20 s). */
  readyTimeoutMs?: number;
}

export interface TestSentinelSet {
  name: string;
  /** The master the set started with, then its replicas. */
  servers: TestRedisServer[];
  sentinels: TestRedisServer[];
  /** For `redis.sentinels` in oo.yaml. */
  endpoints: RedisEndpoint[];
  /** The master one sentinel names right now. */
  masterAddress(): Promise<RedisEndpoint>;
  /** The data server on `port` (the initial master or a replica). */
  server(port: number): TestRedisServer;
  /** Waits until every sentinel names a master other than the one on `oldPort` and it answers as master. */
  waitForFailover(oldPort: number, timeoutMs?: number): Promise<RedisEndpoint>;
  stop(): Promise<void>;
}

/**
 * A master, its replicas (already in sync) and a quorum of sentinels that know all of them and each
 * other, so that a failover can start as soon as the master goes silent.
 */
export async function startSentinelSet(options: SentinelSetOptions = {}): Promise<TestSentinelSet> {
  const name = options.name ?? 'oo-master';
  const replicaCount = options.replicas ?? 1;
  const sentinelCount = options.sentinels ?? 3;
  const quorum = Math.floor(sentinelCount / 2) + 1;
  const timeoutMs = options.readyTimeoutMs ?? 20_000;
  const { password, sentinelPassword } = options;
  // A replica syncs at once (diskless replication waits 5 s for more replicas by default).
  const serverArgs = ['--repl-diskless-sync-delay', '0', ...(password === undefined ? [] : ['--requirepass', password, '--masterauth', password])];
  const servers: TestRedisServer[] = [];
  const sentinels: TestRedisServer[] = [];
  try {
    const master = await startRedisServer({ args: serverArgs });
    servers.push(master);
    servers.push(
      ...(await Promise.all(
        Array.from({ length: replicaCount }, () => startRedisServer({ args: [...serverArgs, '--replicaof', '127.0.0.1', String(master.port)] })),
      )),
    );
    // Replicas in sync before the sentinels start: a sentinel learns them from the master's INFO.
    await until(`${replicaCount} replica(s) in sync with 127.0.0.1:${master.port}`, timeoutMs, () =>
      withClient(master, password, async (client) => {
        const info = await client.info('replication');
        return (info.match(/^slave\d+:.*state=online/gm) ?? []).length === replicaCount;
      }),
    );
    const lines = [
      `sentinel monitor ${name} 127.0.0.1 ${master.port} ${quorum}`,
      `sentinel down-after-milliseconds ${name} ${options.downAfterMs ?? 1000}`,
      `sentinel failover-timeout ${name} 10000`,
      `sentinel parallel-syncs ${name} 1`,
      ...(password === undefined ? [] : [`sentinel auth-pass ${name} ${password}`]),
      ...(sentinelPassword === undefined ? [] : [`requirepass ${sentinelPassword}`]),
    ];
    sentinels.push(...(await Promise.all(Array.from({ length: sentinelCount }, () => startSentinel(lines)))));
    // Each sentinel must know the replicas and the other sentinels (hello messages every 2 s).
    const masterView = (sentinel: TestRedisServer) =>
      withClient(sentinel, sentinelPassword, async (client) => {
        const flat = (await client.call('SENTINEL', 'MASTER', name)) as string[];
        const fields = new Map<string, string>();
        for (let index = 0; index + 1 < flat.length; index += 2) fields.set(flat[index]!, flat[index + 1]!);
        return fields;
      });
    await until(`the sentinels to know ${replicaCount} replica(s) and each other`, timeoutMs, async () => {
      const views = await Promise.all(sentinels.map(masterView));
      return views.every(
        (view) => view.get('flags') === 'master' && Number(view.get('num-slaves')) === replicaCount && Number(view.get('num-other-sentinels')) === sentinelCount - 1,
      );
    });

    const masterAddress = (sentinel: TestRedisServer = sentinels[0]!) =>
      withClient(sentinel, sentinelPassword, async (client) => {
        const [host, port] = (await client.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name)) as [string, string];
        return { host, port: Number(port) };
      });
    return {
      name,
      servers,
      sentinels,
      endpoints: sentinels.map((sentinel) => ({ host: sentinel.host, port: sentinel.port })),
      masterAddress: () => masterAddress(),
      server(port) {
        const found = servers.find((server) => server.port === port);
        if (!found) throw new Error(`no server of the set on port ${port}`);
        return found;
      },
      waitForFailover: (oldPort, waitMs = 20_000) =>
        until(`the sentinels to promote a new master in place of port ${oldPort}`, waitMs, async () => {
          const named = await Promise.all(sentinels.map((sentinel) => masterAddress(sentinel)));
          const ports = new Set(named.map((address) => address.port));
          if (ports.size !== 1 || ports.has(oldPort)) return false;
          const elected = named[0]!;
          const role = await withClient(elected, password, async (client) => infoFields(await client.info('replication')).get('role'));
          return role === 'master' ? elected : false;
        }, 200),
      stop: () => stopAll([...sentinels, ...servers]),
    };
  } catch (error) {
    await stopAll([...sentinels, ...servers]);
    throw error;
  }
}

export interface RedisClusterOptions {
  /** Masters (default 3, the fewest Redis Cluster recommends); the slots are split evenly. */
  masters?: number;
  /** `requirepass` of every node. */
  password?: string;
  /** How long setting up may take, in all (default 20 s). */
  readyTimeoutMs?: number;
}

export interface TestRedisCluster {
  nodes: TestRedisServer[];
  /** For `redis.cluster.nodes` in oo.yaml. */
  endpoints: RedisEndpoint[];
  stop(): Promise<void>;
}

const SLOTS = 16384;

/** A cluster node: its client port and its cluster bus port both free (the bus port set explicitly). */
async function startClusterNode(password: string | undefined, attempts = 5): Promise<TestRedisServer> {
  let lastError: unknown;
  for (let attempt = 0; attempt < attempts; attempt++) {
    const busPort = await freeLoopbackPort();
    try {
      return await startRedisServer({
        maxPortAttempts: 1,
        args: [
          '--cluster-enabled', 'yes',
          '--cluster-config-file', 'nodes.conf',
          '--cluster-port', String(busPort),
          '--cluster-node-timeout', '3000',
          ...(password === undefined ? [] : ['--requirepass', password, '--masterauth', password]),
        ],
      });
    } catch (error) {
      lastError = error;
    }
  }
  throw lastError instanceof Error ? lastError : new Error(String(lastError));
}

/**
 * Masters with the slots split between them, as `redis-cli --cluster create` makes them (without
 * replicas): each node takes its slot range and a distinct config epoch, the first meets the others,
 * and the cluster is used once every node reports `cluster_state:ok` with every node known.
 */
export async function startRedisCluster(options: RedisClusterOptions = {}): Promise<TestRedisCluster> {
  const count = options.masters ?? 3;
  const { password } = options;
  const timeoutMs = options.readyTimeoutMs ?? 20_000;
  const nodes: TestRedisServer[] = [];
  try {
    nodes.push(...(await Promise.all(Array.from({ length: count }, () => startClusterNode(password)))));
    await Promise.all(
      nodes.map((node, index) =>
        withClient(node, password, async (client) => {
          await client.call('CLUSTER', 'ADDSLOTSRANGE', Math.floor((index * SLOTS) / count), Math.floor(((index + 1) * SLOTS) / count) - 1);
          await client.call('CLUSTER', 'SET-CONFIG-EPOCH', index + 1);
        }),
      ),
    );
    const busPorts = await Promise.all(
      nodes.map((node) => withClient(node, password, async (client) => Number(await client.call('CONFIG', 'GET', 'cluster-port').then((reply) => (reply as string[])[1])))),
    );
    await withClient(nodes[0]!, password, async (client) => {
      for (const [index, node] of nodes.entries()) if (index > 0) await client.call('CLUSTER', 'MEET', '127.0.0.1', node.port, busPorts[index]!);
    });
    await until(`a ${count}-master cluster with every slot served`, timeoutMs, async () => {
      const infos = await Promise.all(nodes.map((node) => withClient(node, password, async (client) => infoFields(String(await client.call('CLUSTER', 'INFO'))))));
      return infos.every(
        (info) => info.get('cluster_state') === 'ok' && Number(info.get('cluster_known_nodes')) === count && Number(info.get('cluster_slots_ok')) === SLOTS,
      );
    });
    return {
      nodes,
      endpoints: nodes.map((node) => ({ host: node.host, port: node.port })),
      stop: () => stopAll(nodes),
    };
  } catch (error) {
    await stopAll(nodes);
    throw error;
  }
}
