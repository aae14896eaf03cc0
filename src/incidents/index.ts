export {
  IncidentStore,
  IncidentNotFoundError,
  type IncidentStoreOptions,
  type OpenIncidentInput,
  type OpenOrGetResult,
} from './store.js';
export { summarize, type IncidentSummary } from './summary.js';
export { TIMELINE_KINDS, type Incident, type IncidentStatus, type TimelineEntry, type TimelineKind } from './types.js';
