// The two BullMQ queues and the Redis connections behind them. Producers use a fail-fast client: when
// Redis is away, enqueue* rejects with RedisUnavailableError at once and the HTTP layer answers 503.
// Workers share one client that waits for Redis instead (maxRetriesPerRequest: null).
import { Queue, type JobsOptions, type KeepJobs } from 'bullmq';
import type { RedisOptions } from 'ioredis';
import {
  diagnosisDedupId,
  diagnosisJobId,
  parseDiagnosisJob,
  parseRemediationJob,
  remediationDedupId,
  remediationJobId,
  type DiagnosisJobData,
  type DiagnosisRequest,
  type RemediationJobData,
} from './jobs.js';
import { isHashTagPrefix, keyspace, type Keyspace } from './keys.js';
import { createRedisClient, RedisUnavailableError, waitForReady, withTimeout, type RedisClient, type RedisConnection } from './redis.js';

export const DIAGNOSIS_QUEUE = 'diagnosis';
export const REMEDIATION_QUEUE = 'remediation';

export interface OoQueuesOptions {
  /** `redis://…` or `rediss://…` (REDIS_URL): one server. */
  redisUrl?: string;
  /** One server, Sentinel or Cluster (app/settings.ts); wins over redisUrl. */
  redis?: RedisConnection;
  /** Extra ioredis options (a connection name…); the role settings above always win. */
  redisOptions?: RedisOptions;
  /** Key prefix for everything oo-responder stores; `{oo}` (a hash tag) for Redis Cluster. Default `oo`. */
  prefix?: string;
  diagnosis?: {
    /** Tries per diagnosis, the first included. Default 3. */
    attempts?: number;
    /** First retry delay; doubles on each retry. Default 2 s. */
    backoffMs?: number;
    removeOnComplete?: KeepJobs;
    removeOnFail?: KeepJobs;
  };
  remediation?: {
    removeOnComplete?: KeepJobs;
    removeOnFail?: KeepJobs;
  };
  /** How long an enqueue may take before it counts as Redis being unavailable. Default 5 s. */
  enqueueTimeoutMs?: number;
  onError?: (error: unknown, context: string) => void;
}

export interface EnqueueResult {
  jobId: string;
  /** True when an equivalent job was already waiting or running and this request joined it. */
  deduplicated: boolean;
}

export class OoQueues {
  readonly keys: Keyspace;
  /** Fail-fast client (no offline queue): for request paths such as Slack clicks and webhooks. */
  readonly producer: RedisClient;
  readonly diagnosis: Queue<DiagnosisJobData, unknown, string>;
  readonly remediation: Queue<RemediationJobData, unknown, string>;
  private workerClient: RedisClient | undefined;
  private readonly connection: RedisConnection | string;
  private closed = false;
  private readonly diagnosisDefaults: JobsOptions;
  private readonly remediationDefaults: JobsOptions;
  private readonly enqueueTimeoutMs: number;

  constructor(private readonly options: OoQueuesOptions) {
    this.keys = keyspace(options.prefix ?? 'oo');
    const connection = options.redis ?? options.redisUrl;
    if (connection === undefined) throw new Error('OoQueues needs redis (a connection) or redisUrl');
    if (typeof connection !== 'string' && connection.mode === 'cluster' && !isHashTagPrefix(this.keys.prefix)) {
      throw new Error(`Redis Cluster needs a hash-tag key prefix such as "{oo}" (got ${JSON.stringify(this.keys.prefix)})`);
    }
    this.connection = connection;
    this.producer = createRedisClient(connection, 'producer', options.redisOptions);
    this.producer.on('error', (error) => options.onError?.(error, 'redis producer connection'));
    const queueOptions = { connection: this.producer, prefix: this.keys.bullPrefix };
    this.diagnosis = new Queue<DiagnosisJobData, unknown, string>(DIAGNOSIS_QUEUE, queueOptions);
    this.remediation = new Queue<RemediationJobData, unknown, string>(REMEDIATION_QUEUE, queueOptions);
    for (const queue of [this.diagnosis, this.remediation]) {
      queue.on('error', (error) => options.onError?.(error, `queue ${queue.name}`));
    }
    const attempts = options.diagnosis?.attempts ?? 3;
    if (!Number.isInteger(attempts) || attempts < 1 || attempts > 20) {
      throw new Error(`diagnosis.attempts must be an integer from 1 to 20 (got ${attempts})`);
    }
    this.diagnosisDefaults = {
      attempts,
      backoff: { type: 'exponential', delay: options.diagnosis?.backoffMs ?? 2_000 },
      removeOnComplete: options.diagnosis?.removeOnComplete ?? { age: 24 * 3600, count: 1000 },
      removeOnFail: options.diagnosis?.removeOnFail ?? { age: 7 * 24 * 3600, count: 5000 },
    };
    this.remediationDefaults = {
      // At most once: BullMQ must never retry a remediation; the records make re-delivery harmless.
      attempts: 1,
      removeOnComplete: options.remediation?.removeOnComplete ?? { age: 7 * 24 * 3600, count: 1000 },
      removeOnFail: options.remediation?.removeOnFail ?? { age: 30 * 24 * 3600, count: 5000 },
    };
    this.enqueueTimeoutMs = options.enqueueTimeoutMs ?? 5_000;
  }

  /** Waits until Redis answers and the queues are set up (bounded). */
  async ready(timeoutMs = 10_000): Promise<void> {
    await waitForReady(this.producer, timeoutMs);
    await withTimeout(
      Promise.all([this.diagnosis.waitUntilReady(), this.remediation.waitUntilReady()]),
      timeoutMs,
      'setting up the queues',
    );
  }

  /** The shared worker client (created on first use). */
  workerConnection(): RedisClient {
    if (this.closed) throw new Error('the queues are closed');
    if (!this.workerClient) {
      this.workerClient = createRedisClient(this.connection, 'worker', this.options.redisOptions);
      this.workerClient.on('error', (error) => this.options.onError?.(error, 'redis worker connection'));
    }
    return this.workerClient;
  }

  private async add(name: string, jobId: string, add: () => Promise<{ id?: string | undefined }>): Promise<EnqueueResult> {
    if (this.closed) throw new RedisUnavailableError('the queues are closed');
    if (this.producer.status !== 'ready') throw new RedisUnavailableError(`Redis is not connected (${this.producer.status})`);
    try {
      const job = await withTimeout(add(), this.enqueueTimeoutMs, `adding a ${name} job`);
      const id = job.id ?? jobId;
      return { jobId: id, deduplicated: id !== jobId };
    } catch (error) {
      if (error instanceof RedisUnavailableError) throw error;
      throw new RedisUnavailableError(`could not add the ${name} job: ${(error as Error).message}`, { cause: error });
    }
  }

  /**
   * Queues a diagnosis. While one for the same incident waits, retries or runs, a new request joins it
   * (`deduplicated: true`, the existing job's id) instead of diagnosing the host twice.
   */
  async enqueueDiagnosis(request: DiagnosisRequest, options: { delayMs?: number } = {}): Promise<EnqueueResult> {
    const data = parseDiagnosisJob(request);
    const jobId = diagnosisJobId(data.requestId);
    const opts: JobsOptions = {
      ...this.diagnosisDefaults,
      jobId,
      deduplication: { id: diagnosisDedupId(data) },
      ...(options.delayMs !== undefined ? { delay: Math.max(0, Math.floor(options.delayMs)) } : {}),
    };
    return this.add(DIAGNOSIS_QUEUE, jobId, () => this.diagnosis.add(DIAGNOSIS_QUEUE, data, opts));
  }

  /**
   * Queues an approved remediation. Enqueueing the same action twice while the first job exists yields
   * that job; after it finished, the new job finds the action's record and does not run again.
   */
  async enqueueRemediation(request: RemediationJobData): Promise<EnqueueResult> {
    const data = parseRemediationJob(request);
    const jobId = remediationJobId(data.requestId);
    const opts: JobsOptions = { ...this.remediationDefaults, jobId, deduplication: { id: remediationDedupId(data.actionId) } };
    return this.add(REMEDIATION_QUEUE, jobId, () => this.remediation.add(REMEDIATION_QUEUE, data, opts));
  }

  /** Closes the queues and the connections this object made (call after closing the workers). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled([this.diagnosis.close(), this.remediation.close()]);
    for (const client of [this.producer, this.workerClient]) {
      if (!client || client.status === 'end') continue;
      try {
        await withTimeout(client.quit().then(() => undefined), 2_000, 'closing a Redis connection');
      } catch {
        client.disconnect();
      }
    }
  }
}
