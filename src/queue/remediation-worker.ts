// Runs approved remediations at most once. Three layers make sure a command never runs twice:
// BullMQ never retries (`attempts: 1`) nor re-delivers a stalled job (`maxStalledCount: 0`,
// `maxStartedAttempts: 1`), and before the command runs its record is written with SET NX, which any
// later job for the same action finds. A worker that dies mid-run leaves the record `running` with a
// lapsed lease; the reaper (at start, periodically, and on BullMQ's stalled/failed events) marks it
// `unknown` and queues a verification diagnosis of the host instead.
import { randomBytes } from 'node:crypto';
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import type { RemediationOutcome } from '../remediation/execute.js';
import { HostLock } from './host-lock.js';
import { parseRemediationJob, type RemediationJobData } from './jobs.js';
import { REMEDIATION_QUEUE, type OoQueues } from './queues.js';
import { RemediationRecords, type RemediationRecordState } from './remediation-records.js';

export type RemediationJob = Job<RemediationJobData, RemediationJobSummary, string>;

/** A job, or the stored data of one whose worker died (the reaper has no BullMQ job in hand). */
export interface RemediationJobRef {
  id?: string | undefined;
  data: RemediationJobData;
}

export interface UnknownReport {
  status: 'unknown';
  actionId: string;
  host: string;
  reason: string;
  /** The diagnosis queued to find out what state the host is in. */
  verificationJobId: string;
}

export interface RefusedReport {
  status: 'refused';
  actionId: string;
  host: string;
  /** `already_ran`: the action has a record (ran, runs, or its result is unknown). */
  reason: 'already_ran' | 'host_busy';
  state?: RemediationRecordState | 'gone';
}

export type RemediationReport = RemediationOutcome | UnknownReport | RefusedReport;

/** What the finished BullMQ job keeps. */
export interface RemediationJobSummary {
  status: RemediationReport['status'];
}

export interface RemediationWorkerOptions {
  /** Runs the remediation once (e.g. executeRemediation over SSH). */
  remediate(job: RemediationJob): Promise<RemediationOutcome>;
  /** Receives every result: the outcome, `unknown` (verification queued) or `refused`. */
  onOutcome(job: RemediationJobRef, report: RemediationReport): Promise<void> | void;
  onError?(error: unknown, context: string): void;
  /** Jobs run at once by this worker (different hosts; one host runs one at a time). Default 4. */
  concurrency?: number;
  /** How long a job waits for its host to be free before it is refused. Default 60 s. */
  hostLockWaitMs?: number;
  /** Host lock lease, renewed while the remediation runs. Default 30 s. */
  hostLockTtlMs?: number;
  /** A running record's lease: a dead worker's run turns `unknown` this long after it died. Default 30 s. */
  leaseMs?: number;
  /** How long records are kept. Default 30 days. */
  retentionMs?: number;
  /** Periodic reaper interval. Default 30 s. */
  reapEveryMs?: number;
  /** BullMQ job lock duration and stalled-check interval. Defaults 30 s / 30 s. */
  lockDurationMs?: number;
  stalledIntervalMs?: number;
}

export class RemediationWorker {
  readonly worker: Worker<RemediationJobData, RemediationJobSummary, string>;
  readonly records: RemediationRecords;
  private readonly hostLock: HostLock;
  private readonly id = randomBytes(6).toString('hex');
  private reaping: Promise<string[]> | undefined;
  private reapAgain = false;
  private readonly reapTimer: NodeJS.Timeout;
  private followUpTimer: NodeJS.Timeout | undefined;
  private readonly firstReap: Promise<string[]>;
  private closing = false;

  constructor(
    private readonly queues: OoQueues,
    private readonly options: RemediationWorkerOptions,
  ) {
    const concurrency = options.concurrency ?? 4;
    if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) {
      throw new Error(`remediation concurrency must be an integer from 1 to 64 (got ${concurrency})`);
    }
    const connection = queues.workerConnection();
    this.records = new RemediationRecords(connection, queues.keys, {
      ...(options.leaseMs !== undefined ? { leaseMs: options.leaseMs } : {}),
      ...(options.retentionMs !== undefined ? { retentionMs: options.retentionMs } : {}),
    });
    this.hostLock = new HostLock(connection, queues.keys, {
      ttlMs: options.hostLockTtlMs ?? 30_000,
      onLost: (lock) => options.onError?.(new Error(`lost the lock on ${lock.host} while remediating`), 'host lock'),
      onError: (error, context) => options.onError?.(error, context),
    });
    this.worker = new Worker<RemediationJobData, RemediationJobSummary, string>(
      REMEDIATION_QUEUE,
      (job) => this.process(job),
      {
        connection,
        prefix: queues.keys.bullPrefix,
        concurrency,
        maxStalledCount: 0,
        maxStartedAttempts: 1,
        lockDuration: options.lockDurationMs ?? 30_000,
        stalledInterval: options.stalledIntervalMs ?? 30_000,
        autorun: true,
      },
    );
    this.worker.on('error', (error) => options.onError?.(error, 'remediation worker'));
    // A stalled remediation job is never run again; its record tells what to do (see reapSoon).
    this.worker.on('stalled', () => this.reapSoon());
    this.worker.on('failed', () => this.reapSoon());
    this.firstReap = this.reap();
    this.reapTimer = setInterval(() => void this.reap(), options.reapEveryMs ?? 30_000);
    this.reapTimer.unref();
  }

  /** Resolves once the worker listens and the start-up reap has run. */
  async ready(): Promise<void> {
    await this.worker.waitUntilReady();
    await this.firstReap;
  }

  private refuse(job: RemediationJob, data: RemediationJobData, reason: RefusedReport['reason'], state?: RefusedReport['state']) {
    const report: RefusedReport = { status: 'refused', actionId: data.actionId, host: data.host, reason };
    if (state !== undefined) report.state = state;
    return this.report(job, report);
  }

  private async report(job: RemediationJobRef, report: RemediationReport): Promise<RemediationJobSummary> {
    try {
      await this.options.onOutcome(job, report);
    } catch (error) {
      // The remediation is over either way; a failed notification must not fail (or retry) it.
      this.options.onError?.(error, `onOutcome for action ${job.data.actionId}`);
    }
    return { status: report.status };
  }

  private async process(job: RemediationJob): Promise<RemediationJobSummary> {
    let data: RemediationJobData;
    try {
      data = parseRemediationJob(job.data);
    } catch (error) {
      throw new UnrecoverableError((error as Error).message);
    }
    const existing = await this.records.state(data.actionId);
    if (existing !== null) return this.refuse(job, data, 'already_ran', existing);

    const lock = await this.hostLock.acquire(data.host, 'exclusive', {
      waitMs: this.options.hostLockWaitMs ?? 60_000,
      owner: `remediation:${data.actionId}`,
    });
    if (!lock) return this.refuse(job, data, 'host_busy');
    try {
      const owner = `${this.id}:${job.id ?? data.requestId}`;
      const begun = await this.records.begin(data, owner);
      if (!begun.started) return this.refuse(job, data, 'already_ran', begun.state);

      const leaseTimer = setInterval(() => {
        this.records.renewLease(data.actionId, owner).then(
          (renewed) => {
            if (!renewed) this.options.onError?.(new Error(`the lease on action ${data.actionId} lapsed while it ran`), 'lease');
          },
          (error: unknown) => this.options.onError?.(error, `renewing the lease on action ${data.actionId}`),
        );
      }, Math.max(50, Math.floor(this.records.leaseMs / 3)));
      leaseTimer.unref();

      let outcome: RemediationOutcome;
      try {
        outcome = await this.options.remediate(job);
      } catch (error) {
        clearInterval(leaseTimer);
        // Something may or may not have changed on the host: find out by diagnosing, never by re-running.
        await this.records.abandon(data.actionId, owner, `the remediation failed without an outcome: ${(error as Error).message}`);
        await this.reap();
        return { status: 'unknown' };
      }
      clearInterval(leaseTimer);
      await this.records.finish(data.actionId, owner, outcome);
      return this.report(job, outcome);
    } finally {
      await lock.release().catch((error: unknown) => this.options.onError?.(error, `releasing the lock on ${data.host}`));
    }
  }

  /**
   * Marks runs of dead workers `unknown` and queues a verification diagnosis for each unknown run
   * (then reports it through onOutcome). Single-flight per worker; safe across replicas.
   */
  reap(): Promise<string[]> {
    if (this.reaping) {
      this.reapAgain = true;
      return this.reaping;
    }
    this.reaping = (async () => {
      const reaped: string[] = [];
      try {
        for (let round = 0; round < 3; round++) {
          this.reapAgain = false;
          reaped.push(...(await this.records.reap()));
          await this.verifyUnknown();
          if (!this.reapAgain) break;
        }
      } catch (error) {
        this.options.onError?.(error, 'reaping remediations');
      } finally {
        this.reaping = undefined;
      }
      return reaped;
    })();
    return this.reaping;
  }

  /** Reaps now and once more after a lease has had time to lapse (the dead worker's last renewal). */
  private reapSoon(): void {
    if (this.closing) return;
    void this.reap();
    if (this.followUpTimer) return;
    this.followUpTimer = setTimeout(() => {
      this.followUpTimer = undefined;
      if (!this.closing) void this.reap();
    }, this.records.leaseMs + 250);
    this.followUpTimer.unref();
  }

  private async verifyUnknown(): Promise<void> {
    for (const actionId of await this.records.unverified(100)) {
      const record = await this.records.get(actionId);
      if (!record?.job) {
        // The record expired: nothing left to verify against.
        await this.records.markVerificationQueued(actionId);
        continue;
      }
      const job = record.job;
      const verification = await this.queues.enqueueDiagnosis({
        requestId: `verify-${actionId}`,
        incidentKey: job.incidentKey ?? `action-${actionId}`,
        host: job.host,
        requestedBy: 'oo-reaper',
        reason: `verify ${job.host} after remediation ${job.remediationId} ended with an unknown result`,
        verifiesAction: actionId,
      });
      await this.report(
        { data: job },
        {
          status: 'unknown',
          actionId,
          host: job.host,
          reason: record.unknownReason ?? 'unknown',
          verificationJobId: verification.jobId,
        },
      );
      await this.records.markVerificationQueued(actionId);
    }
  }

  /** Stops taking jobs, lets running remediations finish, then stops the reaper. */
  async close(): Promise<void> {
    await this.worker.close();
    this.closing = true;
    clearInterval(this.reapTimer);
    if (this.followUpTimer) clearTimeout(this.followUpTimer);
    await this.reaping;
  }
}
