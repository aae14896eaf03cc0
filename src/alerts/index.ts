export * from './types.js';
export { alertSchemas, GO_ZERO_TIME_MS } from './schemas.js';
export type { AlertmanagerBody, GrafanaBody, GenericAlertBody } from './schemas.js';
export { parseAlertBody, labelsFingerprint, type ParseAlertOptions } from './parse.js';
export { hostFromLabels, hostPartOf, DEFAULT_HOST_LABELS, type InventoryEntry } from './hosts.js';
export { incidentKey, type IncidentKeyInput } from './incident.js';
export {
  AlertCoalescer,
  type AlertCoalescerOptions,
  type IncidentUpdate,
  type IncidentUpdateKind,
} from './coalescer.js';
