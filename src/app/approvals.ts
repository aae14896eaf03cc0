// A click on a remediation button. Nothing in the click is trusted but the clicker's id (Slack signed the
// request): what would run and where comes from the pending action stored server-side. The clicker's
// rights are checked now, at click time, against the policy and their user groups as Slack reports
// them; the action is approved and claimed in single Lua scripts, so a double click, two approvers at
// once or two replicas handling the same click queue the remediation once. Every refusal says why.
import { randomBytes } from 'node:crypto';
import type { WebClient } from '@slack/web-api';
import type { IncidentStore } from '../incidents/store.js';
import type { OoQueues } from '../queue/queues.js';
import { isActionId, type PendingAction, type PendingActionStore } from '../remediation/actions.js';
import type { AuditLog } from '../remediation/audit.js';
import { authorize, requiredApprovals, type PolicyConfig } from '../remediation/policy.js';
import { inlineCode, mrkdwnSafe, pendingActionIdOf } from '../slack/blocks.js';
import type { Block } from '../slack/limits.js';
import type { FindingsMessages } from './findings.js';
import type { IncidentThreads } from './incident-threads.js';
import type { AppLogger } from './logger.js';

export interface ClickInput {
  /** The button's action_id (`oo_remediate:<id>`). */
  buttonActionId: string;
  /** The button's value (the same id). */
  value?: string;
  userId: string;
  channelId: string;
  messageTs?: string;
}

export type ClickOutcome =
  | { result: 'queued'; actionId: string; jobId: string }
  | { result: 'waiting_second_approver'; actionId: string }
  | { result: 'refused'; code: string; reason: string };

export interface ApprovalsOptions {
  actions: PendingActionStore;
  incidents: IncidentStore;
  queues: OoQueues;
  audit: AuditLog;
  threads: IncidentThreads;
  findings: FindingsMessages;
  client: WebClient;
  policy?: PolicyConfig;
  logger: AppLogger;
  /** How long a user group's member list is trusted. Default 60 s. */
  groupCacheMs?: number;
}

function context(text: string): Block {
  return { type: 'context', elements: [{ type: 'mrkdwn', text }] };
}

export class Approvals {
  private readonly groupCache = new Map<string, { members: Set<string>; until: number }>();

  constructor(private readonly options: ApprovalsOptions) {}

  /** The user groups of the policy that `userId` belongs to (Slack's usergroups.users.list). */
  private async groupsOf(userId: string, candidates: readonly string[]): Promise<string[]> {
    const groups: string[] = [];
    for (const group of candidates.filter((id) => id.startsWith('S'))) {
      let cached = this.groupCache.get(group);
      if (!cached || cached.until < Date.now()) {
        try {
          const answer = (await this.options.client.usergroups.users.list({ usergroup: group })) as { users?: string[] };
          cached = { members: new Set(answer.users ?? []), until: Date.now() + (this.options.groupCacheMs ?? 60_000) };
          this.groupCache.set(group, cached);
        } catch (error) {
          // Not knowing the members means not counting on them: the click is refused, never allowed.
          this.options.logger.warn(`could not read the members of user group ${group}:`, error);
          continue;
        }
      }
      if (cached.members.has(userId)) groups.push(group);
    }
    return groups;
  }

  private async refuse(action: PendingAction | null, click: ClickInput, code: string, reason: string): Promise<ClickOutcome> {
    const { audit, threads } = this.options;
    await audit
      .record({
        kind: 'refusal',
        actor: click.userId,
        ...(action ? { host: action.host, incidentKey: action.incidentKey, action: action.remediationId, command: action.command } : {}),
        outcome: code,
        detail: `${reason} (channel ${click.channelId})`,
      })
      .catch((error: unknown) => this.options.logger.error('could not audit a refusal:', error));
    if (action) {
      await threads
        .note(action.incidentKey, 'refusal', `${click.userId} was refused ${action.title} on ${action.host}: ${code}`)
        .catch(() => undefined);
    }
    return { result: 'refused', code, reason };
  }

  async click(click: ClickInput): Promise<ClickOutcome> {
    const { actions, policy } = this.options;
    const actionId = pendingActionIdOf(click.buttonActionId);
    if (actionId === undefined || !isActionId(actionId) || (click.value !== undefined && click.value !== actionId)) {
      return this.refuse(null, click, 'malformed', 'this button does not name a pending action of oo-responder');
    }
    const action = await actions.get(actionId);
    if (!action) return this.refuse(null, click, 'not_found', 'this action is unknown or long expired: run `/oo diagnose <host>` for fresh findings');
    if (action.status === 'expired') {
      return this.refuse(
        action,
        click,
        'expired',
        `this action expired at ${new Date(action.expiresAt).toISOString()}: run \`/oo diagnose ${action.host}\` for fresh findings`,
      );
    }
    if (action.status !== 'pending') {
      const who = action.approvers.length > 0 ? ` by ${action.approvers.map((id) => `<@${id}>`).join(', ')}` : '';
      return this.refuse(action, click, 'already_decided', `this action was already ${action.status}${who}; it runs at most once`);
    }
    if (action.channel !== click.channelId) {
      return this.refuse(action, click, 'wrong_channel', `this action belongs to channel ${action.channel}, not ${click.channelId}`);
    }
    if (!policy) return this.refuse(action, click, 'no_policy', 'no approval policy is configured (oo.yaml `policy:`), so nobody may approve');

    const clickerGroups = await this.groupsOf(click.userId, policy.approvers[action.risk]);
    const decision = authorize({
      policy,
      risk: action.risk,
      clickerId: click.userId,
      clickerGroups,
      requesterId: action.requestedBy,
      priorApprovers: action.approvers,
      channelId: click.channelId,
    });
    if (!decision.allowed) return this.refuse(action, click, decision.code, decision.reason);

    const approval = await actions.approve(actionId, click.userId, requiredApprovals(policy, action.risk));
    if (approval.status === 'expired') return this.refuse(action, click, 'expired', 'this action expired just now');
    if (approval.status === 'already_done' || approval.status === 'not_found') {
      return this.refuse(action, click, 'already_decided', 'this action was already approved; it runs at most once');
    }
    await this.options.audit.record({
      kind: 'approval',
      actor: click.userId,
      host: action.host,
      incidentKey: action.incidentKey,
      action: action.remediationId,
      command: action.command,
      outcome: approval.status,
    });
    await this.options.threads.note(action.incidentKey, 'approval', `${click.userId} approved ${action.title} on ${action.host}`).catch(() => undefined);

    if (approval.status === 'waiting_second_approver') {
      if (action.messageTs) {
        await this.options.findings
          .setStatus(action.channel, action.messageTs, `${actionId}:first`, [
            context(`:hourglass: ${mrkdwnSafe(action.title)} approved by <@${click.userId}>; a second approver is needed (high risk).`),
          ])
          .catch((error: unknown) => this.options.logger.warn('could not show the first approval:', error));
      }
      return { result: 'waiting_second_approver', actionId };
    }

    const claimed = await actions.claim(actionId);
    if (claimed !== 'claimed') return this.refuse(action, click, claimed, `this action could not be started: ${claimed}`);
    const enqueued = await this.options.queues.enqueueRemediation({
      requestId: randomBytes(12).toString('hex'),
      actionId,
      host: action.host,
      remediationId: action.remediationId,
      approvedBy: approval.approvers,
      incidentKey: action.incidentKey,
    });
    await this.options.audit.record({
      kind: 'request',
      actor: click.userId,
      host: action.host,
      incidentKey: action.incidentKey,
      action: action.remediationId,
      command: action.command,
      outcome: `queued as ${enqueued.jobId}`,
    });
    if (action.messageTs) {
      await this.options.findings
        .setStatus(action.channel, action.messageTs, actionId, [
          context(
            `:gear: *${mrkdwnSafe(action.title)}* approved by ${approval.approvers.map((id) => `<@${id}>`).join(', ')} — running ${inlineCode(action.command)} on ${inlineCode(action.host)}…`,
          ),
        ])
        .catch((error: unknown) => this.options.logger.warn('could not show the approval:', error));
    }
    return { result: 'queued', actionId, jobId: enqueued.jobId };
  }
}
