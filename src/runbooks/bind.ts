// A runbook bound to its planning functions: the shape the diagnosis engine and the remediation
// executor take (src/diagnosis/diagnose.ts DiagnosisRunbook), so they never touch templates.
import type { Cause, RemediationRef } from '../diagnosis/types.js';
import type { ProcessManager } from '../diagnosis/vocabulary.js';
import {
  planDetect,
  planRemediation,
  planSteps,
  remediationRef,
  remediationsFor,
  type PlannedDetect,
  type PlannedRemediation,
  type PlannedStep,
} from './plan.js';
import type { Runbook } from './schema.js';

/** What planning needs of a host; the inventory's ResolvedHost fits once processManager is known. */
export interface PlanHost {
  processManager: ProcessManager;
  sudo: boolean;
  container?: string;
}

export interface BoundRunbook {
  runbook: Runbook;
  /** The detection command as is (no sudo): file checks and `supervisorctl`/`docker` as the login user. */
  detect: PlannedDetect;
  /** The detection command for a host, wrapped in sudo when the host uses it. */
  detectFor(host: { sudo: boolean }): PlannedDetect;
  plan(host: PlanHost): PlannedStep[];
  /** Remediations that fix the cause; only those for the manager when one is given. */
  remediationsFor(cause: Pick<Cause, 'id' | 'subject'>, manager?: ProcessManager): RemediationRef[];
  planRemediation(remediationId: string, host: PlanHost): PlannedRemediation;
}

export interface BindOptions {
  /** Lines of each log the steps show (default 200). */
  logLines?: number;
}

export function bindRunbook(runbook: Runbook, options: BindOptions = {}): BoundRunbook {
  const target = (host: PlanHost) => ({
    processManager: host.processManager,
    sudo: host.sudo,
    ...(host.container !== undefined ? { container: host.container } : {}),
    ...(options.logLines !== undefined ? { logLines: options.logLines } : {}),
  });
  return {
    runbook,
    detect: planDetect(runbook, { sudo: false }),
    detectFor: (host) => planDetect(runbook, host),
    plan: (host) => planSteps(runbook, target(host)),
    remediationsFor: (cause, manager) => remediationsFor(runbook, cause, manager).map(remediationRef),
    planRemediation: (remediationId, host) => planRemediation(runbook, remediationId, target(host)),
  };
}
