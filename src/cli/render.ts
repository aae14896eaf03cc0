import { chainOf, type ChainNode } from '../diagnosis/chain.js';
import type { Finding, RankedCause } from '../diagnosis/types.js';

export interface RenderOptions {
  color: boolean;
  /** Evidence lines shown per cause; the JSON output has them all. */
  maxEvidenceLines?: number;
  /** Terminal width; long evidence lines are cut to it (the JSON keeps them whole). */
  width?: number;
}

const ANSI = { red: 31, green: 32, yellow: 33, dim: 2, bold: 1 } as const;
type Style = keyof typeof ANSI;

function painter(color: boolean) {
  return (style: Style, text: string): string => (color ? `\u001b[${ANSI[style]}m${text}\u001b[0m` : text);
}

function fit(text: string, width: number): string {
  return text.length <= width ? text : `${text.slice(0, Math.max(1, width - 1))}…`;
}

const percent = (confidence: number): string => `${Math.round(confidence * 100)}%`;

function renderChain(chain: ChainNode[], paint: ReturnType<typeof painter>): string {
  const mark = (node: ChainNode): string => {
    if (node.state === 'broken') return paint('red', `✗ ${node.label}`);
    if (node.state === 'unknown') return paint('dim', `? ${node.label}`);
    return paint('green', `✓ ${node.label}`);
  };
  const main = chain.filter((node) => node.link !== 'example').map(mark);
  const example = chain.find((node) => node.link === 'example');
  return `client → ${main.join(' → ')}${example ? `   (${mark(example)})` : ''}`;
}

function renderCause(cause: RankedCause, rank: number, options: Required<RenderOptions>): string[] {
  const paint = painter(options.color);
  const lines: string[] = [];
  const subject = cause.subject ? ` [${cause.subject}]` : '';
  lines.push(`${rank === 0 ? paint('bold', 'cause') : 'also'}   ${cause.id}${subject} — ${cause.title} (${percent(cause.confidence)})`);
  const shown = cause.evidence.slice(0, options.maxEvidenceLines);
  for (const evidence of shown) {
    lines.push(`        ${paint('dim', `${evidence.step}:`)} ${fit(evidence.line, options.width - 10 - evidence.step.length)}`);
  }
  if (cause.evidence.length > shown.length) {
    lines.push(paint('dim', `        … ${cause.evidence.length - shown.length} more evidence lines (--json shows all)`));
  }
  for (const fix of cause.remediations) {
    lines.push(`        fix: ${fix.id} — ${fix.title} (risk ${fix.risk})`);
  }
  return lines;
}

/** One host's finding for a terminal: verdict first, then the chain, the evidence and the fixes. */
export function renderFinding(finding: Finding, renderOptions: RenderOptions): string {
  const options: Required<RenderOptions> = { maxEvidenceLines: 4, width: 120, ...renderOptions };
  const paint = painter(options.color);
  const verdictStyle: Style = finding.verdict === 'healthy' ? 'green' : finding.verdict === 'unknown' ? 'yellow' : 'red';
  const lead = finding.causes[0];
  const headline = lead ? `${lead.id} — ${lead.title}` : finding.verdict === 'healthy' ? 'no fault found' : (finding.error ?? '');
  const lines = [`${paint('bold', finding.host)}  ${paint(verdictStyle, finding.verdict.toUpperCase())}  ${headline}`];
  lines.push(`  ${renderChain(chainOf(finding), paint)}`);
  finding.causes.forEach((cause, rank) => lines.push(...renderCause(cause, rank, options).map((line) => `  ${line}`)));
  if (finding.steps.length > 0) {
    const timings = finding.steps.map((step) => {
      const flag = step.timedOut ? ' timed out' : step.exitCode === null ? ' failed' : '';
      return `${step.id} ${step.durationMs}ms${flag}`;
    });
    lines.push(paint('dim', `  steps: ${timings.join(', ')}`));
  }
  return lines.join('\n');
}

export function renderFindings(findings: Finding[], options: RenderOptions): string {
  return findings.map((finding) => renderFinding(finding, options)).join('\n\n');
}
