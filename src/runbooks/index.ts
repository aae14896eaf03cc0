export { bindRunbook, type BindOptions, type BoundRunbook, type PlanHost } from './bind.js';
export { DEFAULT_RUNBOOK_FILE, defaultRunbook, loadRunbooks, parseRunbook, RunbookError, runbooksDir } from './load.js';
export {
  fixMatches,
  planDetect,
  planRemediation,
  planSteps,
  remediationRef,
  remediationsFor,
  remediationsForManager,
  wrapSudo,
  type Detection,
  type PlanTarget,
  type PlannedCommand,
  type PlannedDetect,
  type PlannedRemediation,
  type PlannedStep,
} from './plan.js';
export {
  runbookSchema,
  type RemediationCommand,
  type Runbook,
  type RunbookDetect,
  type RunbookFix,
  type RunbookRemediation,
  type RunbookStep,
  type StepCommand,
} from './schema.js';
export {
  DEFAULT_LOG_LINES,
  PLACEHOLDER_NAMES,
  PLACEHOLDER_SCHEMAS,
  placeholdersIn,
  renderCommand,
  shellQuote,
  TemplateError,
  templateProblems,
  type PlaceholderName,
  type TemplateParams,
} from './template.js';
