import { classify } from './classify.js';
import { parseDetect } from './parsers/index.js';
import { CAUSE_TITLES } from './titles.js';
import { redactSecrets } from '../security/redact.js';
import type { CommandResult, CommandRunner } from '../ssh/runner.js';
import type { Cause, Evidence, Finding, RankedCause, RemediationRef, StepRecord } from './types.js';
import { isEvidenceKey, type InstallKind, type ProcessManager } from './vocabulary.js';

/** What the engine needs to know of a host: how ONLYOFFICE runs there. Config's ResolvedHost fits. */
export interface DiagnosisHost {
  name: string;
  processManager?: ProcessManager;
  install?: InstallKind | 'deb' | 'rpm' | 'docker';
  sudo: boolean;
  container?: string;
}

export interface PlannedCommand {
  id: string;
  title?: string;
  command: string;
  timeoutMs: number;
  maxOutputBytes: number;
}

/** The slice of a runbook the engine uses; the runbooks module provides it, validated. */
export interface DiagnosisRunbook {
  /** The command that prints `manager=…` and `install=…`, as the host must run it (sudo or not). */
  detectFor(host: { sudo: boolean }): PlannedCommand;
  plan(host: Required<Pick<DiagnosisHost, 'processManager'>> & DiagnosisHost): PlannedCommand[];
  /** The fixes for a cause; only those that exist for the manager, when it is known. */
  remediationsFor(cause: Cause, manager?: ProcessManager): RemediationRef[];
}

export interface StepEvent {
  host: string;
  step: StepRecord;
  done: number;
  total: number;
}

export interface DiagnoseOptions {
  runbook: DiagnosisRunbook;
  /** Opens (or reuses) the connection to a host; throws when the host cannot be reached. */
  connect(host: DiagnosisHost): Promise<CommandRunner>;
  /** Called as each step finishes, for progress reporting. */
  onStep?(event: StepEvent): void;
  now?(): number;
}

/** Combines a command's streams the way a terminal would show them, and notes what cut it short. */
export function stepOutput(result: CommandResult): string {
  const parts = [result.stdout.replace(/\n$/, '')];
  if (result.stderr.trim() !== '') parts.push(result.stderr.replace(/\n$/, ''));
  if (result.truncated) parts.push('[output truncated]');
  if (result.timedOut) parts.push(`[timed out after ${result.durationMs} ms]`);
  return parts.filter((part) => part !== '').join('\n');
}

/**
 * Runs one planned command and records it as the contract's step: output redacted, cut short noted.
 * A command that could not run at all (the connection dropped mid-run) is a record too, not a crash.
 */
export async function runStep(runner: CommandRunner, step: PlannedCommand, stdin?: string): Promise<StepRecord> {
  const started = Date.now();
  try {
    const result = await runner.run(step.command, {
      timeoutMs: step.timeoutMs,
      maxOutputBytes: step.maxOutputBytes,
      ...(stdin !== undefined ? { stdin } : {}),
    });
    return {
      id: step.id,
      command: step.command,
      exitCode: result.exitCode,
      durationMs: result.durationMs,
      output: redactSecrets(stepOutput(result)),
      ...(result.timedOut ? { timedOut: true } : {}),
      ...(result.truncated ? { truncated: true } : {}),
    };
  } catch (error) {
    return {
      id: step.id,
      command: step.command,
      exitCode: null,
      durationMs: Date.now() - started,
      output: redactSecrets(`[could not run: ${errorMessage(error)}]`),
    };
  }
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Turns step records into the contract's evidence object. */
export function evidenceOf(steps: StepRecord[], install?: InstallKind): Evidence {
  const evidence: Evidence = {};
  for (const step of steps) {
    if (!isEvidenceKey(step.id)) continue;
    evidence[step.id] = evidence[step.id] === undefined ? step.output : `${evidence[step.id]}\n${step.output}`;
  }
  if (install !== undefined) evidence.install = install;
  return evidence;
}

export function rankWithRemediations(
  causes: Cause[],
  runbook: Pick<DiagnosisRunbook, 'remediationsFor'>,
  manager?: ProcessManager,
): RankedCause[] {
  return causes.map((cause) => ({ ...cause, remediations: runbook.remediationsFor(cause, manager) }));
}

/** Classifies collected steps into the contract's finding. Pure. */
export function findingFromSteps(
  host: string,
  steps: StepRecord[],
  runbook: Pick<DiagnosisRunbook, 'remediationsFor'>,
  context: { install?: InstallKind; processManager?: ProcessManager } = {},
): Finding {
  const classification = classify(evidenceOf(steps, context.install));
  return {
    host,
    verdict: classification.verdict,
    causes: rankWithRemediations(classification.causes, runbook, context.processManager),
    steps,
  };
}

export function unreachableFinding(
  host: string,
  error: unknown,
  runbook: Pick<DiagnosisRunbook, 'remediationsFor'>,
): Finding {
  const message = redactSecrets(errorMessage(error));
  const cause: Cause = {
    id: 'host_unreachable',
    title: CAUSE_TITLES.host_unreachable,
    confidence: 1,
    evidence: [{ step: 'other', line: message }],
  };
  return { host, verdict: 'unreachable', causes: rankWithRemediations([cause], runbook), steps: [], error: message };
}

/** Which process manager and install kind run ONLYOFFICE here: configured, or asked of the host. */
export async function detectHost(
  runner: CommandRunner,
  host: DiagnosisHost,
  runbook: Pick<DiagnosisRunbook, 'detectFor'>,
): Promise<{ processManager: ProcessManager; install: InstallKind; record?: StepRecord }> {
  const configuredInstall: InstallKind = host.install ?? 'unknown';
  if (host.processManager !== undefined) return { processManager: host.processManager, install: configuredInstall };
  const record = await runStep(runner, runbook.detectFor(host));
  const detected = parseDetect(record.output);
  const install = host.install ?? detected.install ?? 'unknown';
  // Without a recognisable manager the supervisor commands still run: each tool that is missing
  // reports itself as "not installed", which is itself evidence.
  const processManager = detected.manager ?? (install === 'docker' ? 'docker' : 'supervisor');
  return { processManager, install, record };
}

/**
 * Runs the runbook's steps on one host over one connection, all at once (the connection bounds how
 * many channels are open), and classifies what they printed. Never throws: an unreachable host is a
 * finding too.
 */
export async function diagnoseHost(host: DiagnosisHost, options: DiagnoseOptions): Promise<Finding> {
  const { runbook } = options;
  let runner: CommandRunner;
  try {
    runner = await options.connect(host);
  } catch (error) {
    return unreachableFinding(host.name, error, runbook);
  }
  const detected = await detectHost(runner, host, runbook);
  const planned = runbook.plan({ ...host, processManager: detected.processManager });
  let done = 0;
  const steps = await Promise.all(
    planned.map(async (step) => {
      const record = await runStep(runner, step);
      done += 1;
      options.onStep?.({ host: host.name, step: record, done, total: planned.length });
      return record;
    }),
  );
  const allSteps = detected.record ? [detected.record, ...steps] : steps;
  return findingFromSteps(host.name, allSteps, runbook, detected);
}

/** Diagnoses many hosts, at most `maxParallel` at once, findings in the order of `hosts`. */
export async function diagnoseHosts(
  hosts: DiagnosisHost[],
  options: DiagnoseOptions & { maxParallel: number },
): Promise<Finding[]> {
  const findings = new Array<Finding>(hosts.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < hosts.length) {
      const index = next++;
      findings[index] = await diagnoseHost(hosts[index]!, options);
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.maxParallel, hosts.length) }, worker));
  return findings;
}
