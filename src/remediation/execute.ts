import { classify } from '../diagnosis/classify.js';
import { evidenceOf, runStep, type PlannedCommand } from '../diagnosis/diagnose.js';
import type { Cause, StepRecord } from '../diagnosis/types.js';
import type { CauseId, Risk } from '../diagnosis/vocabulary.js';
import type { CommandRunner } from '../ssh/runner.js';

/** A remediation rendered for one host: fixed commands, ready to run. */
export interface RemediationPlan {
  id: string;
  title: string;
  risk: Risk;
  fixes: { cause: CauseId; subject?: string }[];
  /** Must exit 0 before anything changes (e.g. `nginx -t` before a reload). */
  precheck?: PlannedCommand;
  command: PlannedCommand;
  /** Fixed content fed to the command's stdin (a drop-in file's text), never user data. */
  stdin?: string;
  /** Puts back what `command` changed; runs when the command or the verification fails. */
  rollback?: PlannedCommand;
  /** Diagnosis steps to run again afterwards to see whether the fault is gone. */
  verify: PlannedCommand[];
  /** How long to wait for services to settle before each verification attempt. */
  settleMs?: number;
  /** Services take a moment to come up: verify this many times (default 3) before calling it failed. */
  verifyAttempts?: number;
}

export type RemediationStatus =
  | 'verified' // ran, and the causes it fixes are gone
  | 'not_verified' // ran, but the fault is still there (rolled back when a rollback exists)
  | 'precheck_failed' // nothing was changed
  | 'failed'; // the command failed (rolled back when a rollback exists)

export interface RemediationOutcome {
  remediation: string;
  host: string;
  status: RemediationStatus;
  rolledBack: boolean;
  /** Every command that ran, in order, with its redacted output. */
  steps: StepRecord[];
  /** Causes still seen by the verification (empty when verified). */
  remaining: Cause[];
  startedAt: string;
  finishedAt: string;
}

const succeeded = (record: StepRecord): boolean => record.exitCode === 0 && record.timedOut !== true;

/**
 * Which of the verification's causes mean the fix did not work: the ones this remediation claims to
 * fix, and `other` (an unexplained failure, e.g. a probe still answering 502).
 */
export function remainingFaults(plan: Pick<RemediationPlan, 'fixes'>, causes: Cause[]): Cause[] {
  const fixed = new Set<CauseId>([...plan.fixes.map((fix) => fix.cause), 'other']);
  return causes.filter((cause) => fixed.has(cause.id));
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs one remediation on one host: pre-check, command, verification by diagnosing again, and a
 * rollback when the command or the verification fails. Approval and run-at-most-once are the
 * caller's job (the queue); this function runs what it is given exactly once.
 */
export async function executeRemediation(
  host: string,
  plan: RemediationPlan,
  runner: CommandRunner,
): Promise<RemediationOutcome> {
  const startedAt = new Date().toISOString();
  const steps: StepRecord[] = [];
  const finish = (status: RemediationStatus, rolledBack: boolean, remaining: Cause[] = []): RemediationOutcome => ({
    remediation: plan.id,
    host,
    status,
    rolledBack,
    steps,
    remaining,
    startedAt,
    finishedAt: new Date().toISOString(),
  });
  const rollback = async (): Promise<boolean> => {
    if (!plan.rollback) return false;
    steps.push(await runStep(runner, plan.rollback));
    return true;
  };

  if (plan.precheck) {
    const precheck = await runStep(runner, plan.precheck);
    steps.push(precheck);
    if (!succeeded(precheck)) return finish('precheck_failed', false);
  }

  const command = await runStep(runner, plan.command, plan.stdin);
  steps.push(command);
  if (!succeeded(command)) return finish('failed', await rollback());

  const attempts = Math.max(1, plan.verifyAttempts ?? 3);
  let remaining: Cause[] = [];
  for (let attempt = 1; attempt <= attempts; attempt++) {
    await sleep(plan.settleMs ?? 1000);
    const verification = await Promise.all(plan.verify.map((step) => runStep(runner, step)));
    steps.push(...verification);
    const classification = classify(evidenceOf(verification));
    remaining = remainingFaults(plan, classification.causes);
    if (remaining.length === 0 && classification.verdict !== 'unknown') return finish('verified', false);
  }
  return finish('not_verified', await rollback(), remaining);
}
