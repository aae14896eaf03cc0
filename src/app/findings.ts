// Findings in an incident's thread, with a button per fitting remediation. Each button carries only the
// opaque id of a pending action stored server-side (PendingActionStore) with an expiry; the confirm
// dialog states the exact command and host, planned from the runbook for that host. The message's
// blocks are kept in Redis so that any process (the one handling a click, the worker reporting the
// run) can re-render it: the clicked button goes away and the action's status takes its place.
import type { RedisClient } from '../queue/redis.js';
import type { ResolvedHost } from '../config/index.js';
import { parseDetect } from '../diagnosis/parsers/index.js';
import type { Finding } from '../diagnosis/types.js';
import type { ProcessManager } from '../diagnosis/vocabulary.js';
import type { PendingActionStore } from '../remediation/actions.js';
import type { AuditLog } from '../remediation/audit.js';
import type { PolicyConfig } from '../remediation/policy.js';
import type { BoundRunbook } from '../runbooks/index.js';
import {
  REMEDIATE_ACTIONS_BLOCK_ID,
  pendingActionIdOf,
  renderDiagnosis,
  type OfferedRemediation,
} from '../slack/blocks.js';
import { checkMessage, type Block } from '../slack/limits.js';
import type { MessageContent, SlackOutbox } from '../slack/outbox.js';
import type { IncidentThreads } from './incident-threads.js';
import type { Incident } from '../incidents/types.js';

const STORE_TTL_MS = 14 * 24 * 3600 * 1000;

export interface FindingsOptions {
  redis: RedisClient;
  prefix: string;
  outbox: SlackOutbox;
  threads: IncidentThreads;
  actions: PendingActionStore;
  audit: AuditLog;
  runbook: BoundRunbook;
  policy?: PolicyConfig;
  actionTtlMs: number;
}

/** The process manager the diagnosis found (its `detect` step), else the inventory's. */
export function managerOf(finding: Finding, host: Pick<ResolvedHost, 'processManager'>): ProcessManager {
  if (host.processManager) return host.processManager;
  const detect = finding.steps.find((step) => step.id === 'detect');
  return (detect ? parseDetect(detect.output).manager : undefined) ?? 'supervisor';
}

/** The exact commands a remediation runs on this host: the pre-check first when there is one. */
export function commandShown(runbook: BoundRunbook, remediationId: string, host: ResolvedHost, manager: ProcessManager): string {
  const plan = runbook.planRemediation(remediationId, {
    processManager: manager,
    sudo: host.sudo,
    ...(host.container !== undefined ? { container: host.container } : {}),
  });
  return plan.precheck ? `${plan.precheck.command} && ${plan.command.command}` : plan.command.command;
}

interface StoredStatus {
  at: number;
  blocks: Block[];
}

export class FindingsMessages {
  constructor(private readonly options: FindingsOptions) {}

  private key(channel: string, ts: string): string {
    return `${this.options.prefix}:findings:${channel}:${ts}`;
  }

  /** Whether clicks can be approved in this channel at all (the policy names it). */
  actsIn(channel: string): boolean {
    return this.options.policy?.channels.includes(channel) ?? false;
  }

  private async createActions(
    incident: Incident,
    host: ResolvedHost,
    remediations: readonly { id: string; title: string; risk: OfferedRemediation['risk'] }[],
    manager: ProcessManager,
    requestedBy: string,
  ): Promise<OfferedRemediation[]> {
    const offered: OfferedRemediation[] = [];
    for (const remediation of remediations) {
      const command = commandShown(this.options.runbook, remediation.id, host, manager);
      const actionId = await this.options.actions.create({
        incidentKey: incident.key,
        host: host.name,
        remediationId: remediation.id,
        title: remediation.title,
        risk: remediation.risk,
        command,
        requestedBy: requestedBy.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 64) || 'oo',
        channel: incident.channel,
        ttlMs: this.options.actionTtlMs,
      });
      offered.push({ actionId, remediationId: remediation.id, title: remediation.title, risk: remediation.risk, host: host.name, command });
    }
    return offered;
  }

  /** Posts the findings in the incident's thread, with a button per remediation that fits. */
  async post(incident: Incident, finding: Finding, host: ResolvedHost, requestedBy: string): Promise<{ ts: string; offered: OfferedRemediation[] }> {
    const manager = managerOf(finding, host);
    const unique = new Map<string, { id: string; title: string; risk: OfferedRemediation['risk'] }>();
    for (const cause of finding.causes) for (const remediation of cause.remediations) if (!unique.has(remediation.id)) unique.set(remediation.id, remediation);
    const canOffer = finding.verdict === 'fault' && this.actsIn(incident.channel);
    const offered = canOffer ? await this.createActions(incident, host, [...unique.values()], manager, requestedBy) : [];
    return this.postMessage(incident, finding, offered, unique.size > 0 && !canOffer && finding.verdict === 'fault');
  }

  /**
   * Offers one remediation for a host on its own, outside a diagnosis (e.g. after an operator fixed a
   * config by hand and wants nginx reloaded): same pending action, same button, same checks on click.
   */
  async offer(incident: Incident, host: ResolvedHost, remediationId: string, requestedBy: string): Promise<{ ts: string; offered: OfferedRemediation[] }> {
    const remediation = this.options.runbook.runbook.remediations.find((candidate) => candidate.id === remediationId);
    if (!remediation) throw new Error(`unknown remediation ${JSON.stringify(remediationId)}`);
    const manager = host.processManager ?? 'supervisor';
    const offered = await this.createActions(incident, host, [remediation], manager, requestedBy);
    const finding: Finding = { host: host.name, verdict: 'unknown', causes: [], steps: [], error: `${remediation.title} offered on request` };
    return this.postMessage(incident, finding, offered, false);
  }

  private async postMessage(
    incident: Incident,
    finding: Finding,
    offered: OfferedRemediation[],
    notActing: boolean,
  ): Promise<{ ts: string; offered: OfferedRemediation[] }> {
    const rendered = renderDiagnosis(finding, { remediations: offered });
    const blocks: Block[] = [...rendered.blocks];
    if (notActing) {
      blocks.push({
        type: 'context',
        elements: [{ type: 'mrkdwn', text: 'Fixes are not offered as buttons here: this channel is not in the policy (oo.yaml `policy.channels`).' }],
      });
    }
    const content: MessageContent = { text: rendered.text, blocks };
    if (!incident.threadTs) throw new Error(`incident ${incident.key} has no thread`);
    const ts = await this.options.outbox.post(incident.channel, content, incident.threadTs);
    await this.options.redis
      .multi()
      .hset(this.key(incident.channel, ts), 'base', JSON.stringify(content))
      .pexpire(this.key(incident.channel, ts), STORE_TTL_MS)
      .exec();
    for (const action of offered) await this.options.actions.attachMessage(action.actionId, ts);
    if (rendered.attachments.length > 0) await this.options.outbox.upload(incident.channel, incident.threadTs, rendered.attachments);
    return { ts, offered };
  }

  /** Shows `blocks` as the action's status in its message, in place of its button. */
  async setStatus(channel: string, ts: string, actionId: string, blocks: Block[]): Promise<void> {
    const key = this.key(channel, ts);
    const status: StoredStatus = { at: Date.now(), blocks };
    await this.options.redis.multi().hset(key, `status:${actionId}`, JSON.stringify(status)).pexpire(key, STORE_TTL_MS).exec();
    const stored = await this.options.redis.hgetall(key);
    if (!stored.base) return;
    await this.options.outbox.update(channel, ts, composeMessage(stored));
  }
}

/** The stored findings with decided buttons removed and each action's status appended, within limits. */
export function composeMessage(stored: Record<string, string>): MessageContent {
  const base = JSON.parse(stored.base ?? '{"text":"","blocks":[]}') as MessageContent;
  const statuses = Object.entries(stored)
    .filter(([field]) => field.startsWith('status:'))
    .map(([field, value]) => ({ actionId: field.slice('status:'.length), ...(JSON.parse(value) as StoredStatus) }))
    .sort((a, b) => a.at - b.at);
  const decided = new Set(statuses.map((status) => status.actionId));
  const kept: Block[] = [];
  for (const block of (base.blocks ?? []) as Block[]) {
    if (block.type === 'actions' && block.block_id === REMEDIATE_ACTIONS_BLOCK_ID) {
      const elements = block.elements.filter((element) => {
        const id = 'action_id' in element && typeof element.action_id === 'string' ? pendingActionIdOf(element.action_id) : undefined;
        return id === undefined || !decided.has(id);
      });
      if (elements.length > 0) kept.push({ ...block, elements } as Block);
    } else kept.push(block);
  }
  const candidates: Block[][] = [
    [...kept, ...statuses.flatMap((status) => status.blocks)],
    // Too long together: the statuses shortened to their first block each.
    [...kept, ...statuses.flatMap((status) => status.blocks.slice(0, 2))],
    statuses.flatMap((status) => status.blocks),
  ];
  for (const blocks of candidates) {
    if (blocks.length > 0 && checkMessage({ text: base.text, blocks }).length === 0) return { text: base.text, blocks };
  }
  return { text: base.text, blocks: statuses.at(-1)?.blocks.slice(0, 3) ?? kept.slice(0, 3) };
}
