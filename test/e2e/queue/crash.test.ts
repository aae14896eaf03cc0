// A worker process SIGKILLed in the middle of a remediation: nothing may run the command again; the
// action turns `unknown` and a verification diagnosis of the host is queued instead.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OoQueues } from '../../../src/queue/queues.js';
import { RemediationWorker, type RemediationReport } from '../../../src/queue/remediation-worker.js';
import { newActionId, plainClient, startRedisServer, testPrefix, verifiedOutcome, waitFor, type TestRedisServer } from './helpers.js';

const here = dirname(fileURLToPath(import.meta.url));
let server: TestRedisServer;
let redis: Redis;
let buildDir: string;
let childScript: string;
let child: ChildProcess | undefined;

beforeAll(async () => {
  server = await startRedisServer();
  redis = plainClient(server);
  // Node 20 cannot run TypeScript: bundle our sources into one module. Packages stay external and must
  // resolve from the project's node_modules, hence a folder under node_modules/.cache (ignored by git
  // and eslint even if a crashed run leaves it behind).
  const cacheDir = join(here, '..', '..', '..', 'node_modules', '.cache');
  mkdirSync(cacheDir, { recursive: true });
  buildDir = mkdtempSync(join(cacheDir, 'oo-queue-crash-'));
  childScript = join(buildDir, 'remediation-child.mjs');
  await build({
    entryPoints: [join(here, 'fixtures', 'remediation-child.ts')],
    outfile: childScript,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    logLevel: 'silent',
  });
});

afterAll(async () => {
  if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  redis?.disconnect();
  await server?.stop();
  if (buildDir) rmSync(buildDir, { recursive: true, force: true });
});

function startChild(env: Record<string, string>): { process: ChildProcess; output: () => string } {
  let output = '';
  const started = spawn(process.execPath, [childScript], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  started.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  started.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  return { process: started, output: () => output };
}

describe('a remediation worker killed mid-run', () => {
  it('leaves the action unknown, queues a verification, and never runs it again', async () => {
    const prefix = testPrefix();
    const counterKey = `${prefix}:test:calls`;
    const queues = new OoQueues({ redisUrl: server.url, prefix });
    await queues.ready();
    try {
      const started = startChild({ OO_TEST_REDIS_URL: server.url, OO_TEST_PREFIX: prefix, OO_TEST_COUNTER_KEY: counterKey });
      child = started.process;
      await waitFor('the child worker to be ready', () => started.output().includes('READY'), { timeoutMs: 20_000 });

      const actionId = newActionId();
      const job = {
        requestId: 'approved-click',
        actionId,
        host: 'docs-1',
        remediationId: 'restart_docservice',
        approvedBy: ['U0AAA'],
        incidentKey: 'inc_crash',
      };
      const { jobId } = await queues.enqueueRemediation(job);
      await waitFor('remediate() to start in the child', () => started.output().includes(`STARTED ${actionId}`));
      expect(Number(await redis.get(counterKey))).toBe(1);
      expect(await redis.get(queues.keys.remediation(actionId))).toBe('running');

      child.kill('SIGKILL');
      await waitFor('the child to exit', () => child!.signalCode === 'SIGKILL', { timeoutMs: 5000 });

      // A surviving worker (here, a fresh one) takes over: same settings as the dead one.
      const reports: RemediationReport[] = [];
      const survivor = new RemediationWorker(queues, {
        leaseMs: 1000,
        lockDurationMs: 1500,
        stalledIntervalMs: 500,
        reapEveryMs: 500,
        remediate: async (j) => {
          await redis.incr(counterKey);
          return verifiedOutcome(j.data.host);
        },
        onOutcome: (_j, report) => void reports.push(report),
      });
      try {
        await survivor.ready();
        await waitFor('the action to become unknown', async () => (await survivor.records.state(actionId)) === 'unknown', {
          timeoutMs: 15_000,
        });
        const unknown = await waitFor('the unknown report', () => reports.find((report) => report.status === 'unknown'));
        expect(unknown).toMatchObject({ status: 'unknown', actionId, host: 'docs-1' });

        const verification = await waitFor('the verification diagnosis', () => queues.diagnosis.getJob(`d_verify-${actionId}`));
        expect(verification.data).toMatchObject({ host: 'docs-1', incidentKey: 'inc_crash', verifiesAction: actionId });
        expect(unknown).toMatchObject({ verificationJobId: verification.id });

        // BullMQ saw the job stall and, with maxStalledCount 0, failed it rather than re-running it.
        await waitFor(
          'the stalled job to fail',
          async () => (await (await queues.remediation.getJob(jobId))?.getState()) === 'failed',
          { timeoutMs: 15_000 },
        );
        const failedJob = await queues.remediation.getJob(jobId);
        expect(failedJob?.failedReason).toMatch(/stalled|started more than/);

        // Asking again does not run it either.
        await queues.enqueueRemediation({ ...job, requestId: 'clicked-again' });
        await waitFor('the refusal', () => reports.find((report) => report.status === 'refused'));
        expect(reports.find((report) => report.status === 'refused')).toMatchObject({ reason: 'already_ran', state: 'unknown' });

        // Give the reaper a few more rounds: still exactly one verification and one call.
        await new Promise((resolve) => setTimeout(resolve, 1500));
        expect(reports.filter((report) => report.status === 'unknown')).toHaveLength(1);
        expect(Number(await redis.get(counterKey))).toBe(1);
        expect(await redis.scard(queues.keys.runningRemediations)).toBe(0);
        expect(await redis.scard(queues.keys.unverifiedRemediations)).toBe(0);
      } finally {
        await survivor.close();
      }
    } finally {
      await queues.close();
    }
  });
});
