import { createHash } from 'node:crypto';
import { z } from 'zod';
import { describeIssue } from '../slack/limits.js';
import { alertSchemas, GO_ZERO_TIME_MS, type AlertSchemas } from './schemas.js';
import {
  ALERT_SOURCES,
  DEFAULT_ALERT_BOUNDS,
  type AlertBounds,
  type AlertSource,
  type NormalizedAlert,
  type ParseAlertResult,
} from './types.js';

export interface ParseAlertOptions extends Partial<AlertBounds> {
  /** Start time for generic alerts that carry none: when the body was received. */
  receivedAt?: Date;
}

const MAX_REPORTED_PROBLEMS = 3;

const schemaCache = new Map<string, AlertSchemas>();
function schemasFor(bounds: AlertBounds): AlertSchemas {
  const key = `${bounds.maxAlerts}/${bounds.maxStringLength}/${bounds.maxLabels}`;
  let schemas = schemaCache.get(key);
  if (!schemas) {
    schemas = alertSchemas(bounds);
    if (schemaCache.size > 16) schemaCache.clear();
    schemaCache.set(key, schemas);
  }
  return schemas;
}

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

function formatIssues(issues: readonly z.core.$ZodIssue[]): string {
  const shown = issues.slice(0, MAX_REPORTED_PROBLEMS).map((issue) => {
    const path = issue.path.length === 0 ? 'body' : z.core.toDotPath(issue.path);
    return `${path}: ${describeIssue(issue)}`;
  });
  const more = issues.length - shown.length;
  return more > 0 ? `${shown.join('; ')} (and ${more} more problem${more === 1 ? '' : 's'})` : shown.join('; ');
}

function isoTime(value: string): string {
  return new Date(Date.parse(value)).toISOString();
}

function endTime(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  return ms <= GO_ZERO_TIME_MS ? undefined : new Date(ms).toISOString();
}

/**
 * Alertmanager's fingerprint is a hash of the label set; senders that lack one (Alertmanager before
 * 0.19, generic senders) get the same kind of identity from their labels, so repeats still match.
 */
export function labelsFingerprint(labels: Record<string, string>): string {
  const canonical = Object.keys(labels)
    .sort()
    .map((name) => [name, labels[name]]);
  return createHash('sha256').update(JSON.stringify(canonical)).digest('hex').slice(0, 16);
}

function summaryOf(
  annotations: Record<string, string>,
  labels: Record<string, string>,
  common: Record<string, string> = {},
): string {
  return (
    annotations.summary ??
    annotations.description ??
    annotations.message ??
    common.summary ??
    common.description ??
    labels.alertname ??
    'alert'
  );
}

function tooMany(body: unknown, bounds: AlertBounds): string | undefined {
  // Checked before the schema walks every element, so a huge body is refused cheaply.
  const list = Array.isArray(body)
    ? body
    : body && typeof body === 'object'
      ? (body as { alerts?: unknown }).alerts
      : undefined;
  if (Array.isArray(list) && list.length > bounds.maxAlerts) {
    const where = Array.isArray(body) ? 'body' : 'alerts';
    return `${where}: ${list.length} alerts in one body, more than the limit of ${bounds.maxAlerts}`;
  }
  return undefined;
}

/** Reads one webhook body into alerts, or says exactly which field is wrong and how. */
export function parseAlertBody(source: AlertSource, body: unknown, options: ParseAlertOptions = {}): ParseAlertResult {
  if (!(ALERT_SOURCES as readonly string[]).includes(source)) {
    return { ok: false, error: `unknown alert source ${JSON.stringify(source)} (expected ${ALERT_SOURCES.join(', ')})` };
  }
  const bounds: AlertBounds = {
    maxAlerts: options.maxAlerts ?? DEFAULT_ALERT_BOUNDS.maxAlerts,
    maxStringLength: options.maxStringLength ?? DEFAULT_ALERT_BOUNDS.maxStringLength,
    maxLabels: options.maxLabels ?? DEFAULT_ALERT_BOUNDS.maxLabels,
  };
  const expectsArrayOk = source === 'generic';
  if (!body || typeof body !== 'object' || (Array.isArray(body) && !expectsArrayOk)) {
    return { ok: false, error: `body: expected a JSON object, received ${kindOf(body)}` };
  }
  const overflow = tooMany(body, bounds);
  if (overflow) return { ok: false, error: overflow };

  const schemas = schemasFor(bounds);
  if (source === 'generic') {
    const parsed = Array.isArray(body)
      ? schemas.genericList.safeParse(body, { reportInput: true })
      : schemas.genericAlert.safeParse(body, { reportInput: true });
    if (!parsed.success) return { ok: false, error: formatIssues(parsed.error.issues) };
    const list = Array.isArray(parsed.data) ? parsed.data : [parsed.data];
    const receivedAt = (options.receivedAt ?? new Date()).toISOString();
    return {
      ok: true,
      alerts: list.map((alert): NormalizedAlert => {
        const labels = { host: alert.host, ...(alert.labels ?? {}) };
        const annotations = { summary: alert.summary, ...(alert.annotations ?? {}) };
        const normalized: NormalizedAlert = {
          source,
          fingerprint: alert.fingerprint ?? labelsFingerprint(alert.labels ? labels : { host: alert.host, summary: alert.summary }),
          status: alert.status,
          labels,
          annotations,
          summary: alert.summary,
          startsAt: alert.startsAt ? isoTime(alert.startsAt) : receivedAt,
        };
        const endsAt = endTime(alert.endsAt);
        if (endsAt) normalized.endsAt = endsAt;
        return normalized;
      }),
    };
  }

  const parsed =
    source === 'alertmanager'
      ? schemas.alertmanager.safeParse(body, { reportInput: true })
      : schemas.grafana.safeParse(body, { reportInput: true });
  if (!parsed.success) return { ok: false, error: formatIssues(parsed.error.issues) };
  const group = parsed.data;
  return {
    ok: true,
    alerts: group.alerts.map((alert): NormalizedAlert => {
      const annotations = alert.annotations ?? {};
      const normalized: NormalizedAlert = {
        source,
        fingerprint: alert.fingerprint || labelsFingerprint(alert.labels),
        status: alert.status,
        labels: alert.labels,
        annotations,
        summary: summaryOf(annotations, alert.labels, group.commonAnnotations),
        startsAt: isoTime(alert.startsAt),
      };
      const endsAt = endTime(alert.endsAt);
      if (endsAt) normalized.endsAt = endsAt;
      if (group.groupKey) normalized.groupKey = group.groupKey;
      if (alert.generatorURL) normalized.generatorURL = alert.generatorURL;
      return normalized;
    }),
  };
}
