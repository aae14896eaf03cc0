// The bot's smaller messages (pure): an incident's parent message, thread notes, and the answers to
// `/oo help|hosts|runbooks|status|incidents|audit`. Text from alerts, hosts or users is escaped here
// (mrkdwnSafe / inlineCode) and every section is cut to Slack's limits.
import type { Incident } from '../incidents/types.js';
import type { AuditRecord } from '../remediation/audit.js';
import { formatCount, formatDuration, inlineCode, mrkdwnSafe, truncate } from './blocks.js';
import { SLACK_LIMITS, type Block } from './limits.js';
import type { MessageContent } from './outbox.js';

const SECTION = SLACK_LIMITS.sectionText;

function section(text: string): Block {
  return { type: 'section', text: { type: 'mrkdwn', text: truncate(text || ' ', SECTION) } };
}

function context(text: string): Block {
  return { type: 'context', elements: [{ type: 'mrkdwn', text: truncate(text || ' ', SLACK_LIMITS.textObject) }] };
}

function header(text: string): Block {
  const clean = text.replace(/\s*\r?\n\s*/g, ' ').replace(/</g, '‹').replace(/>/g, '›').trim() || '-';
  return { type: 'header', text: { type: 'plain_text', text: truncate(clean, SLACK_LIMITS.headerText), emoji: true } };
}

/** Lines joined into sections of at most 3000 characters, at most `maxSections` of them. */
function sectionsOf(lines: readonly string[], maxSections = 10): Block[] {
  const blocks: Block[] = [];
  let current = '';
  let left = lines.length;
  for (const line of lines) {
    const piece = truncate(line, SECTION - 100);
    if (current.length + piece.length + 1 > SECTION - 100) {
      blocks.push(section(current));
      current = '';
      if (blocks.length >= maxSections) break;
    }
    current = current ? `${current}\n${piece}` : piece;
    left -= 1;
  }
  if (current && blocks.length < maxSections) blocks.push(section(current));
  if (left > 0) blocks.push(context(`_${formatCount(left)} more not shown_`));
  return blocks;
}

function slackDate(iso: string): string {
  const ms = Date.parse(iso);
  if (!Number.isFinite(ms)) return mrkdwnSafe(iso);
  return `<!date^${Math.floor(ms / 1000)}^{date_short_pretty} {time_secs}|${new Date(ms).toISOString()}>`;
}

export interface IncidentParentInfo {
  /** Where the incident came from: `alertmanager`, `grafana`, `generic`, or a Slack user id. */
  source?: string;
  /** Shown when the alert named no inventory host. */
  unknownHostNote?: string;
}

/** The one parent message of an incident; edited (never re-posted) as the incident changes. */
export function renderIncidentParent(incident: Incident, info: IncidentParentInfo = {}): MessageContent {
  const title = incident.title ?? 'incident';
  const host = incident.host ?? 'unknown host';
  const resolved = incident.status === 'resolved';
  const mark = resolved ? ':white_check_mark:' : ':rotating_light:';
  const latest = [...incident.timeline].reverse().find((entry) => entry.kind !== 'alert' && entry.kind !== 'open');
  const source = info.source ? (/^[UW][A-Z0-9]{2,30}$/.test(info.source) ? `<@${info.source}>` : mrkdwnSafe(info.source)) : undefined;
  const fields = [
    `*Host*\n${inlineCode(host)}`,
    `*Status*\n${resolved ? 'resolved' : 'open'}`,
    `*Alerts*\n${formatCount(incident.alerts)}`,
    `*Opened*\n${slackDate(incident.openedAt)}`,
  ];
  if (resolved && incident.resolvedAt) {
    fields.push(`*Recovered in*\n${formatDuration(Date.parse(incident.resolvedAt) - Date.parse(incident.openedAt))}`);
  }
  if (source) fields.push(`*From*\n${source}`);
  const blocks: Block[] = [
    header(`${mark} ${resolved ? 'Resolved: ' : ''}${title} — ${host}`),
    { type: 'section', fields: fields.map((text) => ({ type: 'mrkdwn' as const, text: truncate(text, SLACK_LIMITS.sectionFieldText) })) },
  ];
  if (info.unknownHostNote) blocks.push(section(`:warning: ${mrkdwnSafe(info.unknownHostNote)}`));
  if (latest) blocks.push(section(`*Latest:* ${mrkdwnSafe(truncate(latest.text, 1500))}`));
  blocks.push(context(`incident ${inlineCode(incident.key)} · updates in the thread`));
  return {
    text: truncate(mrkdwnSafe(`${resolved ? 'Resolved' : 'Incident'}: ${title} on ${host} (${incident.alerts} alerts)`), 300),
    blocks,
  };
}

/** A short reply in a thread: one mrkdwn section (the caller escapes untrusted parts). */
export function renderNote(mrkdwn: string, fallback?: string): MessageContent {
  return { text: truncate(fallback ?? mrkdwn, 300), blocks: [section(mrkdwn)] };
}

export const HELP_TEXT = [
  '*oo-responder* — finds why ONLYOFFICE Docs answers 502, shows the proof, fixes it after approval.',
  '`/oo diagnose <host|group>` — run the 502 runbook over SSH; findings arrive in a thread',
  '`/oo status` — open incidents, queued and running jobs, workers',
  '`/oo hosts` — the inventory',
  '`/oo runbooks` — the runbooks and the fixes they offer',
  '`/oo incidents` — open incidents with links to their threads',
  '`/oo explain <pasted log lines>` — classify pasted text (no SSH)',
  '`/oo audit [host]` — the latest requests, approvals and commands (approvers only)',
  '`/oo help` — this text',
  'Message shortcut *Explain this 502* classifies any message.',
].join('\n');

export function renderHelp(problem?: string): MessageContent {
  const blocks: Block[] = [];
  if (problem) blocks.push(section(`:warning: ${problem}`));
  blocks.push(section(HELP_TEXT));
  return { text: problem ? truncate(problem, 300) : 'oo-responder help', blocks };
}

export interface HostListing {
  name: string;
  address: string;
  user: string;
  port: number;
  install?: string;
  processManager?: string;
  jump?: string;
}

export function renderHosts(hosts: readonly HostListing[], groups: Readonly<Record<string, readonly string[]>>): MessageContent {
  const lines = hosts.map(
    (host) =>
      `• ${inlineCode(host.name)} ${mrkdwnSafe(`${host.user}@${host.address}:${host.port}`)}${host.jump ? ` via ${inlineCode(host.jump)}` : ''} — ${mrkdwnSafe(
        `${host.install ?? '?'}/${host.processManager ?? 'detect'}`,
      )}`,
  );
  const groupLines = Object.entries(groups).map(([name, members]) => `• ${inlineCode(name)}: ${members.map((m) => inlineCode(m)).join(', ')}`);
  return {
    text: `${hosts.length} hosts, ${groupLines.length} groups`,
    blocks: [
      section(`*Hosts* (${formatCount(hosts.length)})`),
      ...sectionsOf(lines, 8),
      ...(groupLines.length > 0 ? [section('*Groups*'), ...sectionsOf(groupLines, 4)] : []),
    ],
  };
}

export interface RunbookListing {
  id: string;
  title: string;
  steps: readonly string[];
  remediations: readonly { id: string; title: string; risk: string; fixes: readonly string[] }[];
}

export function renderRunbooks(runbooks: readonly RunbookListing[]): MessageContent {
  const lines: string[] = [];
  for (const runbook of runbooks) {
    lines.push(`*${mrkdwnSafe(runbook.title)}* ${inlineCode(runbook.id)}`);
    lines.push(`steps: ${runbook.steps.map((step) => inlineCode(step)).join(' ')}`);
    for (const fix of runbook.remediations) {
      lines.push(`• ${inlineCode(fix.id)} (${fix.risk}) ${mrkdwnSafe(fix.title)} — fixes ${fix.fixes.map((cause) => inlineCode(cause)).join(', ')}`);
    }
  }
  return { text: `${runbooks.length} runbook(s)`, blocks: sectionsOf(lines, 10) };
}

export interface StatusInfo {
  openIncidents: number;
  queues: Record<string, Record<string, number>>;
  workers: Record<string, number>;
  /** Slack calls waiting in this process's outbox. */
  outboxPending: number;
}

export function renderStatus(status: StatusInfo): MessageContent {
  const queueLines = Object.entries(status.queues).map(
    ([queue, counts]) =>
      `• *${mrkdwnSafe(queue)}*: ${Object.entries(counts)
        .map(([state, count]) => `${state} ${formatCount(count)}`)
        .join(', ')} — ${formatCount(status.workers[queue] ?? 0)} worker connection(s)`,
  );
  return {
    text: `${status.openIncidents} open incident(s)`,
    blocks: [
      section(`*Open incidents:* ${formatCount(status.openIncidents)}`),
      section(`*Queues*\n${queueLines.join('\n')}`),
      context(`Slack messages waiting here: ${formatCount(status.outboxPending)}`),
    ],
  };
}

export function renderIncidentList(incidents: readonly Incident[], permalinks: ReadonlyMap<string, string> = new Map()): MessageContent {
  if (incidents.length === 0) return { text: 'No open incidents', blocks: [section(':large_green_circle: No open incidents.')] };
  const lines = incidents.map((incident) => {
    const link = permalinks.get(incident.key);
    const title = mrkdwnSafe(truncate(incident.title ?? 'incident', 120));
    return `• ${link ? `<${link}|${title}>` : title} on ${inlineCode(incident.host ?? 'unknown host')} — ${formatCount(incident.alerts)} alert(s), opened ${slackDate(incident.openedAt)}`;
  });
  return { text: `${incidents.length} open incident(s)`, blocks: [section(`*Open incidents* (${formatCount(incidents.length)})`), ...sectionsOf(lines, 8)] };
}

export function renderAudit(records: readonly AuditRecord[]): MessageContent {
  if (records.length === 0) return { text: 'The audit trail is empty', blocks: [section('The audit trail has no entries yet.')] };
  const lines = records.map((record) => {
    const actor = /^[UW][A-Z0-9]{2,30}$/.test(record.actor) ? `<@${record.actor}>` : mrkdwnSafe(record.actor);
    const parts = [`${slackDate(record.at)} *${record.kind}* by ${actor}`];
    if (record.host) parts.push(`on ${inlineCode(record.host)}`);
    if (record.action) parts.push(inlineCode(truncate(record.action, 60)));
    if (record.command) parts.push(`ran ${inlineCode(truncate(record.command, 200))}`);
    if (record.outcome) parts.push(`→ ${mrkdwnSafe(truncate(record.outcome, 120))}`);
    return `• ${parts.join(' ')}`;
  });
  return {
    text: `${records.length} audit entries`,
    blocks: [...sectionsOf(lines, 9), context('Full trail: `oo audit export` on the server (JSON Lines).')],
  };
}
