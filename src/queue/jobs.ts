// The two kinds of job and the rules their data must follow, checked before anything reaches Redis
// (producers) and again when a worker picks a job up (the data may have been written by another version).
import { z } from 'zod';
import { ACTION_ID_PATTERN } from '../remediation/actions.js';

/** Ids that become parts of BullMQ job ids and Redis keys: no `:`, no spaces, bounded. */
const SAFE_ID = /^[A-Za-z0-9_.-]{1,128}$/;
const HOST = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,252}$/;
const REMEDIATION_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
// Printable text only: who asked and why end up in Slack messages and logs.
const NO_CONTROL = /^(?:[^\p{Cc}]|[\t\n])*$/u;

const safeId = (what: string) =>
  z.string().regex(SAFE_ID, { message: `${what} must be 1-128 of A-Z a-z 0-9 _ . -` });
const host = z.string().regex(HOST, { message: 'host must be an inventory host name' });
const actor = z
  .string()
  .min(1)
  .max(128)
  .regex(NO_CONTROL, { message: 'must not contain control characters' });

export const diagnosisJobSchema = z.strictObject({
  requestId: safeId('requestId'),
  incidentKey: safeId('incidentKey'),
  host,
  /** A Slack user id, or the alert source (`alertmanager`, `grafana`, …), or `oo-reaper`. */
  requestedBy: actor,
  reason: z.string().max(1000).regex(NO_CONTROL, { message: 'reason must not contain control characters' }),
  /** Set when the diagnosis verifies a remediation whose result is unknown (its worker died). */
  verifiesAction: z.string().regex(ACTION_ID_PATTERN, { message: 'verifiesAction must be an action id' }).optional(),
  /** How many times the job was put back because a remediation held the host. Internal. */
  hostBusyDeferrals: z.number().int().min(0).max(10_000).optional(),
});
export type DiagnosisJobData = z.infer<typeof diagnosisJobSchema>;
export type DiagnosisRequest = Omit<DiagnosisJobData, 'hostBusyDeferrals'>;

export const remediationJobSchema = z.strictObject({
  requestId: safeId('requestId'),
  /** The pending action's id (what the Slack button carried). */
  actionId: z.string().regex(ACTION_ID_PATTERN, { message: 'actionId must be 22 base64url characters' }),
  host,
  remediationId: z.string().regex(REMEDIATION_ID, { message: 'remediationId must be a runbook remediation id' }),
  approvedBy: z.array(actor).min(1, { message: 'approvedBy needs at least one approver' }).max(10),
  /** The incident the action belongs to; the verification diagnosis after an unknown result joins it. */
  incidentKey: safeId('incidentKey').optional(),
});
export type RemediationJobData = z.infer<typeof remediationJobSchema>;

export class InvalidJobDataError extends Error {
  constructor(kind: string, issues: string[]) {
    super(`invalid ${kind} job: ${issues.join('; ')}`);
    this.name = 'InvalidJobDataError';
  }
}

function parseWith<T>(schema: z.ZodType<T>, kind: string, data: unknown): T {
  const result = schema.safeParse(data);
  if (result.success) return result.data;
  throw new InvalidJobDataError(
    kind,
    result.error.issues.map((issue) => `${issue.path.join('.') || '(data)'}: ${issue.message}`),
  );
}

export const parseDiagnosisJob = (data: unknown): DiagnosisJobData => parseWith(diagnosisJobSchema, 'diagnosis', data);
export const parseRemediationJob = (data: unknown): RemediationJobData =>
  parseWith(remediationJobSchema, 'remediation', data);

/** BullMQ ignores custom ids containing `:` or made only of digits; the prefixes rule out the latter. */
export const diagnosisJobId = (requestId: string): string => `d_${requestId}`;
export const remediationJobId = (requestId: string): string => `r_${requestId}`;
/** One diagnosis per incident at a time; a verification has its own slot so it is never swallowed. */
export const diagnosisDedupId = (data: Pick<DiagnosisJobData, 'incidentKey' | 'verifiesAction'>): string =>
  data.verifiesAction !== undefined ? `verify_${data.verifiesAction}` : `incident_${data.incidentKey}`;
export const remediationDedupId = (actionId: string): string => `action_${actionId}`;
