// Turns a storm of alerts into a handful of incident updates. Pure: the caller passes the time in and
// decides when to call flush() (nextFlushAtMs() says when one is due).
import { incidentKey } from './incident.js';
import type { AlertSource, NormalizedAlert } from './types.js';

export type IncidentUpdateKind =
  /** First firing alert of an incident: start a thread and a diagnosis. */
  | 'opened'
  /** More alerts arrived for an open incident; at most one of these per window. */
  | 'repeated'
  /** Every alert of the incident resolved (or a resolution arrived for an incident not seen firing). */
  | 'resolved'
  /** No alert for the incident in `forgetAfterMs`: it is dropped without a resolution. */
  | 'expired';

export interface IncidentUpdate {
  kind: IncidentUpdateKind;
  key: string;
  host: string | undefined;
  alertname: string | undefined;
  summary: string;
  source: AlertSource;
  firstSeenMs: number;
  lastSeenMs: number;
  /** Alerts received for the incident since it opened (firing and resolved). */
  totalAlerts: number;
  /** Alerts received since the previous update of this incident. */
  newAlerts: number;
  /** Distinct alerts (fingerprints) still firing. */
  firing: number;
  /** The latest alert of each fingerprint, at most `maxAlertsPerIncident`. */
  alerts: NormalizedAlert[];
}

export interface AlertCoalescerOptions {
  /** Which inventory host an alert is about (usually hostFromLabels over the inventory). */
  resolveHost: (alert: NormalizedAlert) => string | undefined;
  /** Minimum time between two updates of one incident. */
  windowMs?: number;
  /** Open incidents kept; past it the least recently seen is dropped (reported as `expired`). */
  maxIncidents?: number;
  /** Alerts kept per incident for display; firing fingerprints are tracked up to `maxFingerprints`. */
  maxAlertsPerIncident?: number;
  maxFingerprints?: number;
  /** An open incident with no alert for this long is dropped (Alertmanager re-sends every repeat_interval). */
  forgetAfterMs?: number;
}

interface IncidentState {
  key: string;
  host: string | undefined;
  alertname: string | undefined;
  summary: string;
  source: AlertSource;
  firstSeenMs: number;
  lastSeenMs: number;
  lastUpdateMs: number;
  totalAlerts: number;
  unreported: number;
  firing: Set<string>;
  latest: Map<string, NormalizedAlert>;
}

export class AlertCoalescer {
  private readonly incidents = new Map<string, IncidentState>();
  private readonly resolveHost: (alert: NormalizedAlert) => string | undefined;
  private readonly windowMs: number;
  private readonly maxIncidents: number;
  private readonly maxAlertsPerIncident: number;
  private readonly maxFingerprints: number;
  private readonly forgetAfterMs: number;

  constructor(options: AlertCoalescerOptions) {
    this.resolveHost = options.resolveHost;
    this.windowMs = options.windowMs ?? 30_000;
    this.maxIncidents = options.maxIncidents ?? 10_000;
    this.maxAlertsPerIncident = options.maxAlertsPerIncident ?? 50;
    this.maxFingerprints = options.maxFingerprints ?? 10_000;
    this.forgetAfterMs = options.forgetAfterMs ?? 24 * 60 * 60 * 1000;
    for (const [name, value] of Object.entries({
      windowMs: this.windowMs,
      maxIncidents: this.maxIncidents,
      maxAlertsPerIncident: this.maxAlertsPerIncident,
      maxFingerprints: this.maxFingerprints,
      forgetAfterMs: this.forgetAfterMs,
    })) {
      if (!Number.isFinite(value) || value < 1) throw new RangeError(`AlertCoalescer: ${name} must be ≥ 1, got ${value}`);
    }
  }

  get openIncidents(): number {
    return this.incidents.size;
  }

  /** Takes one webhook's alerts; returns the updates to post now, in the order they happened. */
  ingest(alerts: readonly NormalizedAlert[], nowMs: number): IncidentUpdate[] {
    const updates: IncidentUpdate[] = [];
    // An incident opened by this call absorbs its later alerts of the same call into that one update.
    const openedNow = new Map<string, IncidentUpdate>();
    const repeated = new Set<string>();

    for (const alert of alerts) {
      const host = this.resolveHost(alert);
      const key = incidentKey(alert, host);
      const state = this.incidents.get(key);

      if (!state) {
        if (alert.status === 'firing') {
          const opened = this.open(key, host, alert, nowMs, updates);
          const update = this.snapshot('opened', opened, 1);
          updates.push(update);
          openedNow.set(key, update);
        } else {
          // A resolution for an incident this process never saw firing (e.g. after a restart): the bot
          // may still have its thread, so it is passed on.
          const transient = this.newState(key, host, alert, nowMs);
          this.record(transient, alert, nowMs);
          updates.push(this.snapshot('resolved', transient, 1));
        }
        continue;
      }

      this.record(state, alert, nowMs);
      if (alert.status === 'firing') {
        if (state.firing.has(alert.fingerprint) || state.firing.size < this.maxFingerprints) {
          state.firing.add(alert.fingerprint);
        }
      } else {
        state.firing.delete(alert.fingerprint);
      }
      const pending = openedNow.get(key);

      if (state.firing.size === 0) {
        updates.push(this.snapshot('resolved', state, pending ? 1 : state.unreported + 1));
        this.incidents.delete(key);
        openedNow.delete(key);
        repeated.delete(key);
      } else if (pending) {
        Object.assign(pending, this.snapshot(pending.kind, state, pending.newAlerts + 1));
      } else {
        state.unreported += 1;
        repeated.add(key);
      }
    }

    for (const key of repeated) {
      const state = this.incidents.get(key);
      if (state && state.unreported > 0 && nowMs >= state.lastUpdateMs + this.windowMs) {
        updates.push(this.report('repeated', state, nowMs));
      }
    }
    return updates;
  }

  /** Updates that came due: repeats held back by the window, and incidents silent for too long. */
  flush(nowMs: number): IncidentUpdate[] {
    const updates: IncidentUpdate[] = [];
    for (const state of [...this.incidents.values()]) {
      if (nowMs - state.lastSeenMs >= this.forgetAfterMs) {
        updates.push(this.snapshot('expired', state, state.unreported));
        this.incidents.delete(state.key);
      } else if (state.unreported > 0 && nowMs >= state.lastUpdateMs + this.windowMs) {
        updates.push(this.report('repeated', state, nowMs));
      }
    }
    return updates;
  }

  /** When flush() next has something to say, or undefined when nothing is open. */
  nextFlushAtMs(): number | undefined {
    let next: number | undefined;
    for (const state of this.incidents.values()) {
      const forgetAt = state.lastSeenMs + this.forgetAfterMs;
      const due = state.unreported > 0 ? Math.min(state.lastUpdateMs + this.windowMs, forgetAt) : forgetAt;
      next = next === undefined ? due : Math.min(next, due);
    }
    return next;
  }

  private newState(key: string, host: string | undefined, alert: NormalizedAlert, nowMs: number): IncidentState {
    return {
      key,
      host,
      alertname: alert.labels.alertname,
      summary: alert.summary,
      source: alert.source,
      firstSeenMs: nowMs,
      lastSeenMs: nowMs,
      lastUpdateMs: nowMs,
      totalAlerts: 0,
      unreported: 0,
      firing: new Set(),
      latest: new Map(),
    };
  }

  private open(
    key: string,
    host: string | undefined,
    alert: NormalizedAlert,
    nowMs: number,
    updates: IncidentUpdate[],
  ): IncidentState {
    if (this.incidents.size >= this.maxIncidents) {
      let oldest: IncidentState | undefined;
      for (const candidate of this.incidents.values()) {
        if (!oldest || candidate.lastSeenMs < oldest.lastSeenMs) oldest = candidate;
      }
      if (oldest) {
        updates.push(this.snapshot('expired', oldest, oldest.unreported));
        this.incidents.delete(oldest.key);
      }
    }
    const state = this.newState(key, host, alert, nowMs);
    this.record(state, alert, nowMs);
    state.firing.add(alert.fingerprint);
    this.incidents.set(key, state);
    return state;
  }

  private record(state: IncidentState, alert: NormalizedAlert, nowMs: number): void {
    state.totalAlerts += 1;
    state.lastSeenMs = Math.max(state.lastSeenMs, nowMs);
    state.summary = alert.summary;
    if (state.latest.has(alert.fingerprint) || state.latest.size < this.maxAlertsPerIncident) {
      // Re-inserting keeps the most recently seen alerts last.
      state.latest.delete(alert.fingerprint);
      state.latest.set(alert.fingerprint, alert);
    }
  }

  private report(kind: IncidentUpdateKind, state: IncidentState, nowMs: number): IncidentUpdate {
    const update = this.snapshot(kind, state, state.unreported);
    state.unreported = 0;
    state.lastUpdateMs = nowMs;
    return update;
  }

  private snapshot(kind: IncidentUpdateKind, state: IncidentState, newAlerts: number): IncidentUpdate {
    return {
      kind,
      key: state.key,
      host: state.host,
      alertname: state.alertname,
      summary: state.summary,
      source: state.source,
      firstSeenMs: state.firstSeenMs,
      lastSeenMs: state.lastSeenMs,
      totalAlerts: state.totalAlerts,
      newAlerts,
      firing: state.firing.size,
      alerts: [...state.latest.values()],
    };
  }
}
