export const ALERT_SOURCES = ['alertmanager', 'grafana', 'generic'] as const;
export type AlertSource = (typeof ALERT_SOURCES)[number];

export type AlertStatus = 'firing' | 'resolved';

/** One alert, whatever sent it: what the coalescer and the bot work from. */
export interface NormalizedAlert {
  source: AlertSource;
  /**
   * Identity of the alert across repeats and its resolution. The sender's own fingerprint when it sent
   * one (Alertmanager ≥ 0.19, Grafana, generic senders that set it); otherwise derived from the labels.
   */
  fingerprint: string;
  status: AlertStatus;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** annotations.summary, else description/message, else the alert name. */
  summary: string;
  /** ISO 8601, millisecond precision. */
  startsAt: string;
  /** ISO 8601; absent while firing (Alertmanager and Grafana send year 1 for "not ended"). */
  endsAt?: string;
  /** The sender's group (Alertmanager/Grafana `groupKey`). */
  groupKey?: string;
  /** Link back to the rule or graph that fired, when the sender gave one. */
  generatorURL?: string;
}

export type ParseAlertResult = { ok: true; alerts: NormalizedAlert[] } | { ok: false; error: string };

export interface AlertBounds {
  /** Alerts in one body (Alertmanager's own `max_alerts` defaults to unlimited). */
  maxAlerts: number;
  /** Any label value, annotation, URL or other string field. */
  maxStringLength: number;
  /** Labels or annotations on one alert. */
  maxLabels: number;
}

export const DEFAULT_ALERT_BOUNDS: AlertBounds = {
  maxAlerts: 1000,
  maxStringLength: 16 * 1024,
  maxLabels: 200,
};
