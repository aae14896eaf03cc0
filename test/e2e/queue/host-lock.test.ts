import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DiagnosisWorker } from '../../../src/queue/diagnosis-worker.js';
import { HostLock } from '../../../src/queue/host-lock.js';
import { keyspace } from '../../../src/queue/keys.js';
import { OoQueues } from '../../../src/queue/queues.js';
import { RemediationWorker, type RemediationReport } from '../../../src/queue/remediation-worker.js';
import {
  healthyFinding,
  newActionId,
  plainClient,
  sleep,
  startRedisServer,
  testPrefix,
  verifiedOutcome,
  waitFor,
  type TestRedisServer,
} from './helpers.js';

let server: TestRedisServer;
let redis: Redis;
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  server = await startRedisServer();
  redis = plainClient(server);
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
afterAll(async () => {
  redis?.disconnect();
  await server?.stop();
});

describe('HostLock', () => {
  it('excludes a remediation from a host in use and lets diagnoses share it', async () => {
    const locks = new HostLock(redis, keyspace(testPrefix()), { ttlMs: 2000 });
    const first = await locks.tryAcquire('docs-1', 'exclusive');
    expect(first).not.toBeNull();
    expect(await locks.tryAcquire('docs-1', 'exclusive')).toBeNull();
    expect(await locks.tryAcquire('docs-1', 'shared')).toBeNull();
    // Another host is unaffected.
    const other = await locks.tryAcquire('docs-2', 'exclusive');
    expect(other).not.toBeNull();
    expect(await first!.release()).toBe(true);
    expect(await other!.release()).toBe(true);

    const readerA = await locks.tryAcquire('docs-1', 'shared');
    const readerB = await locks.tryAcquire('docs-1', 'shared');
    expect(readerA && readerB).toBeTruthy();
    expect(await locks.tryAcquire('docs-1', 'exclusive')).toBeNull();
    expect((await locks.state('docs-1')).shared).toHaveLength(2);
    await readerA!.release();
    expect(await locks.tryAcquire('docs-1', 'exclusive')).toBeNull();
    await readerB!.release();
    const writer = await locks.tryAcquire('docs-1', 'exclusive');
    expect(writer).not.toBeNull();
    await writer!.release();
  });

  it('renews the lease while held, so a long holder keeps the host past the TTL', async () => {
    const locks = new HostLock(redis, keyspace(testPrefix()), { ttlMs: 300, renewEveryMs: 100 });
    const held = await locks.tryAcquire('docs-1', 'exclusive');
    const reader = await locks.tryAcquire('docs-2', 'shared');
    await sleep(1000);
    expect(held!.lost).toBe(false);
    expect(await locks.tryAcquire('docs-1', 'exclusive')).toBeNull();
    expect(await locks.tryAcquire('docs-2', 'exclusive')).toBeNull();
    await held!.release();
    await reader!.release();
  });

  it('frees the host one TTL after its holder died, and waiters get it', async () => {
    const keys = keyspace(testPrefix());
    const locks = new HostLock(redis, keys, { ttlMs: 2000, pollMs: 50 });
    // A holder that died: its key stays until the lease runs out; nobody renews it.
    await redis.set(keys.hostLock('docs-1'), 'dead-worker|token', 'PX', 400);
    const started = Date.now();
    const lock = await locks.acquire('docs-1', 'exclusive', { waitMs: 3000 });
    expect(lock).not.toBeNull();
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    await lock!.release();

    // A dead reader frees it the same way.
    await redis.zadd(keys.hostReaders('docs-1'), Date.now() + 400, 'dead-reader|token');
    const again = await locks.acquire('docs-1', 'exclusive', { waitMs: 3000 });
    expect(again).not.toBeNull();
    await again!.release();

    // Waiting is bounded.
    const holder = await locks.tryAcquire('docs-1', 'exclusive');
    const waitStart = Date.now();
    expect(await locks.acquire('docs-1', 'shared', { waitMs: 300 })).toBeNull();
    expect(Date.now() - waitStart).toBeLessThan(1500);
    await holder!.release();
  });

  it('releases only its own lock (compare-and-delete)', async () => {
    const keys = keyspace(testPrefix());
    const lost: string[] = [];
    const locks = new HostLock(redis, keys, { ttlMs: 600, renewEveryMs: 100, onLost: (lock) => void lost.push(lock.host) });
    const stale = await locks.tryAcquire('docs-1', 'exclusive', 'slow-worker');
    // Its lease ran out (as if its process stalled) and someone else took the host.
    await redis.del(keys.hostLock('docs-1'));
    const current = await locks.tryAcquire('docs-1', 'exclusive', 'new-worker');
    expect(current).not.toBeNull();
    expect(await stale!.release()).toBe(false);
    expect((await locks.state('docs-1')).exclusive).toBe(current!.token);
    expect(current!.token.startsWith('new-worker|')).toBe(true);
    await current!.release();
    expect((await locks.state('docs-1')).exclusive).toBeNull();

    // A holder whose renewal finds the lease gone is told so.
    const doomed = await locks.tryAcquire('docs-3', 'exclusive');
    await redis.del(keys.hostLock('docs-3'));
    await waitFor('the loss to be noticed', () => lost.includes('docs-3'), { timeoutMs: 2000 });
    expect(doomed!.lost).toBe(true);
  });

  it('refuses host names that are not inventory names', async () => {
    const locks = new HostLock(redis, keyspace(testPrefix()));
    await expect(locks.tryAcquire('docs-1 *', 'exclusive')).rejects.toThrow(/invalid host/);
    await expect(locks.tryAcquire('', 'shared')).rejects.toThrow(/invalid host/);
  });
});

describe('remediation and diagnosis on one host', () => {
  it('never overlap, and two remediations of one host never overlap', async () => {
    const queues = new OoQueues({ redisUrl: server.url, prefix: testPrefix() });
    cleanups.push(() => queues.close());
    await queues.ready();
    type Interval = { kind: 'diagnosis' | 'remediation'; id: string; start: number; end: number };
    const intervals: Interval[] = [];
    const reports: RemediationReport[] = [];
    const diagnosed: string[] = [];
    const remediationWorker = new RemediationWorker(queues, {
      concurrency: 4,
      hostLockWaitMs: 10_000,
      remediate: async (job) => {
        const start = Date.now();
        await sleep(400);
        intervals.push({ kind: 'remediation', id: job.data.actionId, start, end: Date.now() });
        return verifiedOutcome(job.data.host);
      },
      onOutcome: (_job, report) => void reports.push(report),
    });
    const diagnosisWorker = new DiagnosisWorker(queues, {
      concurrency: 4,
      hostLockWaitMs: 100,
      hostBusyDelayMs: 100,
      diagnose: async (job) => {
        const start = Date.now();
        await sleep(150);
        intervals.push({ kind: 'diagnosis', id: job.data.requestId, start, end: Date.now() });
        return healthyFinding(job.data.host);
      },
      onResult: (job) => void diagnosed.push(job.data.requestId),
    });
    cleanups.push(() => diagnosisWorker.close());
    cleanups.push(() => remediationWorker.close());
    await remediationWorker.ready();

    const actions = [newActionId(), newActionId(), newActionId()];
    const remediation = (actionId: string, index: number) => ({
      requestId: `rem-${index}`,
      actionId,
      host: 'docs-1',
      remediationId: 'restart_docservice',
      approvedBy: ['U0APPROVER'],
    });
    const diagnosis = (index: number) =>
      queues.enqueueDiagnosis({
        requestId: `diag-${index}`,
        incidentKey: `inc_${index}`,
        host: 'docs-1',
        requestedBy: 'U0REQ',
        reason: 'check',
      });
    // Diagnoses and remediations of one host arrive while a remediation runs, and between them.
    await queues.enqueueRemediation(remediation(actions[0]!, 0));
    await waitFor('the first remediation to start', async () => (await queues.remediation.getJobCounts('active')).active === 1);
    for (let index = 0; index < 3; index++) await diagnosis(index);
    await queues.enqueueRemediation(remediation(actions[1]!, 1));
    await sleep(250);
    await diagnosis(3);
    await queues.enqueueRemediation(remediation(actions[2]!, 2));
    await sleep(250);
    await diagnosis(4);

    await waitFor('all jobs', () => reports.length === 3 && diagnosed.length === 5, { timeoutMs: 30_000 });
    expect(reports.map((report) => report.status)).toEqual(['verified', 'verified', 'verified']);

    const remediations = intervals.filter((interval) => interval.kind === 'remediation');
    const diagnoses = intervals.filter((interval) => interval.kind === 'diagnosis');
    expect(remediations).toHaveLength(3);
    expect(diagnoses).toHaveLength(5);
    const overlap = (a: Interval, b: Interval) => a.start < b.end && b.start < a.end;
    for (const fix of remediations) {
      for (const other of intervals) {
        if (other === fix) continue;
        expect(overlap(fix, other), `${fix.kind} ${fix.id} overlaps ${other.kind} ${other.id}`).toBe(false);
      }
    }
  });

  it('puts a diagnosis back while a remediation holds the host, and runs it afterwards', async () => {
    const queues = new OoQueues({ redisUrl: server.url, prefix: testPrefix() });
    cleanups.push(() => queues.close());
    await queues.ready();
    let remediationEnd = 0;
    let diagnosisStart = 0;
    let remediationStarted = false;
    const remediationWorker = new RemediationWorker(queues, {
      remediate: async (job) => {
        remediationStarted = true;
        await sleep(800);
        remediationEnd = Date.now();
        return verifiedOutcome(job.data.host);
      },
      onOutcome: () => undefined,
    });
    const diagnosisWorker = new DiagnosisWorker(queues, {
      hostLockWaitMs: 100,
      hostBusyDelayMs: 150,
      diagnose: async (job) => {
        diagnosisStart = Date.now();
        return healthyFinding(job.data.host);
      },
      onResult: () => undefined,
    });
    cleanups.push(() => diagnosisWorker.close());
    cleanups.push(() => remediationWorker.close());
    await queues.enqueueRemediation({
      requestId: 'fix',
      actionId: newActionId(),
      host: 'docs-9',
      remediationId: 'restart_docservice',
      approvedBy: ['U0A'],
    });
    await waitFor('the remediation to start', () => remediationStarted);
    const { jobId } = await queues.enqueueDiagnosis({
      requestId: 'look',
      incidentKey: 'inc_look',
      host: 'docs-9',
      requestedBy: 'U0B',
      reason: 'x',
    });
    await waitFor('the diagnosis to run', () => diagnosisStart > 0, { timeoutMs: 10_000 });
    expect(diagnosisStart).toBeGreaterThanOrEqual(remediationEnd);
    const job = await queues.diagnosis.getJob(jobId);
    expect(job?.data.hostBusyDeferrals).toBeGreaterThanOrEqual(1);
    // Being put back is not a failed attempt.
    expect(job?.attemptsMade ?? 0).toBeLessThanOrEqual(1);
  });
});
