/**
 * Whether one variant really did the work on one host: every planned step ran to the end and exited 0,
 * and what the steps printed classifies to the same verdict and causes as the floor's run of the same
 * commands. Pure.
 */
import { findingFromSteps } from '../diagnosis/diagnose.js';
import type { DiagnosisRunbook } from '../diagnosis/diagnose.js';
import type { Finding, StepRecord } from '../diagnosis/types.js';

export interface HostOutcome {
  host: string;
  ok: boolean;
  /** Why the host does not count as done, when it does not. */
  error?: string;
  verdict?: string;
  /** Cause ids, most likely first. */
  causes?: string[];
}

export interface StepSummary {
  id: string;
  exitCode: number | null;
  timedOut?: boolean;
}

/** Checks the steps of one host against the plan: all present, none timed out, every one exit 0. */
export function checkSteps(expectedIds: readonly string[], steps: readonly StepSummary[]): string | null {
  const problems: string[] = [];
  const byId = new Map(steps.map((step) => [step.id, step]));
  for (const id of expectedIds) {
    const step = byId.get(id);
    if (!step) problems.push(`${id} did not run`);
    else if (step.timedOut) problems.push(`${id} timed out`);
    else if (step.exitCode !== 0) problems.push(`${id} exited ${step.exitCode ?? 'without a status'}`);
  }
  return problems.length > 0 ? problems.join(', ') : null;
}

/** A host's outcome from a finding oo-responder produced. */
export function outcomeFromFinding(finding: Finding, expectedIds: readonly string[]): HostOutcome {
  const base = { host: finding.host, verdict: finding.verdict, causes: finding.causes.map((cause) => cause.id) };
  if (finding.verdict === 'unreachable') return { ...base, ok: false, error: `unreachable: ${finding.error ?? 'no reason given'}` };
  const problem = checkSteps(expectedIds, finding.steps);
  return problem === null ? { ...base, ok: true } : { ...base, ok: false, error: problem };
}

/** A host's outcome from step outputs another tool brought back, classified as oo-responder would. */
export function outcomeFromOutputs(
  host: string,
  expectedIds: readonly string[],
  steps: readonly { id: string; exitCode: number; output: string }[],
  runbook: Pick<DiagnosisRunbook, 'remediationsFor'>,
): HostOutcome {
  const records: StepRecord[] = steps.map((step) => ({ id: step.id, command: '', exitCode: step.exitCode, durationMs: 0, output: step.output }));
  const finding = findingFromSteps(host, records, runbook, { install: 'deb', processManager: 'supervisor' });
  return outcomeFromFinding(finding, expectedIds);
}

export function failedOutcome(host: string, error: string): HostOutcome {
  return { host, ok: false, error };
}

/**
 * Holds a run's outcomes to the reference (the floor's): a host that succeeded but classified
 * differently did not see what the floor saw, so its number would not measure the same work.
 */
export function compareWithReference(outcomes: readonly HostOutcome[], reference: ReadonlyMap<string, HostOutcome>): HostOutcome[] {
  return outcomes.map((outcome) => {
    if (!outcome.ok) return outcome;
    const expected = reference.get(outcome.host);
    if (!expected?.ok) return outcome;
    const same = outcome.verdict === expected.verdict && (outcome.causes ?? []).join(',') === (expected.causes ?? []).join(',');
    if (same) return outcome;
    return {
      ...outcome,
      ok: false,
      error: `classified ${outcome.verdict} [${(outcome.causes ?? []).join(', ')}], the floor ${expected.verdict} [${(expected.causes ?? []).join(', ')}]`,
    };
  });
}

/** Hosts that are missing from the outcomes, or failed, as "host: why" lines. */
export function failuresOf(outcomes: readonly HostOutcome[], hosts: readonly string[]): string[] {
  const byHost = new Map(outcomes.map((outcome) => [outcome.host, outcome]));
  const failures: string[] = [];
  for (const host of hosts) {
    const outcome = byHost.get(host);
    if (!outcome) failures.push(`${host}: no result`);
    else if (!outcome.ok) failures.push(`${host}: ${outcome.error ?? 'failed'}`);
  }
  return failures;
}
