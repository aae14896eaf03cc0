import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { HostLock } from '../../../src/queue/host-lock.js';
import { OoQueues } from '../../../src/queue/queues.js';
import { RemediationWorker, type RemediationReport } from '../../../src/queue/remediation-worker.js';
import {
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

async function setup(options: Partial<ConstructorParameters<typeof RemediationWorker>[1]> = {}) {
  const queues = new OoQueues({ redisUrl: server.url, prefix: testPrefix() });
  cleanups.push(() => queues.close());
  await queues.ready();
  const reports: { jobId: string | undefined; report: RemediationReport }[] = [];
  const counterKey = `${queues.keys.prefix}:test:calls`;
  const worker = new RemediationWorker(queues, {
    remediate: async (job) => {
      // Counted in Redis, as a real side effect would be visible outside the process.
      await redis.incr(counterKey);
      await sleep(200);
      return verifiedOutcome(job.data.host, job.data.remediationId);
    },
    onOutcome: (job, report) => void reports.push({ jobId: job.id, report }),
    ...options,
  });
  cleanups.push(() => worker.close());
  await worker.ready();
  const calls = async () => Number((await redis.get(counterKey)) ?? 0);
  return { queues, worker, reports, calls, counterKey };
}

const job = (requestId: string, actionId: string, host = 'docs-1') => ({
  requestId,
  actionId,
  host,
  remediationId: 'restart_docservice',
  approvedBy: ['U0AAA', 'U0BBB'],
  incidentKey: 'inc_x',
});

describe('remediation at most once', () => {
  it('runs an action once however often it is enqueued', async () => {
    const { queues, worker, reports, calls } = await setup();
    const actionId = newActionId();
    // A double click that got past the button guard: two enqueues at once.
    const [first, second] = await Promise.all([
      queues.enqueueRemediation(job('click-1', actionId)),
      queues.enqueueRemediation(job('click-2', actionId)),
    ]);
    expect(first.jobId).toBe(second.jobId);
    expect([first.deduplicated, second.deduplicated].sort()).toEqual([false, true]);
    await waitFor('the outcome', () => reports.length === 1);
    expect(reports[0]!.report.status).toBe('verified');
    expect(await worker.records.state(actionId)).toBe('verified');

    // After it finished, enqueueing again (a second replica, a retry by hand) finds the record.
    await queues.enqueueRemediation(job('click-3', actionId));
    await waitFor('the refusal', () => reports.length === 2);
    expect(reports[1]!.report).toMatchObject({ status: 'refused', reason: 'already_ran', state: 'verified' });

    // Even a job added behind the producer's back (no deduplication, its own id) does not run it.
    await queues.remediation.add('remediation', job('raw', actionId), { jobId: 'r_raw-bypass', attempts: 1 });
    await waitFor('the second refusal', () => reports.length === 3);
    expect(reports[2]!.report).toMatchObject({ status: 'refused', reason: 'already_ran' });
    expect(await calls()).toBe(1);

    const record = await worker.records.get(actionId);
    expect(record?.outcome?.status).toBe('verified');
    expect(record?.job?.approvedBy).toEqual(['U0AAA', 'U0BBB']);
    // The running index is empty again.
    expect(await redis.scard(queues.keys.runningRemediations)).toBe(0);
  });

  it('runs one action once even when two workers (replicas) race for copies of it', async () => {
    const { queues, reports, calls } = await setup();
    const replicaReports: RemediationReport[] = [];
    const replica = new RemediationWorker(queues, {
      remediate: async (j) => {
        await redis.incr(`${queues.keys.prefix}:test:calls`);
        await sleep(200);
        return verifiedOutcome(j.data.host);
      },
      onOutcome: (_j, report) => void replicaReports.push(report),
    });
    cleanups.push(() => replica.close());
    await replica.ready();
    const actionId = newActionId();
    await Promise.all(
      Array.from({ length: 6 }, (_, index) =>
        queues.remediation.add('remediation', job(`copy-${index}`, actionId), { jobId: `r_copy-${index}`, attempts: 1 }),
      ),
    );
    await waitFor('six reports', () => reports.length + replicaReports.length === 6, { timeoutMs: 20_000 });
    const all = [...reports.map((entry) => entry.report), ...replicaReports];
    expect(all.filter((report) => report.status === 'verified')).toHaveLength(1);
    expect(all.filter((report) => report.status === 'refused')).toHaveLength(5);
    expect(await calls()).toBe(1);
  });

  it('never re-runs when remediate throws: the result is unknown and the host is verified', async () => {
    const { queues, worker, reports, calls, counterKey } = await setup({
      remediate: async () => {
        await redis.incr(counterKey);
        throw new Error('ssh: channel closed mid-command');
      },
    });
    const actionId = newActionId();
    await queues.enqueueRemediation(job('boom', actionId));
    await waitFor('the unknown report', () => reports.find((entry) => entry.report.status === 'unknown'));
    expect(await worker.records.state(actionId)).toBe('unknown');
    const report = reports.find((entry) => entry.report.status === 'unknown')!.report;
    expect(report).toMatchObject({ status: 'unknown', actionId, host: 'docs-1' });
    expect((report as { reason: string }).reason).toMatch(/channel closed mid-command/);

    const verification = await queues.diagnosis.getJob(`d_verify-${actionId}`);
    expect(verification?.data).toMatchObject({
      host: 'docs-1',
      incidentKey: 'inc_x',
      requestedBy: 'oo-reaper',
      verifiesAction: actionId,
    });
    // The BullMQ job itself completed: nothing will retry it.
    const jobs = await queues.remediation.getJobs(['completed', 'failed', 'wait', 'delayed', 'active']);
    expect(jobs.map((entry) => entry.attemptsMade)).toEqual([1]);

    await queues.enqueueRemediation(job('again', actionId));
    await waitFor('the refusal', () => reports.some((entry) => entry.report.status === 'refused'));
    expect(await calls()).toBe(1);
  });

  it('refuses (without recording) when the host stays busy, so the action can be tried again', async () => {
    const { queues, worker, reports, calls } = await setup({ hostLockWaitMs: 300 });
    const locks = new HostLock(redis, queues.keys);
    const blocker = await locks.tryAcquire('docs-2', 'exclusive', 'other-remediation');
    const actionId = newActionId();
    await queues.enqueueRemediation(job('busy', actionId, 'docs-2'));
    await waitFor('the refusal', () => reports.length === 1);
    expect(reports[0]!.report).toMatchObject({ status: 'refused', reason: 'host_busy' });
    expect(await worker.records.state(actionId)).toBeNull();
    expect(await calls()).toBe(0);

    await blocker!.release();
    await queues.enqueueRemediation(job('free', actionId, 'docs-2'));
    await waitFor('the run', () => reports.length === 2);
    expect(reports[1]!.report.status).toBe('verified');
    expect(await calls()).toBe(1);
  });

  it('close() lets a running remediation finish and record its outcome', async () => {
    const queues = new OoQueues({ redisUrl: server.url, prefix: testPrefix() });
    cleanups.push(() => queues.close());
    await queues.ready();
    let started = false;
    const reports: RemediationReport[] = [];
    const worker = new RemediationWorker(queues, {
      remediate: async (j) => {
        started = true;
        await sleep(600);
        return verifiedOutcome(j.data.host);
      },
      onOutcome: (_j, report) => void reports.push(report),
    });
    const actionId = newActionId();
    await queues.enqueueRemediation(job('graceful', actionId));
    await waitFor('the remediation to start', () => started);
    await worker.close();
    expect(reports.map((report) => report.status)).toEqual(['verified']);
    expect(await worker.records.state(actionId)).toBe('verified');
  });

  it('rejects a job naming the bad field', async () => {
    const { queues } = await setup();
    await expect(queues.enqueueRemediation({ ...job('x', newActionId()), actionId: 'short' })).rejects.toThrow(/actionId/);
    await expect(queues.enqueueRemediation({ ...job('x', newActionId()), approvedBy: [] })).rejects.toThrow(/approvedBy/);
    await expect(queues.enqueueRemediation({ ...job('x', newActionId()), remediationId: 'rm -rf' })).rejects.toThrow(
      /remediationId/,
    );
  });
});
