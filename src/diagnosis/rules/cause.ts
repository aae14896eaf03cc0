import type { Cause, EvidenceLine } from '../types.js';
import { CAUSE_TITLES } from '../titles.js';
import type { CauseId } from '../vocabulary.js';
import type { Cited, Line } from './facts.js';

/** Enough lines to prove a cause; more would bury the proof in repetition. */
export const MAX_EVIDENCE_LINES = 8;

/** Builds a cause citing each distinct line once, in the order given (most telling first). */
export function makeCause(id: CauseId, confidence: number, lines: Array<Cited<Line> | undefined>, subject?: string): Cause {
  const evidence: EvidenceLine[] = [];
  const seen = new Set<string>();
  for (const line of lines) {
    if (!line || !line.raw) continue;
    const key = `${line.step}\u0000${line.raw}`;
    if (seen.has(key)) continue;
    seen.add(key);
    evidence.push({ step: line.step, line: line.raw });
    if (evidence.length >= MAX_EVIDENCE_LINES) break;
  }
  return {
    id,
    title: CAUSE_TITLES[id],
    confidence: Math.max(0, Math.min(1, Math.round(confidence * 100) / 100)),
    evidence,
    ...(subject ? { subject } : {}),
  };
}

/** Takes up to `count` lines from each source, so one noisy source cannot crowd out the rest. */
export function interleave(count: number, ...lists: ReadonlyArray<Cited<Line> | undefined>[]): Array<Cited<Line> | undefined> {
  return lists.flatMap((list) => list.slice(0, count));
}
