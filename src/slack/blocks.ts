// Block Kit renderers (pure). Whatever a host printed is untrusted: it is cleaned of control and bidi
// characters, escaped for mrkdwn, kept inside code blocks it cannot break out of, and cut at line
// boundaries so every message passes validateMessage. What was cut goes, whole and raw, into
// `attachments` for upload as a file.
import { chainOf, type ChainNode, type LinkState } from '../diagnosis/chain.js';
import type { Finding, RankedCause, StepRecord } from '../diagnosis/types.js';
import type { Risk, Verdict } from '../diagnosis/vocabulary.js';
import {
  SLACK_LIMITS,
  blocksTextLength,
  checkMessage,
  type ActionsBlock,
  type Block,
  type ButtonElement,
  type ContextBlock,
  type HeaderBlock,
  type MrkdwnText,
  type PlainText,
  type SectionBlock,
} from './limits.js';

export interface FileAttachment {
  filename: string;
  content: string;
}

export interface RenderedMessage {
  /** Notification / fallback text (mrkdwn, escaped). */
  text: string;
  blocks: Block[];
  /** Full texts that did not fit, to upload as files or snippets in the same thread. */
  attachments: FileAttachment[];
  /** How much of the host's text the blocks left out (it is all in `attachments`). */
  omitted: { lines: number; characters: number };
}

/** A remediation offered as a button: the id is of a server-side pending action, nothing else travels. */
export interface OfferedRemediation {
  actionId: string;
  remediationId: string;
  title: string;
  risk: Risk;
  host: string;
  command: string;
}

/** Every remediation button's action_id starts with this; Bolt can match it with a RegExp. */
export const REMEDIATE_ACTION_PREFIX = 'oo_remediate:';
export const REMEDIATE_ACTIONS_BLOCK_ID = 'oo_remediations';
/** More buttons than this would crowd out the evidence; the rest are listed, not offered. */
export const MAX_REMEDIATION_BUTTONS = 5;
export const MAX_CAUSES_SHOWN = 5;

// Room kept below the cumulative budget for the block containers Slack also counts.
const MESSAGE_TEXT_BUDGET = SLACK_LIMITS.blocksTextBudget - 1000;
const FALLBACK_TEXT_MAX = 300;
const LONG_LINE = 1000;

// ---------------------------------------------------------------------------------------------------
// Text helpers

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
// C0 (but tab and newline), DEL, C1, and the bidi embeddings/overrides/isolates that can make text read
// differently from what it is ("Trojan Source").
// eslint-disable-next-line no-control-regex
const UNSAFE_CHARS = /[\u0000-\u0008\u000B-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]/g;

/** Makes text safe to show: lone surrogates, control and bidi characters become U+FFFD. */
export function sanitizeText(text: string): string {
  return text.replace(LONE_SURROGATE, '\uFFFD').replace(UNSAFE_CHARS, '\uFFFD');
}

/** Slack mrkdwn's three control characters (docs.slack.dev: formatting text, "Escaping text"). */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** A zero-width space between backticks: no run left that could open or close a ``` block. */
function breakFences(text: string): string {
  return text.replace(/`(?=`)/g, '`\u200B');
}

/** One line for inside a ``` block: escaped, and unable to close the block. */
export function codeLine(line: string): string {
  return breakFences(escapeMrkdwn(sanitizeText(line)));
}

/** Untrusted text shown in mrkdwn: escaped, on one line, unable to open a code block. */
export function mrkdwnSafe(text: string): string {
  return breakFences(escapeMrkdwn(sanitizeText(text).replace(/\s*\r?\n\s*/g, ' ')));
}

/** Inline code when the text allows it, else the escaped text in quotes (a backtick would end the span). */
export function inlineCode(text: string): string {
  const safe = mrkdwnSafe(text);
  return safe.includes('`') ? `"${safe}"` : `\`${safe}\``;
}

/** Cuts to at most `max` UTF-16 units, never inside a surrogate pair, marking the cut with an ellipsis. */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  if (max <= 1) return '…'.slice(0, Math.max(0, max));
  let out = '';
  for (const codePoint of text) {
    if (out.length + codePoint.length > max - 1) break;
    out += codePoint;
  }
  return `${out}…`;
}

function plain(text: string, max: number): PlainText {
  // plain_text is not parsed for mentions, but clients differ; angle quotes keep `<!channel>` inert anyway.
  const clean = sanitizeText(text).replace(/\s*\r?\n\s*/g, ' ').replace(/</g, '‹').replace(/>/g, '›').trim();
  return { type: 'plain_text', text: truncate(clean || '-', max), emoji: true };
}

function mrkdwn(text: string, max: number = SLACK_LIMITS.sectionText): MrkdwnText {
  return { type: 'mrkdwn', text: truncate(text || ' ', max) };
}

function section(text: string, max: number = SLACK_LIMITS.sectionText): SectionBlock {
  return { type: 'section', text: mrkdwn(text, max) };
}

function header(text: string): HeaderBlock {
  return { type: 'header', text: plain(text, SLACK_LIMITS.headerText) };
}

function context(texts: string[]): ContextBlock {
  return {
    type: 'context',
    elements: texts.slice(0, SLACK_LIMITS.contextElements).map((t) => mrkdwn(t, SLACK_LIMITS.textObject)),
  };
}

export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / (1024 * 1024)).toFixed(1)} MB`;
}

export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return 'unknown';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const totalSec = Math.round(ms / 1000);
  if (totalSec < 3600) return `${Math.floor(totalSec / 60)} min ${totalSec % 60} s`;
  const totalMin = Math.round(totalSec / 60);
  return `${Math.floor(totalMin / 60)} h ${totalMin % 60} min`;
}

function percent(confidence: number): string {
  if (!Number.isFinite(confidence)) return '?%';
  return `${Math.round(Math.min(1, Math.max(0, confidence)) * 100)}%`;
}

function userMention(userId: string): string {
  return /^[UW][A-Z0-9]{2,30}$/.test(userId) ? `<@${userId}>` : mrkdwnSafe(userId);
}

export type TimeInput = Date | number | string;

function toMs(time: TimeInput): number {
  if (time instanceof Date) return time.getTime();
  if (typeof time === 'number') return time;
  return Date.parse(time);
}

/** A time every Slack client shows in the reader's own time zone; the ISO text is the fallback. */
function slackTime(time: TimeInput): string {
  const ms = toMs(time);
  if (!Number.isFinite(ms)) return 'unknown time';
  const iso = new Date(ms).toISOString();
  return `<!date^${Math.floor(ms / 1000)}^{date_num} {time_secs}|${iso}>`;
}

function safeFileStem(text: string): string {
  return text.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^[._]+/, '').slice(0, 80) || 'host';
}

export interface FittedLines {
  /** Lines ready for a code block (escaped), in their original order. */
  lines: string[];
  omittedLines: number;
  omittedCharacters: number;
}

/**
 * As many whole lines as fit in `budget` characters once escaped; from the start, or from the end for
 * command output (where the error usually is). A line too long to ever fit is replaced by a placeholder
 * saying how long it was, so the lines around it keep their order.
 */
export function fitLines(rawLines: readonly string[], budget: number, fromEnd = false): FittedLines {
  const order = fromEnd ? [...rawLines].reverse() : rawLines;
  const shown: string[] = [];
  let used = 0;
  let omittedLines = 0;
  let omittedCharacters = 0;
  let index = 0;
  for (; index < order.length; index += 1) {
    const raw = order[index] as string;
    let line = codeLine(raw);
    if (line.length > LONG_LINE) {
      omittedLines += 1;
      omittedCharacters += raw.length;
      line = `[a line of ${formatCount(raw.length)} characters, in the attached file]`;
    }
    const cost = line.length + 1;
    if (used + cost > budget) break;
    shown.push(line);
    used += cost;
  }
  for (; index < order.length; index += 1) {
    omittedLines += 1;
    omittedCharacters += (order[index] as string).length;
  }
  return { lines: fromEnd ? shown.reverse() : shown, omittedLines, omittedCharacters };
}

function splitLines(text: string): string[] {
  const lines = text.split(/\r?\n/);
  if (lines.length > 1 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

function codeBlock(lines: string[]): string {
  return lines.length === 0 ? '' : `\`\`\`\n${lines.join('\n')}\n\`\`\``;
}

function omittedNote(lines: number, characters: number, filename: string): string {
  return `_${formatCount(lines)} more line${lines === 1 ? '' : 's'} (${formatBytes(characters)}) left out; the full text is in ${mrkdwnSafe(filename)}_`;
}

/** Last resort should the budget loop ever fail: a message that certainly fits, pointing at the file. */
function minimalMessage(title: string, summary: string, note: string): Block[] {
  return [header(title), section(truncate(summary, 1000)), context([truncate(note, 500)])];
}

function fits(blocks: Block[], text: string): boolean {
  return blocksTextLength(blocks) <= MESSAGE_TEXT_BUDGET && checkMessage({ text, blocks }).length === 0;
}

// ---------------------------------------------------------------------------------------------------
// Diagnosis

const STATE_MARK: Record<LinkState, string> = { ok: ':white_check_mark:', broken: ':x:', unknown: ':grey_question:' };

/**
 * The request path from src/diagnosis/chain.ts (the one chain model), as one mrkdwn section: the main
 * path in order, the example as the side branch it is, and which link broke and why.
 */
export function chainText(nodes: readonly ChainNode[]): string {
  const label = (node: ChainNode) => (node.state === 'broken' ? `*${node.label}*` : node.label);
  const main = nodes.filter((node) => node.link !== 'example');
  const parts = main.map((node, i) => {
    const previous = main[i - 1];
    const link = i === 0 ? '' : node.state === 'broken' && previous?.state !== 'broken' ? '  ━✖━▶  ' : '  →  ';
    return `${link}${STATE_MARK[node.state]} ${label(node)}`;
  });
  const example = nodes.find((node) => node.link === 'example');
  const branch = example ? `   ·   ${STATE_MARK[example.state]} ${label(example)}` : '';
  const broken = nodes.filter((node) => node.state === 'broken');
  const note =
    broken.length > 0
      ? `Broken: ${broken.map((node) => `${node.label} (${node.causes.join(', ')})`).join('; ')}.`
      : nodes.some((node) => node.state === 'unknown')
        ? 'Not every link could be examined.'
        : 'Every link answers.';
  return `*Path:* ${parts.join('')}${branch}\n_${mrkdwnSafe(note)}_`;
}

const VERDICT_MARK: Record<Verdict, string> = {
  healthy: ':large_green_circle:',
  fault: ':red_circle:',
  unreachable: ':black_circle:',
  unknown: ':white_circle:',
};

function checkOffered(remediations: readonly OfferedRemediation[]): void {
  const seen = new Set<string>();
  for (const r of remediations) {
    // Ours, not user text: a malformed one is a bug upstream, said loudly rather than rendered.
    if (!/^[A-Za-z0-9._~-]{1,200}$/.test(r.actionId)) {
      throw new RangeError(`renderDiagnosis: actionId ${JSON.stringify(r.actionId.slice(0, 50))} is not an opaque id (1-200 of A-Z a-z 0-9 . _ ~ -)`);
    }
    if (seen.has(r.actionId)) throw new RangeError(`renderDiagnosis: actionId ${r.actionId} offered twice`);
    seen.add(r.actionId);
  }
}

export function remediationActionId(actionId: string): string {
  return `${REMEDIATE_ACTION_PREFIX}${actionId}`;
}

/** The pending action's id behind a clicked button's action_id, or undefined when it is not ours. */
export function pendingActionIdOf(actionIdOfButton: string): string | undefined {
  if (!actionIdOfButton.startsWith(REMEDIATE_ACTION_PREFIX)) return undefined;
  const id = actionIdOfButton.slice(REMEDIATE_ACTION_PREFIX.length);
  return /^[A-Za-z0-9._~-]{1,200}$/.test(id) ? id : undefined;
}

function remediationButton(r: OfferedRemediation): ButtonElement {
  const command = inlineCode(r.command);
  const host = inlineCode(r.host);
  let text = `Runs ${command} on ${host} (risk: ${r.risk}).`;
  if (text.length > SLACK_LIMITS.confirmText) {
    // The exact command is in the message above the buttons; the dialog names its start and the host.
    const tail = ` on ${host}: see the full command above.`;
    text = `Runs ${truncate(mrkdwnSafe(r.command), SLACK_LIMITS.confirmText - tail.length - 8)}${tail}`;
  }
  const button: ButtonElement = {
    type: 'button',
    text: plain(r.title, SLACK_LIMITS.buttonText),
    action_id: remediationActionId(r.actionId),
    value: r.actionId,
    confirm: {
      title: plain(`${r.title} on ${r.host}?`, SLACK_LIMITS.confirmTitle),
      text: mrkdwn(text, SLACK_LIMITS.confirmText),
      confirm: plain(r.risk === 'high' ? 'Run it (high risk)' : 'Run it', SLACK_LIMITS.confirmButton),
      deny: plain('Cancel', SLACK_LIMITS.confirmButton),
      ...(r.risk === 'high' ? { style: 'danger' as const } : {}),
    },
  };
  if (r.risk === 'high') button.style = 'danger';
  else if (r.risk === 'low') button.style = 'primary';
  return button;
}

function causeLines(cause: RankedCause): string[] {
  return cause.evidence.flatMap((e) => splitLines(e.line).map((line) => `${e.step} | ${line}`));
}

/** The whole diagnosis as plain text: what the message could not hold, for upload as a file. */
export function renderDiagnosisReport(finding: Finding, remediations: readonly OfferedRemediation[] = []): string {
  const out: string[] = ['oo-responder diagnosis', `host: ${finding.host}`, `verdict: ${finding.verdict}`];
  if (finding.error) out.push(`error: ${finding.error}`);
  out.push('', 'causes, most likely first:');
  if (finding.causes.length === 0) out.push('  (none)');
  finding.causes.forEach((cause, i) => {
    out.push(`${i + 1}. ${cause.title} [${cause.id}] confidence ${percent(cause.confidence)}`);
    for (const line of causeLines(cause)) out.push(`   ${line}`);
    for (const r of cause.remediations) out.push(`   fix: ${r.title} [${r.id}] risk ${r.risk}`);
  });
  if (remediations.length > 0) {
    out.push('', 'fixes offered:');
    for (const r of remediations) out.push(`- ${r.title} [${r.remediationId}] risk ${r.risk} on ${r.host}: ${r.command}`);
  }
  out.push('', 'steps:');
  for (const step of finding.steps) {
    const status = step.timedOut ? 'timed out' : `exit ${step.exitCode === null ? '-' : step.exitCode}`;
    out.push(`=== ${step.id}: ${step.command} (${status}, ${step.durationMs} ms${step.truncated ? ', output capped' : ''}) ===`);
    out.push(step.output);
  }
  return `${out.join('\n')}\n`;
}

const EVIDENCE_BUDGET = 5500;

/** Characters a cause's evidence needs in a code block (escaped lines plus newlines). */
function evidenceCost(cause: RankedCause): number {
  let cost = 0;
  for (const line of causeLines(cause)) {
    const length = codeLine(line).length;
    // fitLines shows a line longer than LONG_LINE as a short placeholder.
    cost += (length > LONG_LINE ? 60 : length) + 1;
    if (cost > SLACK_LIMITS.sectionText) break;
  }
  return cost;
}

/** Max-min fair shares of `budget`: nobody gets more than it needs, the leftovers go to the others. */
export function allocate(needs: readonly number[], budget: number): number[] {
  const shares = needs.map(() => 0);
  let left = Math.max(0, budget);
  let pending = needs.map((_, i) => i).filter((i) => (needs[i] as number) > 0);
  while (pending.length > 0 && left > 0) {
    const share = left / pending.length;
    const satisfied = pending.filter((i) => (needs[i] as number) <= share);
    if (satisfied.length === 0) {
      for (const i of pending) shares[i] = Math.floor(share);
      break;
    }
    for (const i of satisfied) {
      shares[i] = needs[i] as number;
      left -= needs[i] as number;
    }
    pending = pending.filter((i) => !satisfied.includes(i));
  }
  return shares;
}

function stepTimings(steps: readonly StepRecord[]): string {
  if (steps.length === 0) return '';
  const parts: string[] = [];
  let used = 0;
  let shown = 0;
  for (const step of steps) {
    let part = `${truncate(mrkdwnSafe(String(step.id)), 40)} ${formatDuration(step.durationMs)}`;
    if (step.timedOut) part += ' (timed out)';
    else if (step.exitCode !== null && step.exitCode !== 0) part += ` (exit ${step.exitCode})`;
    if (used + part.length + 3 > 500) break;
    parts.push(part);
    used += part.length + 3;
    shown += 1;
  }
  const total = steps.reduce((sum, s) => sum + (Number.isFinite(s.durationMs) ? Math.max(0, s.durationMs) : 0), 0);
  const more = steps.length - shown;
  return `:stopwatch: ${parts.join(' · ')}${more > 0 ? ` · +${formatCount(more)} more` : ''} · total ${formatDuration(total)}`;
}

export interface DiagnosisRenderOptions {
  /** Buttons to offer, each backed by a pending action on the server. */
  remediations?: readonly OfferedRemediation[];
}

/** A finding as a Slack message: verdict, ranked causes with their evidence, the broken link, the fixes. */
export function renderDiagnosis(finding: Finding, options: DiagnosisRenderOptions = {}): RenderedMessage {
  const offered = options.remediations ?? [];
  checkOffered(offered);
  const host = finding.host;
  const filename = `oo-${safeFileStem(host)}-diagnosis.txt`;
  const top = finding.causes[0];

  const title = `${VERDICT_MARK[finding.verdict]} ${host} — ${finding.verdict}${top ? `: ${top.title}` : ''}`;
  const fallback = truncate(
    mrkdwnSafe(`${host}: ${finding.verdict}${top ? ` — ${top.title} (${percent(top.confidence)})` : ''}`),
    FALLBACK_TEXT_MAX,
  );

  let summary: string;
  if (finding.verdict === 'healthy') summary = 'No fault found: every check passed.';
  else if (top) {
    const others = finding.causes.length - 1;
    summary = `*Most likely:* ${mrkdwnSafe(top.title)} — ${percent(top.confidence)} ${inlineCode(top.id)}${others > 0 ? ` · ${others} other possible cause${others === 1 ? '' : 's'}` : ''}`;
  } else summary = finding.verdict === 'unreachable' ? '*Could not reach the host.*' : '*Could not tell what is wrong.*';
  if (finding.error) summary += `\n${truncate(mrkdwnSafe(finding.error), 600)}`;

  const shownCauses = finding.causes.slice(0, MAX_CAUSES_SHOWN);
  const hiddenCauses = finding.causes.slice(MAX_CAUSES_SHOWN);
  const causeHeads = shownCauses.map(
    (cause, i) => `*${i + 1}. ${mrkdwnSafe(truncate(cause.title, 150))}* — ${percent(cause.confidence)} ${inlineCode(truncate(cause.id, 60))}`,
  );

  const buttons = offered.slice(0, MAX_REMEDIATION_BUTTONS).map(remediationButton);
  const fixLines = offered.map(
    (r) => `• *${mrkdwnSafe(truncate(r.title, 100))}* (risk: ${r.risk}) — ${inlineCode(truncate(r.command, 400))} on ${inlineCode(truncate(r.host, 100))}`,
  );
  const notOffered = offered.length - buttons.length;

  const build = (evidenceBudget: number) => {
    const blocks: Block[] = [header(title), section(truncate(summary, 1000))];
    blocks.push(section(chainText(chainOf(finding))));
    let omittedLines = 0;
    let omittedCharacters = 0;
    const allocation = allocate(
      shownCauses.map((c, i) => Math.min(evidenceCost(c), SLACK_LIMITS.sectionText - (causeHeads[i] as string).length - 220)),
      evidenceBudget,
    );
    shownCauses.forEach((cause, i) => {
      const head = causeHeads[i] as string;
      const fitted = fitLines(causeLines(cause), Math.max(0, allocation[i] ?? 0));
      omittedLines += fitted.omittedLines;
      omittedCharacters += fitted.omittedCharacters;
      let text = head;
      if (fitted.lines.length > 0) text += `\n${codeBlock(fitted.lines)}`;
      if (fitted.omittedLines > 0) text += `\n${omittedNote(fitted.omittedLines, fitted.omittedCharacters, filename)}`;
      blocks.push(section(text));
    });
    if (hiddenCauses.length > 0) {
      const names = hiddenCauses
        .slice(0, 5)
        .map((c) => `${mrkdwnSafe(truncate(c.title, 60))} (${percent(c.confidence)})`)
        .join(', ');
      blocks.push(context([`and ${hiddenCauses.length} less likely cause${hiddenCauses.length === 1 ? '' : 's'}: ${names}${hiddenCauses.length > 5 ? ', …' : ''} — all in ${mrkdwnSafe(filename)}`]));
      omittedLines += hiddenCauses.reduce((n, c) => n + causeLines(c).length, 0);
      omittedCharacters += hiddenCauses.reduce((n, c) => n + causeLines(c).join('\n').length, 0);
    }
    if (fixLines.length > 0) {
      const fitted: string[] = [];
      let used = 0;
      for (const line of fixLines) {
        if (used + line.length + 1 > 1500) break;
        fitted.push(line);
        used += line.length + 1;
      }
      const rest = fixLines.length - fitted.length;
      let text = `*Fixes offered* (each asks before it runs):\n${fitted.join('\n')}`;
      if (rest > 0) text += `\n_+${rest} more in ${mrkdwnSafe(filename)}_`;
      if (notOffered > 0) text += `\n_${notOffered} fix${notOffered === 1 ? '' : 'es'} not offered as buttons here (at most ${MAX_REMEDIATION_BUTTONS})._`;
      blocks.push(section(text));
    }
    if (buttons.length > 0) {
      const actions: ActionsBlock = { type: 'actions', block_id: REMEDIATE_ACTIONS_BLOCK_ID, elements: buttons };
      blocks.push(actions);
    }
    const timings = stepTimings(finding.steps);
    if (timings) blocks.push(context([timings]));
    return { blocks, omittedLines, omittedCharacters };
  };

  let chosen: ReturnType<typeof build> | undefined;
  for (const share of [1, 0.6, 0.35, 0.15, 0]) {
    const attempt = build(Math.floor(EVIDENCE_BUDGET * share));
    if (fits(attempt.blocks, fallback)) {
      chosen = attempt;
      break;
    }
  }
  const full = renderDiagnosisReport(finding, offered);
  if (!chosen) {
    const blocks = minimalMessage(title, summary, `Details in ${mrkdwnSafe(filename)}`);
    return {
      text: fallback,
      blocks,
      attachments: [{ filename, content: full }],
      omitted: { lines: finding.causes.reduce((n, c) => n + causeLines(c).length, 0), characters: full.length },
    };
  }
  const anythingLeftOut = chosen.omittedLines > 0 || hiddenCauses.length > 0 || notOffered > 0;
  return {
    text: fallback,
    blocks: chosen.blocks,
    attachments: anythingLeftOut ? [{ filename, content: full }] : [],
    omitted: { lines: chosen.omittedLines, characters: chosen.omittedCharacters },
  };
}

// ---------------------------------------------------------------------------------------------------
// Progress

export interface ProgressInfo {
  host: string;
  stepsDone: number;
  stepsTotal: number;
  /** The step running now. */
  currentStep?: string;
  /** e.g. "Diagnosing 502" (default). */
  title?: string;
  elapsedMs?: number;
}

export function renderProgress(info: ProgressInfo): RenderedMessage {
  const total = Math.max(0, Math.floor(Number.isFinite(info.stepsTotal) ? info.stepsTotal : 0));
  const done = Math.min(total, Math.max(0, Math.floor(Number.isFinite(info.stepsDone) ? info.stepsDone : 0)));
  const cells = 10;
  const filled = total === 0 ? 0 : Math.round((done / total) * cells);
  const bar = `${'▰'.repeat(filled)}${'▱'.repeat(cells - filled)}`;
  const title = info.title ?? 'Diagnosing';
  const finished = total > 0 && done === total;
  const lines = [`${bar}  *${done}/${total}* steps${finished ? ' — done' : ''}`];
  if (info.currentStep && !finished) lines.push(`Now: ${inlineCode(truncate(info.currentStep, 200))}`);
  const blocks: Block[] = [
    section(`:hourglass_flowing_sand: *${mrkdwnSafe(truncate(title, 100))}* on ${inlineCode(truncate(info.host, 100))}`),
    section(lines.join('\n')),
  ];
  if (info.elapsedMs !== undefined) blocks.push(context([`:stopwatch: ${formatDuration(info.elapsedMs)} so far`]));
  return {
    text: truncate(mrkdwnSafe(`${title} ${info.host}: ${done}/${total} steps`), FALLBACK_TEXT_MAX),
    blocks,
    attachments: [],
    omitted: { lines: 0, characters: 0 },
  };
}

// ---------------------------------------------------------------------------------------------------
// Remediation result

export interface RemediationResultInfo {
  host: string;
  title: string;
  remediationId?: string;
  command: string;
  /** Slack user id of who approved (the clicker, checked server-side). */
  approvedBy: string;
  /** Slack user id of who asked for the diagnosis, when it was a person. */
  requestedBy?: string;
  exitCode: number | null;
  durationMs: number;
  timedOut?: boolean;
  /** What the command printed (redacted upstream). */
  output: string;
  /** The re-check after the fix; undefined when none ran. */
  verified?: { healthy: boolean; detail?: string };
}

export function renderRemediationResult(info: RemediationResultInfo): RenderedMessage {
  const filename = `oo-${safeFileStem(info.host)}-${safeFileStem(info.remediationId ?? 'remediation')}-output.txt`;
  const ran = !info.timedOut && info.exitCode === 0;
  const healthy = info.verified?.healthy === true;
  const headline = !ran
    ? `:x: ${info.host} — ${info.title} failed${info.timedOut ? ' (timed out)' : ` (exit ${info.exitCode ?? '-'})`}`
    : healthy
      ? `:white_check_mark: ${info.host} — fixed: ${info.title}`
      : info.verified
        ? `:warning: ${info.host} — ${info.title} ran, still not healthy`
        : `:white_check_mark: ${info.host} — ${info.title} ran`;

  const who = [`*Approved by* ${userMention(info.approvedBy)}`];
  if (info.requestedBy) who.push(`*asked by* ${userMention(info.requestedBy)}`);
  const ranLine = `*Ran* ${inlineCode(truncate(info.command, 1200))} on ${inlineCode(truncate(info.host, 100))} — ${
    info.timedOut ? 'timed out' : `exit ${info.exitCode ?? '-'}`
  } after ${formatDuration(info.durationMs)}`;

  const verification = info.verified
    ? `${info.verified.healthy ? ':white_check_mark: *Verified healthy*' : ':x: *Not healthy after the fix*'}${
        info.verified.detail ? `: ${truncate(mrkdwnSafe(info.verified.detail), 800)}` : ''
      }`
    : ':grey_question: *Not verified*: no health check ran after the fix.';

  const outputLines = splitLines(info.output);
  const fitted = fitLines(outputLines, SLACK_LIMITS.sectionText - 300, true);
  let outputText = '*Output*';
  if (fitted.omittedLines > 0) {
    outputText += ` (last lines; ${formatCount(fitted.omittedLines)} earlier line${fitted.omittedLines === 1 ? '' : 's'}, ${formatBytes(
      fitted.omittedCharacters,
    )}, left out: the full output is in ${mrkdwnSafe(filename)})`;
  }
  outputText += fitted.lines.length > 0 ? `\n${codeBlock(fitted.lines)}` : '\n_(no output)_';

  const blocks: Block[] = [
    header(headline),
    section(`${who.join(' · ')}\n${ranLine}`),
    section(outputText),
    section(verification),
  ];
  const text = truncate(mrkdwnSafe(headline.replace(/^:[a-z_]+: /, '')), FALLBACK_TEXT_MAX);
  const full = `${info.title} on ${info.host}\ncommand: ${info.command}\napproved by: ${info.approvedBy}\n${
    info.timedOut ? 'timed out' : `exit ${info.exitCode ?? '-'}`
  } after ${info.durationMs} ms\n\n${info.output}`;
  return {
    text,
    blocks,
    attachments: fitted.omittedLines > 0 ? [{ filename, content: full }] : [],
    omitted: { lines: fitted.omittedLines, characters: fitted.omittedCharacters },
  };
}

// ---------------------------------------------------------------------------------------------------
// Incident summary

export interface TimelineEntry {
  at: TimeInput;
  text: string;
}

export interface IncidentSummaryInfo {
  title: string;
  host?: string;
  incidentKey?: string;
  openedAt: TimeInput;
  /** When the first diagnosis named a cause. */
  diagnosedAt?: TimeInput;
  /** When the host was verified healthy again (or the alert resolved). */
  recoveredAt?: TimeInput;
  cause?: { id: string; title: string };
  /** Who approved the fix that worked. */
  fixedBy?: string;
  timeline: readonly TimelineEntry[];
}

function between(from: TimeInput, to: TimeInput | undefined): string {
  if (to === undefined) return 'not yet';
  const ms = toMs(to) - toMs(from);
  return Number.isFinite(ms) && ms >= 0 ? formatDuration(ms) : 'unknown';
}

export function renderIncidentSummary(info: IncidentSummaryInfo): RenderedMessage {
  const stem = safeFileStem(info.host ?? info.incidentKey ?? 'incident');
  const filename = `oo-${stem}-timeline.txt`;
  const entries = info.timeline
    .map((entry, index) => ({ entry, index, ms: toMs(entry.at) }))
    .sort((a, b) => (Number.isFinite(a.ms) ? a.ms : Infinity) - (Number.isFinite(b.ms) ? b.ms : Infinity) || a.index - b.index)
    .map(({ entry }) => entry);

  const fields: MrkdwnText[] = [
    mrkdwn(`*Opened*\n${slackTime(info.openedAt)}`, SLACK_LIMITS.sectionFieldText),
    mrkdwn(`*Time to diagnosis*\n${between(info.openedAt, info.diagnosedAt)}`, SLACK_LIMITS.sectionFieldText),
    mrkdwn(`*Time to recovery*\n${between(info.openedAt, info.recoveredAt)}`, SLACK_LIMITS.sectionFieldText),
    mrkdwn(
      `*Cause*\n${info.cause ? `${mrkdwnSafe(truncate(info.cause.title, 300))} ${inlineCode(truncate(info.cause.id, 60))}` : 'not identified'}`,
      SLACK_LIMITS.sectionFieldText,
    ),
  ];
  if (info.fixedBy) fields.push(mrkdwn(`*Fix approved by*\n${userMention(info.fixedBy)}`, SLACK_LIMITS.sectionFieldText));

  // Each entry is one line: the time, then the text on a single line.
  const lines: string[] = [];
  let used = 0;
  let shown = 0;
  for (const entry of entries) {
    const line = `• ${slackTime(entry.at)}  ${truncate(mrkdwnSafe(entry.text), 300)}`;
    if (used + line.length + 1 > SLACK_LIMITS.sectionText - 200) break;
    lines.push(line);
    used += line.length + 1;
    shown += 1;
  }
  const left = entries.length - shown;
  let timeline = `*Timeline*\n${lines.length > 0 ? lines.join('\n') : '_(empty)_'}`;
  if (left > 0) timeline += `\n_${formatCount(left)} more entr${left === 1 ? 'y' : 'ies'} in ${mrkdwnSafe(filename)}_`;

  const title = `:clipboard: Incident summary — ${info.title}${info.host ? ` on ${info.host}` : ''}`;
  const blocks: Block[] = [header(title), { type: 'section', fields }, section(timeline)];
  if (info.incidentKey) blocks.push(context([`incident ${inlineCode(truncate(info.incidentKey, 100))}`]));

  const full = entries
    .map((e) => {
      const ms = toMs(e.at);
      return `${Number.isFinite(ms) ? new Date(ms).toISOString() : 'unknown time'}  ${e.text}`;
    })
    .join('\n');
  return {
    text: truncate(
      mrkdwnSafe(`Incident summary: ${info.title}${info.host ? ` on ${info.host}` : ''} — recovery ${between(info.openedAt, info.recoveredAt)}`),
      FALLBACK_TEXT_MAX,
    ),
    blocks,
    attachments: left > 0 ? [{ filename, content: `${full}\n` }] : [],
    omitted: { lines: left, characters: entries.slice(shown).reduce((n, e) => n + e.text.length, 0) },
  };
}
