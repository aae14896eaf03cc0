// Pending remediations, kept server-side in Redis. A Slack button carries only the action's opaque id,
// so nothing in a click (which anyone can forge) says what to run or where: the record does. Approval
// and the move to `running` are single Lua scripts, so a double click, two approvers at once or two
// replicas handling the same click still approve once and run once.
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { RISKS, type Risk } from '../diagnosis/vocabulary.js';
import type { Keyspace } from '../queue/keys.js';
import { runScript, type RedisClient } from '../queue/redis.js';

/** 16 random bytes in base64url: 22 characters, the last of which carries only 2 bits. */
export const ACTION_ID_PATTERN = /^[A-Za-z0-9_-]{21}[AQgw]$/;

export function isActionId(value: unknown): value is string {
  return typeof value === 'string' && ACTION_ID_PATTERN.test(value);
}

export class InvalidActionIdError extends Error {
  constructor(value: unknown) {
    const shown = typeof value === 'string' ? JSON.stringify(value.slice(0, 40)) : typeof value;
    super(`invalid action id ${shown}: expected 22 base64url characters (16 random bytes)`);
    this.name = 'InvalidActionIdError';
  }
}

function assertActionId(value: unknown): string {
  if (!isActionId(value)) throw new InvalidActionIdError(value);
  return value;
}

const SAFE_ID = /^[A-Za-z0-9_.-]{1,128}$/;
const USER_ID = /^[A-Za-z0-9_.-]{1,64}$/;
const NO_CONTROL = /^(?:[^\p{Cc}]|[\t\n])*$/u;

export const createActionSchema = z.strictObject({
  incidentKey: z.string().regex(SAFE_ID, { message: 'incidentKey must be 1-128 of A-Z a-z 0-9 _ . -' }),
  host: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,252}$/, { message: 'host must be an inventory host name' }),
  remediationId: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, { message: 'remediationId must be a runbook remediation id' }),
  title: z.string().min(1).max(200).regex(NO_CONTROL, { message: 'title must not contain control characters' }),
  risk: z.enum(RISKS),
  /** Shown in the confirm dialog; the command actually run comes from the runbook again at run time. */
  command: z.string().min(1).max(4000),
  requestedBy: z.string().regex(USER_ID, { message: 'requestedBy must be a user id' }),
  channel: z.string().regex(/^[CDG][A-Z0-9]{2,20}$/, { message: 'channel must be a Slack channel id (C…, G… or D…)' }),
  messageTs: z.string().regex(/^\d{1,12}\.\d{1,8}$/, { message: 'messageTs must be a Slack message ts' }).optional(),
  /** How long the action can be approved. */
  ttlMs: z.number().int().min(1_000).max(7 * 24 * 3600 * 1000),
});
export type CreateActionInput = z.input<typeof createActionSchema>;

export const ACTION_STATUSES = ['pending', 'approved', 'running', 'done', 'cancelled', 'expired'] as const;
export type ActionStatus = (typeof ACTION_STATUSES)[number];

export interface PendingAction {
  id: string;
  incidentKey: string;
  host: string;
  remediationId: string;
  title: string;
  risk: Risk;
  command: string;
  requestedBy: string;
  channel: string;
  messageTs?: string;
  status: ActionStatus;
  approvers: string[];
  createdAt: number;
  expiresAt: number;
  approvedAt?: number;
  claimedAt?: number;
  finishedAt?: number;
  /** What the run ended as (the remediation's status, or `unknown`). */
  result?: string;
}

export type ApproveStatus = 'approved' | 'waiting_second_approver' | 'expired' | 'already_done' | 'not_found';
export interface ApproveResult {
  status: ApproveStatus;
  /** Distinct approvers so far, in the order they approved. */
  approvers: string[];
}

export type ClaimResult = 'claimed' | 'not_approved' | 'already_claimed' | 'expired' | 'not_found';
export type CancelResult = 'cancelled' | 'already_done' | 'expired' | 'not_found';

// ARGV: userId, requiredApprovals, now
const APPROVE = `
if redis.call('EXISTS', KEYS[1]) == 0 then return {'not_found', ''} end
local status = redis.call('HGET', KEYS[1], 'status')
local approvers = redis.call('HGET', KEYS[1], 'approvers') or ''
if status == 'pending' and tonumber(redis.call('HGET', KEYS[1], 'expiresAt')) <= tonumber(ARGV[3]) then
  redis.call('HSET', KEYS[1], 'status', 'expired')
  status = 'expired'
end
if status == 'expired' then return {'expired', approvers} end
if status ~= 'pending' then return {'already_done', approvers} end
local count = 0
local seen = false
for approver in string.gmatch(approvers, '[^,]+') do
  count = count + 1
  if approver == ARGV[1] then seen = true end
end
if not seen then
  if approvers == '' then approvers = ARGV[1] else approvers = approvers .. ',' .. ARGV[1] end
  count = count + 1
  redis.call('HSET', KEYS[1], 'approvers', approvers)
end
if count >= tonumber(ARGV[2]) then
  redis.call('HSET', KEYS[1], 'status', 'approved', 'approvedAt', ARGV[3])
  return {'approved', approvers}
end
return {'waiting_second_approver', approvers}`;

// ARGV: now, retentionMs
const CLAIM = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 'not_found' end
local status = redis.call('HGET', KEYS[1], 'status')
if (status == 'pending' or status == 'approved') and tonumber(redis.call('HGET', KEYS[1], 'expiresAt')) <= tonumber(ARGV[1]) then
  redis.call('HSET', KEYS[1], 'status', 'expired')
  return 'expired'
end
if status == 'approved' then
  redis.call('HSET', KEYS[1], 'status', 'running', 'claimedAt', ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 'claimed'
end
if status == 'pending' then return 'not_approved' end
if status == 'expired' then return 'expired' end
return 'already_claimed'`;

// ARGV: result, now
const FINISH = `
if redis.call('HGET', KEYS[1], 'status') ~= 'running' then return 0 end
redis.call('HSET', KEYS[1], 'status', 'done', 'result', ARGV[1], 'finishedAt', ARGV[2])
return 1`;

// ARGV: userId, now
const CANCEL = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 'not_found' end
local status = redis.call('HGET', KEYS[1], 'status')
if status == 'pending' and tonumber(redis.call('HGET', KEYS[1], 'expiresAt')) <= tonumber(ARGV[2]) then
  redis.call('HSET', KEYS[1], 'status', 'expired')
  return 'expired'
end
if status == 'expired' then return 'expired' end
if status ~= 'pending' and status ~= 'approved' then return 'already_done' end
redis.call('HSET', KEYS[1], 'status', 'cancelled', 'cancelledBy', ARGV[1], 'finishedAt', ARGV[2])
return 'cancelled'`;

// ARGV: messageTs
const ATTACH = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'messageTs', ARGV[1])
return 1`;

export interface PendingActionStoreOptions {
  /** How long a record stays readable after it expired unapproved, so a late click reads "expired". */
  expiredGraceMs?: number;
  /** How long a claimed (running or done) record is kept. Default 30 days. */
  retentionMs?: number;
  now?: () => number;
}

export class PendingActionStore {
  private readonly now: () => number;
  private readonly expiredGraceMs: number;
  private readonly retentionMs: number;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keyspace,
    options: PendingActionStoreOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.expiredGraceMs = options.expiredGraceMs ?? 24 * 3600 * 1000;
    this.retentionMs = options.retentionMs ?? 30 * 24 * 3600 * 1000;
  }

  /** Stores a new pending action and returns its opaque id (the only thing the button carries). */
  async create(input: CreateActionInput): Promise<string> {
    const parsed = createActionSchema.safeParse(input);
    if (!parsed.success) {
      throw new Error(
        `invalid pending action: ${parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ')}`,
      );
    }
    const action = parsed.data;
    const id = randomBytes(16).toString('base64url');
    const createdAt = this.now();
    const fields: Record<string, string> = {
      id,
      incidentKey: action.incidentKey,
      host: action.host,
      remediationId: action.remediationId,
      title: action.title,
      risk: action.risk,
      command: action.command,
      requestedBy: action.requestedBy,
      channel: action.channel,
      status: 'pending',
      approvers: '',
      createdAt: String(createdAt),
      expiresAt: String(createdAt + action.ttlMs),
    };
    if (action.messageTs !== undefined) fields.messageTs = action.messageTs;
    const key = this.keys.action(id);
    const result = await this.redis
      .multi()
      .hset(key, fields)
      .pexpire(key, action.ttlMs + this.expiredGraceMs)
      .exec();
    const failed = result?.find(([error]) => error !== null);
    if (!result || failed) throw new Error(`could not store the pending action: ${failed?.[0]?.message ?? 'transaction aborted'}`);
    return id;
  }

  /** The record as stored; a pending action past its expiry reads as `expired`. Null when unknown. */
  async get(id: string): Promise<PendingAction | null> {
    const fields = await this.redis.hgetall(this.keys.action(assertActionId(id)));
    if (!fields.id) return null;
    const action = toAction(fields);
    if ((action.status === 'pending' || action.status === 'approved') && action.expiresAt <= this.now()) {
      action.status = 'expired';
    }
    return action;
  }

  /** Records `userId`'s approval; `approved` once `requiredApprovals` distinct people approved. */
  async approve(id: string, userId: string, requiredApprovals: number): Promise<ApproveResult> {
    assertActionId(id);
    if (!USER_ID.test(userId)) throw new Error(`invalid approver id ${JSON.stringify(String(userId).slice(0, 40))}`);
    if (!Number.isInteger(requiredApprovals) || requiredApprovals < 1 || requiredApprovals > 10) {
      throw new Error(`requiredApprovals must be an integer from 1 to 10 (got ${requiredApprovals})`);
    }
    const reply = (await runScript(this.redis, APPROVE, [this.keys.action(id)], [userId, requiredApprovals, this.now()])) as [
      string,
      string,
    ];
    return { status: reply[0] as ApproveStatus, approvers: splitApprovers(reply[1]) };
  }

  /** Moves an approved action to `running`: exactly one caller ever gets `claimed`. */
  async claim(id: string): Promise<ClaimResult> {
    assertActionId(id);
    return (await runScript(this.redis, CLAIM, [this.keys.action(id)], [this.now(), this.retentionMs])) as ClaimResult;
  }

  /** Marks a claimed action done with what its run ended as; false when it was not running. */
  async finish(id: string, result: string): Promise<boolean> {
    assertActionId(id);
    const text = String(result).slice(0, 64);
    return Number(await runScript(this.redis, FINISH, [this.keys.action(id)], [text, this.now()])) === 1;
  }

  /** Withdraws a pending or approved (not yet running) action. */
  async cancel(id: string, userId: string): Promise<CancelResult> {
    assertActionId(id);
    if (!USER_ID.test(userId)) throw new Error(`invalid user id ${JSON.stringify(String(userId).slice(0, 40))}`);
    return (await runScript(this.redis, CANCEL, [this.keys.action(id)], [userId, this.now()])) as CancelResult;
  }

  /** Remembers the Slack message that shows the action (posted after the id existed). */
  async attachMessage(id: string, messageTs: string): Promise<boolean> {
    assertActionId(id);
    if (!/^\d{1,12}\.\d{1,8}$/.test(messageTs)) throw new Error(`invalid Slack message ts ${JSON.stringify(messageTs)}`);
    return Number(await runScript(this.redis, ATTACH, [this.keys.action(id)], [messageTs])) === 1;
  }
}

function splitApprovers(text: string | undefined): string[] {
  return (text ?? '').split(',').filter((approver) => approver !== '');
}

function optionalNumber(value: string | undefined): number | undefined {
  return value === undefined || value === '' ? undefined : Number(value);
}

function toAction(fields: Record<string, string>): PendingAction {
  const status = (ACTION_STATUSES as readonly string[]).includes(fields.status ?? '') ? (fields.status as ActionStatus) : 'expired';
  const action: PendingAction = {
    id: fields.id ?? '',
    incidentKey: fields.incidentKey ?? '',
    host: fields.host ?? '',
    remediationId: fields.remediationId ?? '',
    title: fields.title ?? '',
    risk: (RISKS as readonly string[]).includes(fields.risk ?? '') ? (fields.risk as Risk) : 'high',
    command: fields.command ?? '',
    requestedBy: fields.requestedBy ?? '',
    channel: fields.channel ?? '',
    status,
    approvers: splitApprovers(fields.approvers),
    createdAt: Number(fields.createdAt),
    expiresAt: Number(fields.expiresAt),
  };
  if (fields.messageTs) action.messageTs = fields.messageTs;
  const approvedAt = optionalNumber(fields.approvedAt);
  if (approvedAt !== undefined) action.approvedAt = approvedAt;
  const claimedAt = optionalNumber(fields.claimedAt);
  if (claimedAt !== undefined) action.claimedAt = claimedAt;
  const finishedAt = optionalNumber(fields.finishedAt);
  if (finishedAt !== undefined) action.finishedAt = finishedAt;
  if (fields.result) action.result = fields.result;
  return action;
}
