import type { Incident, TimelineEntry } from './types.js';

export interface IncidentSummary {
  key: string;
  host?: string;
  status: Incident['status'];
  openedAt: string;
  resolvedAt?: string;
  alerts: number;
  /** From opening to the first diagnosis result; absent before one arrived. */
  timeToDiagnosisMs?: number;
  /** From opening to resolution; absent while open. */
  timeToRecoveryMs?: number;
  /** Oldest first; entries with the same time keep the order they were recorded in. */
  timeline: TimelineEntry[];
}

function elapsed(from: string, to: string | undefined): number | undefined {
  if (to === undefined) return undefined;
  const ms = Date.parse(to) - Date.parse(from);
  return Number.isFinite(ms) ? Math.max(0, ms) : undefined;
}

/** Pure: what an incident's closing message and the metrics need. */
export function summarize(incident: Incident): IncidentSummary {
  const timeline = incident.timeline
    .map((entry, index) => ({ entry, index, ms: Date.parse(entry.at) }))
    .sort((a, b) => (a.ms === b.ms || Number.isNaN(a.ms - b.ms) ? a.index - b.index : a.ms - b.ms))
    .map(({ entry }) => entry);
  const firstDiagnosis = incident.firstDiagnosisAt ?? timeline.find((entry) => entry.kind === 'diagnosis')?.at;
  const summary: IncidentSummary = {
    key: incident.key,
    status: incident.status,
    openedAt: incident.openedAt,
    alerts: incident.alerts,
    timeline,
  };
  if (incident.host !== undefined) summary.host = incident.host;
  if (incident.resolvedAt !== undefined) summary.resolvedAt = incident.resolvedAt;
  const toDiagnosis = elapsed(incident.openedAt, firstDiagnosis);
  if (toDiagnosis !== undefined) summary.timeToDiagnosisMs = toDiagnosis;
  const toRecovery = incident.status === 'resolved' ? elapsed(incident.openedAt, incident.resolvedAt) : undefined;
  if (toRecovery !== undefined) summary.timeToRecoveryMs = toRecovery;
  return summary;
}
