import { detectHost, type DiagnosisHost, type DiagnosisRunbook } from '../diagnosis/diagnose.js';
import type { ProcessManager } from '../diagnosis/vocabulary.js';
import type { CommandRunner } from '../ssh/runner.js';
import { executeRemediation, type RemediationOutcome, type RemediationPlan } from './execute.js';

/** The runbook as the remediation side needs it: detection and planning of one remediation. */
export interface RemediationRunbook extends Pick<DiagnosisRunbook, 'detectFor'> {
  planRemediation(
    remediationId: string,
    host: { processManager: ProcessManager; sudo: boolean; container?: string },
  ): RemediationPlan;
}

/**
 * Plans a remediation for a host (detecting its process manager when the inventory does not say) and
 * runs it once. The commands come from the runbook's fixed templates; the host only decides which
 * manager's form is used.
 */
export async function remediateHost(
  host: DiagnosisHost,
  remediationId: string,
  options: { runbook: RemediationRunbook; runner: CommandRunner },
): Promise<RemediationOutcome> {
  const { processManager } = await detectHost(options.runner, host, options.runbook);
  const plan = options.runbook.planRemediation(remediationId, {
    processManager,
    sudo: host.sudo,
    ...(host.container !== undefined ? { container: host.container } : {}),
  });
  return executeRemediation(host.name, plan, options.runner);
}
