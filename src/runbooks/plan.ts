// From a validated runbook and a host's facts to the exact commands to run. Pure: no I/O.
import type { Cause, RemediationRef } from '../diagnosis/types.js';
import { PROCESS_MANAGERS, type EvidenceKey, type InstallKind, type ProcessManager } from '../diagnosis/vocabulary.js';
import type { RemediationCommand, Runbook, RunbookFix, RunbookRemediation, StepCommand } from './schema.js';
import { DEFAULT_LOG_LINES, renderCommand, shellQuote, type TemplateParams } from './template.js';

/** What planning needs to know about a host. */
export interface PlanTarget {
  processManager: ProcessManager;
  /** The host runs privileged commands through `sudo -n` (the inventory's `sudo`). */
  sudo: boolean;
  /** Required for the docker manager. */
  container?: string;
  /** Lines of each log to show; default 200. */
  logLines?: number;
}

/** One command ready for CommandRunner.run. */
export interface PlannedStep {
  id: EvidenceKey;
  title: string;
  command: string;
  timeoutMs: number;
  maxOutputBytes: number;
}

export interface PlannedDetect {
  id: 'detect';
  title: string;
  command: string;
  timeoutMs: number;
  maxOutputBytes: number;
}

/** A remediation's precheck, command or rollback, ready for CommandRunner.run. */
export interface PlannedCommand {
  /** `<remediation>:precheck`, `<remediation>` or `<remediation>:rollback`. */
  id: string;
  title: string;
  command: string;
  timeoutMs: number;
  maxOutputBytes: number;
}

export interface PlannedRemediation extends RemediationRef {
  fixes: RunbookFix[];
  /** Must exit 0 before `command` runs; nothing has changed when it fails. */
  precheck?: PlannedCommand;
  command: PlannedCommand;
  /** Written to the command's standard input (fixed runbook text). */
  stdin?: string;
  /** Puts back what `command` changed. */
  rollback?: PlannedCommand;
  /** The diagnosis steps to run again afterwards. */
  verify: PlannedStep[];
  /** How long verification may take in all. */
  verifyTimeoutMs: number;
}

/** Root for the whole command: the script runs under `sh -c` so pipes and `;` stay inside sudo. */
export function wrapSudo(command: string): string {
  return `sudo -n sh -c ${shellQuote(command)}`;
}

function params(target: PlanTarget): TemplateParams {
  return {
    logLines: target.logLines ?? DEFAULT_LOG_LINES,
    ...(target.container !== undefined ? { container: target.container } : {}),
  };
}

function templateFor(command: StepCommand | RemediationCommand, manager: ProcessManager): string | undefined {
  return typeof command === 'string' ? command : command[manager];
}

function render(template: string, target: PlanTarget, needsRoot: boolean): string {
  // Block scalars end in a newline; drop it so commands read (and log) as one would type them.
  const command = renderCommand(template, params(target)).trimEnd();
  return target.sudo && needsRoot ? wrapSudo(command) : command;
}

function assertManager(manager: string): asserts manager is ProcessManager {
  if (!(PROCESS_MANAGERS as readonly string[]).includes(manager)) {
    throw new Error(`unknown process manager "${manager}" (known: ${PROCESS_MANAGERS.join(', ')})`);
  }
}

/** The runbook's diagnosis steps as commands for this host, in runbook order. */
export function planSteps(runbook: Runbook, target: PlanTarget, only?: readonly EvidenceKey[]): PlannedStep[] {
  assertManager(target.processManager);
  return runbook.steps
    .filter((step) => !only || only.includes(step.id))
    .map((step) => {
      // The schema requires every manager for steps; a hand-built runbook might not.
      const template = templateFor(step.command, target.processManager);
      if (template === undefined) throw new Error(`step ${step.id} has no command for ${target.processManager}`);
      return {
        id: step.id,
        title: step.title,
        command: render(template, target, step.sudo),
        timeoutMs: step.timeoutMs,
        maxOutputBytes: step.maxOutputBytes,
      };
    });
}

/** The detection command, for hosts whose process manager is not configured. */
export function planDetect(runbook: Runbook, target: { sudo: boolean }): PlannedDetect {
  const command = renderCommand(runbook.detect.command, {}).trimEnd();
  return {
    id: 'detect',
    title: 'Detect the process manager and the install kind',
    command: target.sudo && runbook.detect.sudo ? wrapSudo(command) : command,
    timeoutMs: runbook.detect.timeoutMs,
    maxOutputBytes: runbook.detect.maxOutputBytes,
  };
}

export interface Detection {
  manager: ProcessManager | 'unknown';
  install: InstallKind;
}

/** Remediations that can run under the manager (those whose command names it). */
export function remediationsForManager(runbook: Runbook, manager: ProcessManager): RunbookRemediation[] {
  return runbook.remediations.filter((remediation) => templateFor(remediation.command, manager) !== undefined);
}

/**
 * A fix matches a cause of the same id when either leaves the subject open or both name the same one:
 * a cause without a subject is offered every fix for its id, a fix without a subject serves any subject.
 */
export function fixMatches(fix: RunbookFix, cause: Pick<Cause, 'id' | 'subject'>): boolean {
  return fix.cause === cause.id && (fix.subject === undefined || cause.subject === undefined || fix.subject === cause.subject);
}

/** The remediations that fix the cause, in runbook order; restricted to a manager when one is given. */
export function remediationsFor(
  runbook: Runbook,
  cause: Pick<Cause, 'id' | 'subject'>,
  manager?: ProcessManager,
): RunbookRemediation[] {
  const pool = manager ? remediationsForManager(runbook, manager) : runbook.remediations;
  return pool.filter((remediation) => remediation.fixes.some((fix) => fixMatches(fix, cause)));
}

export function remediationRef(remediation: RunbookRemediation): RemediationRef {
  return { id: remediation.id, title: remediation.title, risk: remediation.risk };
}

/** One remediation as commands for this host; throws when the runbook lacks it or it does not apply. */
export function planRemediation(runbook: Runbook, remediationId: string, target: PlanTarget): PlannedRemediation {
  assertManager(target.processManager);
  const remediation = runbook.remediations.find((candidate) => candidate.id === remediationId);
  if (!remediation) {
    throw new Error(
      `runbook ${runbook.id} has no remediation "${remediationId}" (it has: ${runbook.remediations.map((r) => r.id).join(', ')})`,
    );
  }
  const manager = target.processManager;
  if (templateFor(remediation.command, manager) === undefined) {
    throw new Error(`remediation ${remediation.id} does not apply to ${manager} hosts`);
  }
  const planned = (part: RemediationCommand | undefined, suffix: string, title: string): PlannedCommand | undefined => {
    const template = part === undefined ? undefined : templateFor(part, manager);
    if (template === undefined) return undefined;
    return {
      id: suffix ? `${remediation.id}:${suffix}` : remediation.id,
      title,
      command: render(template, target, remediation.sudo),
      timeoutMs: remediation.timeoutMs,
      maxOutputBytes: remediation.maxOutputBytes,
    };
  };
  const precheck = planned(remediation.precheck, 'precheck', `Check before: ${remediation.title}`);
  const rollback = planned(remediation.rollback, 'rollback', `Roll back: ${remediation.title}`);
  const verify = planSteps(runbook, target, remediation.verify.steps);
  return {
    ...remediationRef(remediation),
    fixes: remediation.fixes,
    ...(precheck ? { precheck } : {}),
    command: planned(remediation.command, '', remediation.title)!,
    ...(remediation.stdin !== undefined ? { stdin: remediation.stdin } : {}),
    ...(rollback ? { rollback } : {}),
    verify,
    verifyTimeoutMs: remediation.verify.timeoutMs ?? verify.reduce((total, step) => total + step.timeoutMs, 0),
  };
}
