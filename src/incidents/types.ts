export const TIMELINE_KINDS = [
  'open',
  'reopen',
  'alert',
  'request',
  'diagnosis',
  'approval',
  'refusal',
  'remediation',
  'verification',
  'resolve',
  'note',
] as const;
export type TimelineKind = (typeof TIMELINE_KINDS)[number];

export interface TimelineEntry {
  /** ISO 8601. */
  at: string;
  kind: TimelineKind;
  text: string;
}

export type IncidentStatus = 'open' | 'resolved';

export interface Incident {
  key: string;
  /** The inventory host the incident is about; absent for alerts that named no known host. */
  host?: string;
  channel: string;
  /** The parent message's ts: every update about the incident goes into its thread. */
  threadTs?: string;
  title?: string;
  status: IncidentStatus;
  openedAt: string;
  resolvedAt?: string;
  /** Alerts (firing notifications, repeats included) that landed on this incident. */
  alerts: number;
  /** When the first diagnosis result arrived; kept even when old timeline entries are trimmed. */
  firstDiagnosisAt?: string;
  timeline: TimelineEntry[];
}
