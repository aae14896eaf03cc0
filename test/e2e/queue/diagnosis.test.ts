import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DiagnosisWorker, type DiagnosisJob, type DiagnosisProgress } from '../../../src/queue/diagnosis-worker.js';
import { InvalidJobDataError } from '../../../src/queue/jobs.js';
import { OoQueues } from '../../../src/queue/queues.js';
import { RedisUnavailableError } from '../../../src/queue/redis.js';
import { freeLoopbackPort } from '../../../src/testing/redis-server.js';
import { healthyFinding, sleep, startRedisServer, testPrefix, waitFor, type TestRedisServer } from './helpers.js';

let server: TestRedisServer;
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  server = await startRedisServer();
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
afterAll(async () => {
  await server?.stop();
});

async function queuesFor(options: Partial<ConstructorParameters<typeof OoQueues>[0]> = {}): Promise<OoQueues> {
  const queues = new OoQueues({ redisUrl: server.url, prefix: testPrefix(), ...options });
  cleanups.push(() => queues.close());
  await queues.ready();
  return queues;
}

function track(worker: DiagnosisWorker): DiagnosisWorker {
  cleanups.push(() => worker.close());
  return worker;
}

const request = (requestId: string, incidentKey = 'inc_a', host = 'docs-1') => ({
  requestId,
  incidentKey,
  host,
  requestedBy: 'U0123ABC',
  reason: 'nginx answers 502',
});

describe('diagnosis queue', () => {
  it('collapses duplicate requests for one incident into one job while it waits or runs', async () => {
    const queues = await queuesFor();
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, index) => queues.enqueueDiagnosis(request(`req-${index}`))),
    );
    const ids = new Set(results.map((result) => result.jobId));
    expect(ids.size).toBe(1);
    expect(results.filter((result) => !result.deduplicated)).toHaveLength(1);
    expect(await queues.diagnosis.getJobCounts('waiting', 'delayed', 'active')).toEqual({ waiting: 1, delayed: 0, active: 0 });

    // Another incident on the same host is its own job.
    const other = await queues.enqueueDiagnosis(request('req-other', 'inc_b'));
    expect(other.deduplicated).toBe(false);

    let calls = 0;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const seen: string[] = [];
    track(
      new DiagnosisWorker(queues, {
        concurrency: 2,
        diagnose: async (job) => {
          calls += 1;
          if (job.data.incidentKey === 'inc_a') await gate;
          return healthyFinding(job.data.host);
        },
        onResult: (job) => void seen.push(job.data.requestId),
      }),
    );
    await waitFor('inc_a to be active', async () => (await queues.diagnosis.getJobCounts('active')).active === 1);
    // While it runs, repeats still join it.
    const whileActive = await queues.enqueueDiagnosis(request('req-active'));
    expect(whileActive).toEqual({ jobId: [...ids][0], deduplicated: true });
    release();
    await waitFor('both diagnoses', () => seen.length === 2);
    expect(calls).toBe(2);
    expect(seen.sort()).toEqual(['req-0', 'req-other'].sort());

    // Once finished, a new request for the incident is a new diagnosis.
    const later = await queues.enqueueDiagnosis(request('req-later'));
    expect(later.deduplicated).toBe(false);
    await waitFor('the later diagnosis', () => seen.includes('req-later'));
  });

  it('retries a failing diagnosis with exponential backoff, then reports the final failure once', async () => {
    const queues = await queuesFor({ diagnosis: { attempts: 3, backoffMs: 300 } });
    const callTimes: Record<string, number[]> = {};
    const failed: string[] = [];
    const results: string[] = [];
    track(
      new DiagnosisWorker(queues, {
        diagnose: async (job) => {
          (callTimes[job.data.requestId] ??= []).push(Date.now());
          if (job.data.requestId === 'flaky' && job.attemptsMade < 2) throw new Error('ssh: connection reset');
          if (job.data.requestId === 'broken') throw new Error('ssh: host key mismatch');
          return healthyFinding(job.data.host);
        },
        onResult: (job) => void results.push(job.data.requestId),
        onFailed: (job, error) => void failed.push(`${job?.data.requestId}: ${error.message}`),
      }),
    );
    await queues.enqueueDiagnosis(request('flaky', 'inc_flaky'));
    await queues.enqueueDiagnosis(request('broken', 'inc_broken'));
    await waitFor('the flaky diagnosis to succeed', () => results.includes('flaky'), { timeoutMs: 15_000 });
    await waitFor('the broken diagnosis to fail for good', () => failed.length === 1, { timeoutMs: 15_000 });

    const flaky = callTimes.flaky!;
    expect(flaky).toHaveLength(3);
    // BullMQ's exponential backoff: delay * 2^(attempt-1) → ~300 ms, then ~600 ms.
    expect(flaky[1]! - flaky[0]!).toBeGreaterThanOrEqual(280);
    expect(flaky[2]! - flaky[1]!).toBeGreaterThanOrEqual(580);
    expect(callTimes.broken).toHaveLength(3);
    expect(failed).toEqual(['broken: ssh: host key mismatch']);
    expect(results).toEqual(['flaky']);
    await sleep(300);
    expect(failed).toHaveLength(1);
  });

  it('reports progress through the job and the onProgress hook, and keeps only a summary', async () => {
    const queues = await queuesFor();
    const progress: DiagnosisProgress[] = [];
    let finished: DiagnosisJob | undefined;
    track(
      new DiagnosisWorker(queues, {
        diagnose: async (job, report) => {
          await report({ done: 1, total: 2, step: 'nginx_error_log' });
          await report({ done: 2, total: 2, step: 'ports' });
          return {
            ...healthyFinding(job.data.host),
            verdict: 'fault',
            causes: [{ id: 'backend_down', title: 'down', confidence: 0.9, evidence: [], remediations: [] }],
          };
        },
        onResult: (job) => void (finished = job),
        onProgress: (_job, value) => void progress.push(value),
      }),
    );
    const { jobId } = await queues.enqueueDiagnosis(request('progress'));
    await waitFor('the job to complete', async () => (await queues.diagnosis.getJob(jobId))?.returnvalue);
    expect(progress).toEqual([
      { done: 1, total: 2, step: 'nginx_error_log' },
      { done: 2, total: 2, step: 'ports' },
    ]);
    const job = await queues.diagnosis.getJob(jobId);
    expect(job?.progress).toEqual({ done: 2, total: 2, step: 'ports' });
    expect(job?.returnvalue).toEqual({ host: 'docs-1', verdict: 'fault', causes: ['backend_down'] });
    expect(finished?.id).toBe(jobId);
  });

  it('runs at most `concurrency` diagnoses at once', async () => {
    const queues = await queuesFor();
    let running = 0;
    let peak = 0;
    let done = 0;
    track(
      new DiagnosisWorker(queues, {
        concurrency: 2,
        diagnose: async (job) => {
          running += 1;
          peak = Math.max(peak, running);
          await sleep(150);
          running -= 1;
          return healthyFinding(job.data.host);
        },
        onResult: () => void (done += 1),
      }),
    );
    for (let index = 0; index < 6; index++) {
      await queues.enqueueDiagnosis(request(`c${index}`, `inc_c${index}`, `docs-${index}`));
    }
    await waitFor('all six', () => done === 6);
    expect(peak).toBe(2);
  });

  it('close() lets a running diagnosis finish', async () => {
    const queues = await queuesFor();
    let started = false;
    let reported = false;
    const worker = new DiagnosisWorker(queues, {
      diagnose: async (job) => {
        started = true;
        await sleep(500);
        return healthyFinding(job.data.host);
      },
      onResult: () => void (reported = true),
    });
    const { jobId } = await queues.enqueueDiagnosis(request('graceful'));
    await waitFor('the diagnosis to start', () => started);
    await worker.close();
    expect(reported).toBe(true);
    expect(await (await queues.diagnosis.getJob(jobId))?.getState()).toBe('completed');
  });

  it('rejects bad requests naming the field, before Redis', async () => {
    const queues = await queuesFor();
    await expect(queues.enqueueDiagnosis({ ...request('ok'), host: 'docs-1; rm -rf /' })).rejects.toThrow(/host/);
    await expect(queues.enqueueDiagnosis({ ...request('has:colon') })).rejects.toBeInstanceOf(InvalidJobDataError);
    await expect(queues.enqueueDiagnosis({ ...request('x'), incidentKey: '' })).rejects.toThrow(/incidentKey/);
    expect(await queues.diagnosis.count()).toBe(0);
  });

  it('fails fast when Redis is unreachable (the HTTP layer answers 503)', async () => {
    const port = await freeLoopbackPort();
    const queues = new OoQueues({ redisUrl: `redis://127.0.0.1:${port}`, prefix: testPrefix(), enqueueTimeoutMs: 1000 });
    cleanups.push(() => queues.close());
    const started = Date.now();
    await expect(queues.enqueueDiagnosis(request('down'))).rejects.toBeInstanceOf(RedisUnavailableError);
    expect(Date.now() - started).toBeLessThan(1000);
    await expect(queues.ready(300)).rejects.toBeInstanceOf(RedisUnavailableError);
  });

  it('fails fast when Redis goes away after start', async () => {
    const own = await startRedisServer();
    const queues = new OoQueues({ redisUrl: own.url, prefix: testPrefix(), enqueueTimeoutMs: 1000 });
    try {
      await queues.ready();
      await queues.enqueueDiagnosis(request('before'));
      await own.stop();
      await waitFor('the client to notice', () => queues.producer.status !== 'ready', { timeoutMs: 5000 });
      const started = Date.now();
      await expect(queues.enqueueDiagnosis(request('after', 'inc_after'))).rejects.toBeInstanceOf(RedisUnavailableError);
      expect(Date.now() - started).toBeLessThan(1000);
    } finally {
      await queues.close();
      await own.stop();
    }
  });
});
