import { createHash } from 'node:crypto';
import type { NormalizedAlert } from './types.js';

export type IncidentKeyInput = Pick<NormalizedAlert, 'labels' | 'fingerprint' | 'groupKey'>;

/**
 * The key of the incident an alert belongs to, the same for its repeats and its resolution, so they all
 * land in one Slack thread. On a known host: host + alert name (every probe of one alert rule on one host
 * is one incident). Without a host: the sender's group, else the alert name, else the fingerprint.
 * Hex behind a fixed prefix: safe as a BullMQ job id (no `:`, never all digits) and as a Slack block_id.
 */
export function incidentKey(alert: IncidentKeyInput, host: string | undefined): string {
  const alertname = alert.labels.alertname;
  const basis = host
    ? ['host', host.toLowerCase(), alertname ?? `fp ${alert.fingerprint}`]
    : ['group', alert.groupKey ?? (alertname !== undefined ? `alertname ${alertname}` : `fp ${alert.fingerprint}`)];
  return `inc_${createHash('sha256').update(JSON.stringify(basis)).digest('hex').slice(0, 32)}`;
}
