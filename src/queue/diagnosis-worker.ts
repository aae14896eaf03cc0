// Runs diagnosis jobs: read-only, so at-least-once is fine (BullMQ retries with exponential backoff and
// re-delivers stalled jobs). A diagnosis holds its host's lock shared: diagnoses run side by side, but
// never beside a remediation. When a remediation holds the host, the job waits a bounded while, then is
// put back as delayed (not counted as a failed attempt) a bounded number of times.
import { DelayedError, UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Finding } from '../diagnosis/types.js';
import { HostLock } from './host-lock.js';
import { InvalidJobDataError, parseDiagnosisJob, type DiagnosisJobData } from './jobs.js';
import { DIAGNOSIS_QUEUE, type OoQueues } from './queues.js';

export interface DiagnosisProgress {
  done: number;
  total: number;
  /** The step that just finished. */
  step?: string;
}

/** What a finished job keeps in Redis: the verdict, not the (large) step outputs. */
export interface DiagnosisSummary {
  host: string;
  verdict: Finding['verdict'];
  causes: string[];
}

export type DiagnosisJob = Job<DiagnosisJobData, DiagnosisSummary, string>;

export interface DiagnosisWorkerOptions {
  /** Diagnoses the job's host (e.g. diagnoseHost over SSH); `progress` records and reports a step. */
  diagnose(job: DiagnosisJob, progress: (progress: DiagnosisProgress) => Promise<void>): Promise<Finding>;
  /** Receives the finding (e.g. posts it to the incident's thread). A throw fails the attempt. */
  onResult(job: DiagnosisJob, finding: Finding): Promise<void> | void;
  onProgress?(job: DiagnosisJob, progress: DiagnosisProgress): void;
  /** Called once a job has failed for good (all attempts used, or its data was invalid). */
  onFailed?(job: DiagnosisJob | undefined, error: Error): void;
  onError?(error: unknown, context: string): void;
  /** Jobs run at once by this worker. Default 4. */
  concurrency?: number;
  /** How long a job waits for a remediation to free its host before it is put back. Default 15 s. */
  hostLockWaitMs?: number;
  /** How long it is put back for. Default 10 s. */
  hostBusyDelayMs?: number;
  /** How many times it may be put back before the attempt fails. Default 30. */
  maxHostBusyDeferrals?: number;
  /** Host lock lease; renewed while the diagnosis runs. Default 30 s. */
  hostLockTtlMs?: number;
  /** BullMQ job lock duration and stalled-check interval. Defaults 30 s / 30 s. */
  lockDurationMs?: number;
  stalledIntervalMs?: number;
}

export class HostBusyError extends Error {
  constructor(host: string, deferrals: number) {
    super(`host ${host} stayed busy with a remediation (put back ${deferrals} times)`);
    this.name = 'HostBusyError';
  }
}

export class DiagnosisWorker {
  readonly worker: Worker<DiagnosisJobData, DiagnosisSummary, string>;
  private readonly hostLock: HostLock;

  constructor(
    queues: OoQueues,
    private readonly options: DiagnosisWorkerOptions,
  ) {
    const concurrency = options.concurrency ?? 4;
    if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 256) {
      throw new Error(`diagnosis concurrency must be an integer from 1 to 256 (got ${concurrency})`);
    }
    const connection = queues.workerConnection();
    this.hostLock = new HostLock(connection, queues.keys, {
      ttlMs: options.hostLockTtlMs ?? 30_000,
      onError: (error, context) => options.onError?.(error, context),
    });
    this.worker = new Worker<DiagnosisJobData, DiagnosisSummary, string>(
      DIAGNOSIS_QUEUE,
      (job, token) => this.process(job, token),
      {
        connection,
        prefix: queues.keys.bullPrefix,
        concurrency,
        lockDuration: options.lockDurationMs ?? 30_000,
        stalledInterval: options.stalledIntervalMs ?? 30_000,
        autorun: true,
      },
    );
    this.worker.on('error', (error) => options.onError?.(error, 'diagnosis worker'));
    this.worker.on('failed', (job, error) => {
      const final = !job || error instanceof UnrecoverableError || job.attemptsMade >= (job.opts.attempts ?? 1);
      if (final) options.onFailed?.(job, error);
    });
  }

  private async process(job: DiagnosisJob, token: string | undefined): Promise<DiagnosisSummary> {
    let data: DiagnosisJobData;
    try {
      data = parseDiagnosisJob(job.data);
    } catch (error) {
      throw new UnrecoverableError((error as InvalidJobDataError).message);
    }
    const lock = await this.hostLock.acquire(data.host, 'shared', {
      waitMs: this.options.hostLockWaitMs ?? 15_000,
      owner: `diagnosis:${job.id ?? data.requestId}`,
    });
    if (!lock) {
      const deferrals = data.hostBusyDeferrals ?? 0;
      if (deferrals >= (this.options.maxHostBusyDeferrals ?? 30)) throw new HostBusyError(data.host, deferrals);
      await job.updateData({ ...data, hostBusyDeferrals: deferrals + 1 });
      await job.moveToDelayed(Date.now() + (this.options.hostBusyDelayMs ?? 10_000), token);
      throw new DelayedError(`host ${data.host} is busy with a remediation`);
    }
    try {
      const progress = async (value: DiagnosisProgress): Promise<void> => {
        await job.updateProgress({ ...value });
        try {
          this.options.onProgress?.(job, value);
        } catch (error) {
          this.options.onError?.(error, 'diagnosis onProgress');
        }
      };
      const finding = await this.options.diagnose(job, progress);
      await this.options.onResult(job, finding);
      return { host: finding.host, verdict: finding.verdict, causes: finding.causes.map((cause) => cause.id) };
    } finally {
      await lock.release().catch((error: unknown) => this.options.onError?.(error, `releasing the lock on ${data.host}`));
    }
  }

  async waitUntilReady(): Promise<void> {
    await this.worker.waitUntilReady();
  }

  /** Stops taking jobs and waits for the running ones to finish. */
  async close(): Promise<void> {
    await this.worker.close();
  }
}
