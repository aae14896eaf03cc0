// `/oo …` commands. Each answers within Slack's 3 seconds from what is at hand (the inventory, the
// runbooks, bounded Redis reads); anything slower (posting a thread, SSH) happens after the answer and
// reports through the thread or an ephemeral message.
import { createHash, randomBytes } from 'node:crypto';
import { resolveTargets, UnknownTargetError, type Config } from '../config/index.js';
import type { IncidentStore } from '../incidents/store.js';
import type { OoQueues } from '../queue/queues.js';
import { withTimeout } from '../queue/redis.js';
import type { AuditLog } from '../remediation/audit.js';
import type { PolicyConfig } from '../remediation/policy.js';
import type { BoundRunbook } from '../runbooks/index.js';
import { inlineCode, mrkdwnSafe } from '../slack/blocks.js';
import { parseOoCommand, type OoCommand } from '../slack/commands.js';
import { explainText, renderExplanation } from '../slack/explain.js';
import {
  renderAudit,
  renderHelp,
  renderHosts,
  renderIncidentList,
  renderNote,
  renderRunbooks,
  renderStatus,
} from '../slack/messages.js';
import type { MessageContent, SlackOutbox } from '../slack/outbox.js';
import type { Metrics } from '../server/metrics.js';
import type { IncidentThreads } from './incident-threads.js';
import type { AppLogger } from './logger.js';

export interface CommandInput {
  text: string;
  userId: string;
  channelId: string;
}

export interface CommandReply {
  /** The answer sent with the acknowledgement (only the caller sees it). */
  reply: MessageContent;
  /** Work that continues after the answer. */
  after?: () => Promise<void>;
}

export interface CommandsOptions {
  config: Config;
  runbook: BoundRunbook;
  queues: OoQueues;
  incidents: IncidentStore;
  threads: IncidentThreads;
  audit: AuditLog;
  outbox: SlackOutbox;
  policy?: PolicyConfig;
  alertChannel?: string;
  logger: AppLogger;
  metrics: Metrics;
}

export const MANUAL_INCIDENT_PREFIX = 'man_';

/** A manual diagnosis of a host opens (or joins) that host's own incident. */
export function manualIncidentKey(host: string): string {
  return `${MANUAL_INCIDENT_PREFIX}${createHash('sha256').update(host.toLowerCase()).digest('hex').slice(0, 32)}`;
}

const READ_TIMEOUT_MS = 2000;

export class Commands {
  constructor(private readonly options: CommandsOptions) {}

  private channels(): string[] {
    return this.options.policy?.channels ?? (this.options.alertChannel ? [this.options.alertChannel] : []);
  }

  private isApprover(userId: string): boolean {
    const approvers = this.options.policy?.approvers;
    if (!approvers) return false;
    // User groups are resolved at click time for approvals; for reading the audit a direct listing is asked.
    return [...approvers.low, ...approvers.medium, ...approvers.high].includes(userId);
  }

  async handle(input: CommandInput): Promise<CommandReply> {
    const parsed = parseOoCommand(input.text);
    this.options.metrics.inc('oo_slack_commands_total', { subcommand: parsed.ok ? parsed.command.name : 'invalid' });
    if (!parsed.ok) return { reply: renderHelp(mrkdwnSafe(parsed.problem)) };
    try {
      return await this.run(parsed.command, input);
    } catch (error) {
      this.options.logger.error(`/oo ${parsed.command.name} failed:`, error);
      return { reply: renderNote(`:x: \`/oo ${parsed.command.name}\` failed: ${mrkdwnSafe((error as Error).message)}`) };
    }
  }

  private async run(command: OoCommand, input: CommandInput): Promise<CommandReply> {
    const { config, runbook } = this.options;
    switch (command.name) {
      case 'help':
        return { reply: renderHelp() };
      case 'hosts':
        return {
          reply: renderHosts(
            Object.entries(config.hosts).map(([name, host]) => ({
              name,
              address: host.address,
              user: host.user,
              port: host.port,
              ...(host.install ? { install: host.install } : {}),
              ...(host.processManager ? { processManager: host.processManager } : {}),
              ...(host.jump ? { jump: host.jump } : {}),
            })),
            config.groups,
          ),
        };
      case 'runbooks': {
        const book = runbook.runbook;
        return {
          reply: renderRunbooks([
            {
              id: book.id,
              title: book.title,
              steps: book.steps.map((step) => step.id),
              remediations: book.remediations.map((fix) => ({
                id: fix.id,
                title: fix.title,
                risk: fix.risk,
                fixes: fix.fixes.map((f) => f.cause + (f.subject ? `[${f.subject}]` : '')),
              })),
            },
          ]),
        };
      }
      case 'explain': {
        const finding = explainText(command.text, runbook);
        const rendered = renderExplanation(finding);
        return { reply: { text: rendered.text, blocks: rendered.blocks } };
      }
      case 'status':
        return { reply: await this.status() };
      case 'incidents': {
        const open = await withTimeout(this.options.incidents.listOpen(30), READ_TIMEOUT_MS, 'reading the open incidents');
        return { reply: renderIncidentList(open) };
      }
      case 'audit': {
        if (!this.isApprover(input.userId)) {
          return { reply: renderNote(':lock: Only approvers named in the policy (oo.yaml `policy.approvers`) may read the audit trail here.') };
        }
        const records = await withTimeout(
          this.options.audit.list({ limit: 20, ...(command.host ? { host: command.host } : {}) }),
          READ_TIMEOUT_MS,
          'reading the audit trail',
        );
        return { reply: renderAudit(records) };
      }
      case 'diagnose':
        return this.diagnose(command.target, input);
    }
  }

  private async status(): Promise<MessageContent> {
    const { queues, incidents, outbox } = this.options;
    const read = async () => {
      const [open, diagnosis, remediation, diagnosisWorkers, remediationWorkers] = await Promise.all([
        incidents.listOpen(1000),
        queues.diagnosis.getJobCounts('waiting', 'active', 'delayed', 'failed'),
        queues.remediation.getJobCounts('waiting', 'active', 'delayed', 'failed'),
        queues.diagnosis.getWorkersCount(),
        queues.remediation.getWorkersCount(),
      ]);
      return renderStatus({
        openIncidents: open.length,
        queues: { diagnosis, remediation },
        workers: { diagnosis: diagnosisWorkers, remediation: remediationWorkers },
        outboxPending: outbox.pending(),
      });
    };
    return withTimeout(read(), READ_TIMEOUT_MS, 'reading the status');
  }

  private async diagnose(target: string, input: CommandInput): Promise<CommandReply> {
    const { config } = this.options;
    let hosts;
    try {
      hosts = resolveTargets(config, target);
    } catch (error) {
      if (!(error instanceof UnknownTargetError)) throw error;
      return {
        reply: renderNote(
          `:warning: Unknown host or group ${inlineCode(target)}.\n*Hosts:* ${error.hosts.map((h) => inlineCode(h)).join(', ') || '(none)'}\n*Groups:* ${
            error.groups.map((g) => inlineCode(g)).join(', ') || '(none)'
          }`,
          `unknown host or group ${target}`,
        ),
      };
    }
    const channels = this.channels();
    if (!channels.includes(input.channelId)) {
      return {
        reply: renderNote(
          `:no_entry: The bot does not act in this channel. It acts in: ${channels.map((id) => `<#${id}>`).join(', ') || '(none configured)'}.`,
        ),
      };
    }
    const names = hosts.map((host) => host.name);
    return {
      reply: renderNote(`:mag: Diagnosing ${names.map((name) => inlineCode(name)).join(', ')} — findings will appear in a thread here.`),
      after: async () => {
        for (const host of hosts) {
          const key = manualIncidentKey(host.name);
          const opened = await this.options.threads.open(
            key,
            { channel: input.channelId, host: host.name, title: `Diagnosis of ${host.name}`, countAlert: false, text: `requested by ${input.userId}` },
            { source: input.userId },
          );
          await this.options.audit.record({ kind: 'request', actor: input.userId, host: host.name, incidentKey: key, action: 'diagnose', outcome: 'queued' });
          await this.options.threads.note(key, 'request', `${input.userId} asked for a diagnosis of ${host.name}`);
          const queued = await this.options.queues.enqueueDiagnosis({
            requestId: randomBytes(12).toString('hex'),
            incidentKey: key,
            host: host.name,
            requestedBy: input.userId,
            reason: `/oo diagnose ${target}`,
          });
          if (queued.deduplicated) {
            await this.options.threads.reply(opened.incident, renderNote(`A diagnosis of ${inlineCode(host.name)} is already under way; its findings will appear here.`));
          }
        }
      },
    };
  }
}
