// Who may approve which remediation, where. Pure: the caller looks up the clicker's user groups and the
// action's prior approvals, and asks at click time (the Slack confirm dialog is a UI guard only).
import { z } from 'zod';
import { RISKS, type Risk } from '../diagnosis/vocabulary.js';

/** Slack user ids (`U…`, Enterprise Grid `W…`) and user-group ids (`S…`). */
const APPROVER = /^[UWS][A-Z0-9]{2,20}$/;
const CHANNEL = /^[CG][A-Z0-9]{2,20}$/;

const approverList = z
  .array(z.string().regex(APPROVER, { message: 'must be a Slack user id (U…/W…) or user-group id (S…)' }))
  .default([]);

/** The `policy:` section of oo.yaml. */
export const policySchema = z
  .strictObject({
    /** Who may approve a remediation of each risk. Lists are independent: repeat ids to allow more. */
    approvers: z.strictObject({ low: approverList, medium: approverList, high: approverList }),
    /** Channels the bot acts in; clicks from anywhere else are refused. */
    channels: z
      .array(z.string().regex(CHANNEL, { message: 'must be a Slack channel id (C… or G…)' }))
      .min(1, { message: 'name at least one channel the bot acts in' }),
    highRisk: z
      .strictObject({
        /** A high-risk remediation runs only after two different people approved it. */
        secondApprover: z.boolean().default(true),
        /** Whether the person who asked for a high-risk remediation may approve it themselves. */
        allowSelfApproval: z.boolean().default(false),
      })
      .prefault({}),
  })
  .superRefine((policy, ctx) => {
    const high = policy.approvers.high;
    const people = new Set(high.filter((id) => !id.startsWith('S')));
    const groups = high.filter((id) => id.startsWith('S'));
    if (policy.highRisk.secondApprover && groups.length === 0 && people.size < 2) {
      ctx.addIssue({
        code: 'custom',
        path: ['approvers', 'high'],
        message: 'highRisk.secondApprover needs at least two different high-risk approvers (or a user group)',
      });
    }
  });

export type PolicyConfig = z.output<typeof policySchema>;
export type PolicyConfigInput = z.input<typeof policySchema>;

export class PolicyConfigError extends Error {
  constructor(readonly issues: string[]) {
    super(`invalid policy: ${issues.join('; ')}`);
    this.name = 'PolicyConfigError';
  }
}

/** Validates the `policy:` section; errors name the field (`policy.approvers.high.0: …`). */
export function parsePolicy(input: unknown): PolicyConfig {
  const result = policySchema.safeParse(input);
  if (result.success) return result.data;
  throw new PolicyConfigError(result.error.issues.map((issue) => `${['policy', ...issue.path].join('.')}: ${issue.message}`));
}

/** Approvals a remediation of this risk needs before it runs. */
export function requiredApprovals(policy: PolicyConfig, risk: Risk): number {
  return risk === 'high' && policy.highRisk.secondApprover ? 2 : 1;
}

export type RefusalCode = 'channel_not_allowed' | 'not_an_approver' | 'self_approval' | 'already_approved';

export interface AuthorizeInput {
  policy: PolicyConfig;
  risk: Risk;
  /** The Slack user who clicked Approve. */
  clickerId: string;
  /** The user groups (`S…`) the clicker belongs to. */
  clickerGroups: readonly string[];
  /** Who asked for the remediation. */
  requesterId: string;
  /** Who approved it before this click. */
  priorApprovers: readonly string[];
  /** Where the click came from. */
  channelId: string;
}

export type AuthorizeResult =
  | { allowed: true; /** Approvals still needed after this one (0: it may run now). */ needsMore: number }
  | { allowed: false; code: RefusalCode; reason: string };

export function authorize(input: AuthorizeInput): AuthorizeResult {
  const { policy, risk, clickerId } = input;
  if (!(RISKS as readonly string[]).includes(risk)) {
    throw new Error(`unknown risk ${JSON.stringify(risk)}: expected ${RISKS.join(', ')}`);
  }
  if (!policy.channels.includes(input.channelId)) {
    return { allowed: false, code: 'channel_not_allowed', reason: `the bot does not act in channel ${input.channelId}` };
  }
  const allowed = policy.approvers[risk];
  const isApprover =
    allowed.includes(clickerId) || input.clickerGroups.some((group) => group.startsWith('S') && allowed.includes(group));
  if (!isApprover) {
    return { allowed: false, code: 'not_an_approver', reason: `<@${clickerId}> is not an approver for ${risk}-risk remediations` };
  }
  if (risk === 'high' && !policy.highRisk.allowSelfApproval && clickerId === input.requesterId) {
    return {
      allowed: false,
      code: 'self_approval',
      reason: 'a high-risk remediation must be approved by someone other than the person who requested it',
    };
  }
  if (input.priorApprovers.includes(clickerId)) {
    return { allowed: false, code: 'already_approved', reason: 'you already approved this remediation' };
  }
  const approvals = new Set([...input.priorApprovers, clickerId]).size;
  return { allowed: true, needsMore: Math.max(0, requiredApprovals(policy, risk) - approvals) };
}
