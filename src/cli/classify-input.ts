import { z } from 'zod';
import type { Evidence } from '../diagnosis/types.js';
import { INSTALL_KINDS, isEvidenceKey } from '../diagnosis/vocabulary.js';

/** A problem with the evidence given to `oo classify`, naming what was wrong. */
export class EvidenceInputError extends Error {
  override readonly name = 'EvidenceInputError';
}

// Generous, but bounded: a pasted evidence file is text an operator collected, not a log archive.
const MAX_INPUT_BYTES = 20 * 1024 * 1024;

const evidenceSchema = z.record(z.string(), z.unknown()).superRefine((object, context) => {
  for (const [key, value] of Object.entries(object)) {
    if (key === 'install') {
      if (!(INSTALL_KINDS as readonly unknown[]).includes(value)) {
        context.addIssue({ code: 'custom', path: [key], message: `must be one of ${INSTALL_KINDS.join(', ')}` });
      }
    } else if (isEvidenceKey(key) && typeof value !== 'string') {
      context.addIssue({ code: 'custom', path: [key], message: `must be a string (the raw text the step printed), got ${typeOf(value)}` });
    }
  }
});

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  return Array.isArray(value) ? 'array' : typeof value;
}

/**
 * Reads `oo classify` input: the contract's evidence object. Unknown keys are ignored, as the contract
 * says; a known key with a value that is not text is an error, so nothing is silently dropped.
 */
export function parseEvidenceInput(text: string, source: string): Evidence {
  if (Buffer.byteLength(text) > MAX_INPUT_BYTES) {
    throw new EvidenceInputError(`${source}: larger than ${MAX_INPUT_BYTES / 1024 / 1024} MiB`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new EvidenceInputError(`${source}: not valid JSON (${(error as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new EvidenceInputError(`${source}: expected a JSON object of step id → raw text, got ${typeOf(json)}`);
  }
  const parsed = evidenceSchema.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(top)'}: ${issue.message}`);
    throw new EvidenceInputError(`${source}: ${problems.join('; ')}`);
  }
  const evidence: Evidence = {};
  for (const [key, value] of Object.entries(parsed.data)) {
    if (isEvidenceKey(key)) evidence[key] = value as string;
    else if (key === 'install') evidence.install = value as Evidence['install'];
  }
  return evidence;
}
