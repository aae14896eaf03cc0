// The queues on a Redis Sentinel set: a master, one replica and three sentinels (quorum 2), all real
// redis-server processes with passwords on the servers and on the sentinels. The connection is built
// as `oo serve` builds it: oo.yaml's redis.sentinels + name, the passwords from REDIS_PASSWORD and
// REDIS_SENTINEL_PASSWORD, one factory for every client. A diagnosis job runs through the master the
// sentinels name; then the master is killed (SIGKILL), the sentinels promote the replica, and the
// clients follow: the job done before is still there and a new job completes on the new master.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { resolveRedisConnection } from '../../../src/app/settings.js';
import { parseConfig } from '../../../src/config/index.js';
import { DiagnosisWorker } from '../../../src/queue/diagnosis-worker.js';
import { OoQueues } from '../../../src/queue/queues.js';
import { createRedisClient, RedisUnavailableError, waitForReady, type SentinelConnection } from '../../../src/queue/redis.js';
import { startSentinelSet, type TestSentinelSet } from '../../../src/testing/redis-topologies.js';
import { healthyFinding, waitFor } from '../queue/helpers.js';

const PASSWORD = `pw-${randomBytes(8).toString('hex')}`;
const SENTINEL_PASSWORD = `spw-${randomBytes(8).toString('hex')}`;
const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl';

let set: TestSentinelSet;
let connection: SentinelConnection;
let queues: OoQueues;
let worker: DiagnosisWorker;
const done: string[] = [];
const timings: Record<string, number> = {};

beforeAll(async () => {
  const started = Date.now();
  set = await startSentinelSet({ replicas: 1, sentinels: 3, password: PASSWORD, sentinelPassword: SENTINEL_PASSWORD, downAfterMs: 1000 });
  timings.setUpMs = Date.now() - started;
  const config = parseConfig(
    stringify({
      hosts: { 'docs-1': { address: '10.0.0.12', user: 'ops', hostKey: KEY } },
      redis: { sentinels: set.endpoints, name: set.name, prefix: `s${randomBytes(3).toString('hex')}` },
    }),
    'oo.yaml',
  );
  const resolved = resolveRedisConnection(config, { REDIS_PASSWORD: PASSWORD, REDIS_SENTINEL_PASSWORD: SENTINEL_PASSWORD });
  expect(resolved.problems).toEqual([]);
  if (resolved.connection?.mode !== 'sentinel') throw new Error('expected a Sentinel connection');
  connection = resolved.connection;
  expect(connection).toMatchObject({ mode: 'sentinel', name: set.name, password: PASSWORD, sentinelPassword: SENTINEL_PASSWORD });
  queues = new OoQueues({ redis: connection, prefix: config.redis.prefix, diagnosis: { attempts: 3, backoffMs: 200 }, enqueueTimeoutMs: 2000 });
  await queues.ready(10_000);
  worker = new DiagnosisWorker(queues, {
    concurrency: 2,
    diagnose: async (job) => healthyFinding(job.data.host),
    onResult: (job) => void done.push(job.data.requestId),
  });
  await worker.worker.waitUntilReady();
}, 60_000);

afterAll(async () => {
  await worker?.close();
  await queues?.close();
  await set?.stop();
  console.log(`redis-sentinel timings: ${JSON.stringify(timings)}`);
});

const request = (requestId: string, incidentKey: string) => ({ requestId, incidentKey, host: 'docs-1', requestedBy: 'U0ALICE', reason: 'nginx answers 502' });

/** The port of the server a client's commands reach (its `run_id` matched against the set's servers). */
async function servingPort(client: OoQueues['producer']): Promise<number> {
  const runId = /run_id:(\w+)/.exec(await client.info('server'))?.[1];
  for (const server of set.servers) {
    const probe = createRedisClient(`redis://:${PASSWORD}@127.0.0.1:${server.port}`, 'worker', { lazyConnect: true, retryStrategy: () => null });
    probe.on('error', () => undefined);
    try {
      await waitForReady(probe, 2000);
      if (/run_id:(\w+)/.exec(await probe.info('server'))?.[1] === runId) return server.port;
    } catch {
      // A server that is down is not the one serving.
    } finally {
      probe.disconnect();
    }
  }
  throw new Error('the client reaches none of the set');
}

describe('the queues on Redis Sentinel', () => {
  it('run a diagnosis job on the master the sentinels name, with the passwords from the environment', async () => {
    const master = await set.masterAddress();
    expect(await servingPort(queues.producer)).toBe(master.port);
    expect(await servingPort(queues.workerConnection())).toBe(master.port);

    const started = Date.now();
    const { jobId } = await queues.enqueueDiagnosis(request('before-failover', 'inc_sentinel_a'));
    await waitFor('the first diagnosis', () => done.includes('before-failover'));
    timings.firstJobMs = Date.now() - started;
    expect(await queues.diagnosis.getJobState(jobId)).toBe('completed');
  });

  it('refuses to connect with a wrong sentinel password (the sentinels really require it)', async () => {
    const wrong = createRedisClient({ ...connection, sentinelPassword: 'not-the-password' }, 'producer', { lazyConnect: true });
    wrong.on('error', () => undefined);
    try {
      await expect(waitForReady(wrong, 1500)).rejects.toBeInstanceOf(RedisUnavailableError);
    } finally {
      wrong.disconnect();
    }
  });

  it('follow a failover after the master is killed: the earlier job is kept, a new job completes', async () => {
    const old = await set.masterAddress();
    // The replica has every write of the first job before the master dies (replication is asynchronous).
    expect(Number(await queues.producer.call('WAIT', 1, 2000))).toBe(1);

    const killedAt = Date.now();
    await set.server(old.port).crash();
    const elected = await set.waitForFailover(old.port, 20_000);
    timings.failoverMs = Date.now() - killedAt;
    expect(elected.port).not.toBe(old.port);

    // The producer fails fast while it reconnects (no offline queue), so the enqueue is retried, bounded.
    await waitFor('the producer on the new master', async () => queues.producer.status === 'ready' && (await servingPort(queues.producer)) === elected.port, {
      timeoutMs: 15_000,
      intervalMs: 200,
    });
    const queued = await waitFor(
      'an enqueue accepted after the failover',
      () => queues.enqueueDiagnosis(request('after-failover', 'inc_sentinel_b')).catch(() => undefined),
      { timeoutMs: 10_000, intervalMs: 200 },
    );
    await waitFor('the diagnosis after the failover', () => done.includes('after-failover'), { timeoutMs: 20_000 });
    timings.killToSecondJobMs = Date.now() - killedAt;
    expect(await queues.diagnosis.getJobState(queued.jobId)).toBe('completed');
    expect(await servingPort(queues.workerConnection())).toBe(elected.port);

    // What was done before the failover is on the new master too.
    const counts = await queues.diagnosis.getJobCounts('completed', 'failed');
    expect(counts).toEqual({ completed: 2, failed: 0 });
    expect(done.filter((id) => id === 'before-failover')).toHaveLength(1);
  });
});
