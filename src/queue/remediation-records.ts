// The at-most-once record of each remediation: `<prefix>:remediation:<actionId>` is written with
// SET NX (value `running`) BEFORE the command runs, so whatever happens afterwards - a second job for
// the same action, BullMQ re-delivering a stalled job, a second replica - finds the key and never runs
// the command again. While the command runs its worker keeps a short lease alive; a record still
// `running` whose lease has lapsed belongs to a worker that died mid-run: nobody knows what happened on
// the host, so the reaper marks it `unknown` and a verification diagnosis is queued instead of a re-run.
import type { RemediationOutcome, RemediationStatus } from '../remediation/execute.js';
import type { RemediationJobData } from './jobs.js';
import type { Keyspace } from './keys.js';
import { runScript, type RedisClient } from './redis.js';

export type RemediationRecordState = 'running' | 'unknown' | RemediationStatus;

export interface RemediationRecord {
  actionId: string;
  state: RemediationRecordState;
  job?: RemediationJobData;
  owner?: string;
  startedAt?: string;
  finishedAt?: string;
  outcome?: RemediationOutcome;
  /** Why the state is `unknown`: the worker's lease lapsed, or the remediate function threw. */
  unknownReason?: string;
}

// KEYS: state, lease, info, running index. ARGV: owner, leaseMs, retentionMs, job JSON, startedAt, actionId
const BEGIN = `
if not redis.call('SET', KEYS[1], 'running', 'NX', 'PX', ARGV[3]) then
  return redis.call('GET', KEYS[1]) or 'gone'
end
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
redis.call('DEL', KEYS[3])
redis.call('HSET', KEYS[3], 'job', ARGV[4], 'owner', ARGV[1], 'startedAt', ARGV[5])
redis.call('PEXPIRE', KEYS[3], ARGV[3])
redis.call('SADD', KEYS[4], ARGV[6])
return 'started'`;

// KEYS: lease. ARGV: owner, leaseMs
const RENEW = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`;

// KEYS: state, lease, info, running index. ARGV: owner, status, outcome JSON, finishedAt, actionId
// The real outcome wins even over `unknown`: it is better knowledge than the reaper's guess.
const FINISH = `
local previous = redis.call('GET', KEYS[1]) or 'gone'
if previous == 'running' or previous == 'unknown' then redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL') end
redis.call('HSET', KEYS[3], 'outcome', ARGV[3], 'finishedAt', ARGV[4])
if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
redis.call('SREM', KEYS[4], ARGV[5])
return previous`;

// KEYS: state, lease, info, running index, unverified set. ARGV: owner, reason, at, actionId
const ABANDON = `
if redis.call('GET', KEYS[1]) ~= 'running' then return 0 end
redis.call('SET', KEYS[1], 'unknown', 'KEEPTTL')
redis.call('HSET', KEYS[3], 'unknownReason', ARGV[2], 'finishedAt', ARGV[3])
if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
redis.call('SREM', KEYS[4], ARGV[4])
redis.call('SADD', KEYS[5], ARGV[4])
return 1`;

// KEYS: state, lease, info, running index, unverified set. ARGV: actionId, at
const REAP = `
local state = redis.call('GET', KEYS[1])
if state ~= 'running' then
  redis.call('SREM', KEYS[4], ARGV[1])
  return 0
end
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
redis.call('SET', KEYS[1], 'unknown', 'KEEPTTL')
redis.call('HSET', KEYS[3], 'unknownReason', 'the worker stopped while the remediation was running', 'finishedAt', ARGV[2])
redis.call('SREM', KEYS[4], ARGV[1])
redis.call('SADD', KEYS[5], ARGV[1])
return 1`;

export interface RemediationRecordsOptions {
  /** How long a worker's claim on a running record lasts without renewal. Default 30 s. */
  leaseMs?: number;
  /** How long records are kept (and so how long an action id stays unrunnable). Default 30 days. */
  retentionMs?: number;
}

export class RemediationRecords {
  readonly leaseMs: number;
  readonly retentionMs: number;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keyspace,
    options: RemediationRecordsOptions = {},
  ) {
    this.leaseMs = options.leaseMs ?? 30_000;
    this.retentionMs = options.retentionMs ?? 30 * 24 * 3600 * 1000;
    if (!Number.isInteger(this.leaseMs) || this.leaseMs < 100) throw new Error('remediation leaseMs must be an integer >= 100');
  }

  private allKeys(actionId: string): string[] {
    return [
      this.keys.remediation(actionId),
      this.keys.remediationLease(actionId),
      this.keys.remediationInfo(actionId),
      this.keys.runningRemediations,
      this.keys.unverifiedRemediations,
    ];
  }

  async state(actionId: string): Promise<RemediationRecordState | null> {
    return (await this.redis.get(this.keys.remediation(actionId))) as RemediationRecordState | null;
  }

  async get(actionId: string): Promise<RemediationRecord | null> {
    const [state, info] = await Promise.all([
      this.redis.get(this.keys.remediation(actionId)),
      this.redis.hgetall(this.keys.remediationInfo(actionId)),
    ]);
    if (state === null) return null;
    const record: RemediationRecord = { actionId, state: state as RemediationRecordState };
    if (info.job) record.job = JSON.parse(info.job) as RemediationJobData;
    if (info.owner) record.owner = info.owner;
    if (info.startedAt) record.startedAt = info.startedAt;
    if (info.finishedAt) record.finishedAt = info.finishedAt;
    if (info.outcome) record.outcome = JSON.parse(info.outcome) as RemediationOutcome;
    if (info.unknownReason) record.unknownReason = info.unknownReason;
    return record;
  }

  /** Writes `running` if no record exists; otherwise reports the state that blocks the run. */
  async begin(
    job: RemediationJobData,
    owner: string,
  ): Promise<{ started: true } | { started: false; state: RemediationRecordState | 'gone' }> {
    const reply = String(
      await runScript(this.redis, BEGIN, this.allKeys(job.actionId).slice(0, 4), [
        owner,
        this.leaseMs,
        this.retentionMs,
        JSON.stringify(job),
        new Date().toISOString(),
        job.actionId,
      ]),
    );
    return reply === 'started' ? { started: true } : { started: false, state: reply as RemediationRecordState };
  }

  /** Extends the running worker's lease; false when it lapsed (the reaper may have taken over). */
  async renewLease(actionId: string, owner: string): Promise<boolean> {
    return Number(await runScript(this.redis, RENEW, [this.keys.remediationLease(actionId)], [owner, this.leaseMs])) === 1;
  }

  /** Stores the outcome; returns the state it replaced (`unknown` when the reaper got there first). */
  async finish(actionId: string, owner: string, outcome: RemediationOutcome): Promise<string> {
    return String(
      await runScript(this.redis, FINISH, this.allKeys(actionId).slice(0, 4), [
        owner,
        outcome.status,
        JSON.stringify(outcome),
        new Date().toISOString(),
        actionId,
      ]),
    );
  }

  /** The run ended without an outcome (the remediate function threw): `running` → `unknown`. */
  async abandon(actionId: string, owner: string, reason: string): Promise<boolean> {
    const args = [owner, reason.slice(0, 1000), new Date().toISOString(), actionId];
    return Number(await runScript(this.redis, ABANDON, this.allKeys(actionId), args)) === 1;
  }

  /**
   * Marks `unknown` every running record whose worker's lease has lapsed; returns their action ids.
   * Safe to run from every replica at once: each record is taken over by one of them.
   */
  async reap(limit = 1000): Promise<string[]> {
    const reaped: string[] = [];
    let cursor = '0';
    let seen = 0;
    do {
      const [next, members] = await this.redis.sscan(this.keys.runningRemediations, cursor, 'COUNT', 100);
      cursor = next;
      for (const actionId of members) {
        if (seen++ >= limit) return reaped;
        const args = [actionId, new Date().toISOString()];
        if (Number(await runScript(this.redis, REAP, this.allKeys(actionId), args)) === 1) reaped.push(actionId);
      }
    } while (cursor !== '0');
    return reaped;
  }

  /** Action ids whose result is unknown and whose verification is not queued yet. */
  async unverified(limit = 100): Promise<string[]> {
    return this.redis.srandmember(this.keys.unverifiedRemediations, limit);
  }

  async markVerificationQueued(actionId: string): Promise<void> {
    await this.redis.srem(this.keys.unverifiedRemediations, actionId);
  }
}
