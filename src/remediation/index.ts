export {
  executeRemediation,
  remainingFaults,
  type RemediationOutcome,
  type RemediationPlan,
  type RemediationStatus,
} from './execute.js';
export { remediateHost, type RemediationRunbook } from './remediate.js';
