// Webhook bodies as their senders document them:
// - Alertmanager: prometheus.io/docs/alerting/latest/configuration/#webhook_config (payload version "4").
// - Grafana unified alerting: grafana.com/docs/grafana/latest/alerting/configure-notifications/
//   manage-contact-points/integrations/webhook-notifier/ (payload version "1").
// - generic: ours, for senders that are neither (scripts, uptime checkers).
// Fields that we do not use are still typed, so a sender that changed its format is told so.
import { z } from 'zod';
import type { AlertBounds } from './types.js';

/** Go's zero time: how Alertmanager and Grafana say "not ended yet". */
export const GO_ZERO_TIME_MS = Date.parse('0001-01-01T00:00:00Z');

const LABEL_NAME_MAX = 1024;
// Grafana's deprecated `message` repeats every alert of the group, so it is allowed to be long.
const GRAFANA_MESSAGE_FACTOR = 64;

export function alertSchemas(bounds: AlertBounds) {
  const str = z.string().max(bounds.maxStringLength);
  const timestamp = z
    .string()
    .max(64)
    .refine((value) => !Number.isNaN(Date.parse(value)), { message: 'expected an RFC 3339 time' });

  // Go encodes an empty map as null, so a missing annotations map may arrive as `null`.
  const keyValues = z
    .record(z.string().max(LABEL_NAME_MAX), str)
    .nullable()
    .refine((value) => value === null || Object.keys(value).length <= bounds.maxLabels, {
      message: `more than ${bounds.maxLabels} entries`,
    })
    .transform((value) => value ?? {});

  const status = z.enum(['firing', 'resolved']);

  const alertmanagerAlert = z.looseObject({
    status,
    labels: keyValues,
    annotations: keyValues.optional(),
    startsAt: timestamp,
    endsAt: timestamp.optional(),
    generatorURL: str.optional(),
    fingerprint: z.string().max(256).optional(),
  });

  const alertmanager = z.looseObject({
    version: z.literal('4').optional(),
    receiver: str.optional(),
    status: status.optional(),
    alerts: z.array(alertmanagerAlert).max(bounds.maxAlerts),
    groupLabels: keyValues.optional(),
    commonLabels: keyValues.optional(),
    commonAnnotations: keyValues.optional(),
    externalURL: str.optional(),
    groupKey: str.optional(),
    truncatedAlerts: z.number().int().nonnegative().optional(),
  });

  const grafanaAlert = alertmanagerAlert.extend({
    values: z.record(z.string().max(LABEL_NAME_MAX), z.number().nullable()).nullable().optional(),
    valueString: str.optional(),
    dashboardURL: str.optional(),
    panelURL: str.optional(),
    silenceURL: str.optional(),
    imageURL: str.optional(),
  });

  const grafana = alertmanager.extend({
    version: z.string().max(16).optional(),
    orgId: z.number().int().optional(),
    alerts: z.array(grafanaAlert).max(bounds.maxAlerts),
    title: str.optional(),
    state: z.string().max(64).optional(),
    message: z.string().max(bounds.maxStringLength * GRAFANA_MESSAGE_FACTOR).optional(),
  });

  const genericAlert = z.strictObject({
    host: z.string().min(1).max(253),
    summary: str.min(1),
    status,
    fingerprint: z.string().min(1).max(256).optional(),
    labels: keyValues.optional(),
    annotations: keyValues.optional(),
    startsAt: timestamp.optional(),
    endsAt: timestamp.optional(),
  });

  return {
    alertmanager,
    grafana,
    genericAlert,
    // Several generic alerts may come in a bare array.
    genericList: z.array(genericAlert).max(bounds.maxAlerts),
  };
}

export type AlertSchemas = ReturnType<typeof alertSchemas>;
export type AlertmanagerBody = z.infer<AlertSchemas['alertmanager']>;
export type GrafanaBody = z.infer<AlertSchemas['grafana']>;
export type GenericAlertBody = z.infer<AlertSchemas['genericAlert']>;
