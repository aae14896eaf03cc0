import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  AlertCoalescer,
  hostFromLabels,
  incidentKey,
  parseAlertBody,
  type IncidentUpdate,
  type NormalizedAlert,
} from '../../../src/alerts/index.js';
import { alertmanagerFor } from './samples.js';

const inventory = ['docs-1', 'docs-2', 'docs-3'];
const resolveHost = (alert: NormalizedAlert) => hostFromLabels(alert.labels, undefined, inventory);

function alertsOf(body: Record<string, unknown>): NormalizedAlert[] {
  const parsed = parseAlertBody('alertmanager', body);
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.alerts;
}

function firing(host: string, probe = 0, alertname = 'OnlyofficeDocs502'): NormalizedAlert {
  const [alert] = alertsOf(alertmanagerFor([host], 'firing', alertname));
  return { ...alert!, fingerprint: `${host}-${alertname}-${probe}` };
}

function resolved(host: string, probe = 0, alertname = 'OnlyofficeDocs502'): NormalizedAlert {
  return { ...firing(host, probe, alertname), status: 'resolved' };
}

const kinds = (updates: IncidentUpdate[]) => updates.map((u) => `${u.kind}:${u.host ?? '?'}`);

describe('AlertCoalescer', () => {
  it('turns a storm into one update per incident, then one repeat summary per window', () => {
    const coalescer = new AlertCoalescer({ resolveHost, windowMs: 30_000 });
    const start = 1_000_000;
    const updates: IncidentUpdate[] = [];
    // 1,500 alerts over 20 s: three hosts, each with 5 probes that keep re-firing.
    for (let i = 0; i < 1500; i += 1) {
      const host = inventory[i % 3] as string;
      updates.push(...coalescer.ingest([firing(host, i % 5)], start + Math.floor(i * (20_000 / 1500))));
    }
    expect(kinds(updates)).toEqual(['opened:docs-1', 'opened:docs-2', 'opened:docs-3']);
    expect(coalescer.flush(start + 29_999)).toEqual([]);
    expect(coalescer.nextFlushAtMs()).toBe(start + 30_000);

    // docs-2 and docs-3 opened 13 and 26 ms after docs-1
    const due = coalescer.flush(start + 30_100);
    expect(kinds(due)).toEqual(['repeated:docs-1', 'repeated:docs-2', 'repeated:docs-3']);
    expect(due.map((u) => u.newAlerts)).toEqual([499, 499, 499]);
    expect(due.map((u) => u.totalAlerts)).toEqual([500, 500, 500]);
    expect(due.every((u) => u.firing === 5 && u.alerts.length === 5)).toBe(true);
    // nothing new: nothing to say
    expect(coalescer.flush(start + 90_000)).toEqual([]);
  });

  it('reports a repeat at once when the last update is older than the window', () => {
    const coalescer = new AlertCoalescer({ resolveHost, windowMs: 30_000 });
    coalescer.ingest([firing('docs-1')], 0);
    const later = coalescer.ingest([firing('docs-1', 1)], 45_000);
    expect(later.map((u) => [u.kind, u.newAlerts, u.firing])).toEqual([['repeated', 1, 2]]);
  });

  it('resolves only when every alert of the incident resolved, in the same thread key', () => {
    const coalescer = new AlertCoalescer({ resolveHost });
    const [opened] = coalescer.ingest([firing('docs-1', 0), firing('docs-1', 1)], 0);
    expect(opened).toMatchObject({ kind: 'opened', newAlerts: 2, firing: 2, totalAlerts: 2 });
    expect(coalescer.ingest([resolved('docs-1', 0)], 1000)).toEqual([]);
    const [done] = coalescer.ingest([resolved('docs-1', 1)], 2000);
    expect(done).toMatchObject({ kind: 'resolved', key: opened!.key, firing: 0, totalAlerts: 4, newAlerts: 2 });
    expect(coalescer.openIncidents).toBe(0);
    // firing again later is a new incident with the same key: the bot decides whether to reuse the thread
    const [again] = coalescer.ingest([firing('docs-1')], 60_000);
    expect(again).toMatchObject({ kind: 'opened', key: opened!.key, totalAlerts: 1 });
  });

  it('passes on a resolution for an incident it never saw', () => {
    const coalescer = new AlertCoalescer({ resolveHost });
    const [update] = coalescer.ingest([resolved('docs-2')], 5);
    expect(update).toMatchObject({ kind: 'resolved', host: 'docs-2', totalAlerts: 1, firing: 0 });
    expect(update?.key).toBe(incidentKey(resolved('docs-2'), 'docs-2'));
    expect(coalescer.openIncidents).toBe(0);
  });

  it('keeps the order of a flap inside one webhook', () => {
    const coalescer = new AlertCoalescer({ resolveHost });
    const updates = coalescer.ingest([firing('docs-1'), resolved('docs-1'), firing('docs-1')], 0);
    expect(updates.map((u) => u.kind)).toEqual(['opened', 'resolved', 'opened']);
  });

  it('groups alerts of unknown hosts by the sender group', () => {
    const coalescer = new AlertCoalescer({ resolveHost });
    const updates = coalescer.ingest(alertsOf(alertmanagerFor(['x-1', 'x-2', 'x-3'])), 0);
    expect(updates).toHaveLength(1);
    expect(updates[0]).toMatchObject({ kind: 'opened', host: undefined, newAlerts: 3, firing: 3 });
  });

  it('forgets incidents that went silent, saying so', () => {
    const coalescer = new AlertCoalescer({ resolveHost, forgetAfterMs: 60_000 });
    coalescer.ingest([firing('docs-1')], 0);
    expect(coalescer.nextFlushAtMs()).toBe(60_000);
    expect(kinds(coalescer.flush(60_000))).toEqual(['expired:docs-1']);
    expect(coalescer.openIncidents).toBe(0);
  });

  it('stays within its bounds', () => {
    const coalescer = new AlertCoalescer({ resolveHost: () => undefined, maxIncidents: 3, maxAlertsPerIncident: 2 });
    const updates: IncidentUpdate[] = [];
    for (let i = 0; i < 5; i += 1) {
      const alert = { ...firing('docs-1', 0, `Alert${i}`), groupKey: undefined };
      updates.push(...coalescer.ingest([alert], i));
    }
    expect(coalescer.openIncidents).toBe(3);
    expect(updates.map((u) => `${u.kind}:${u.alertname}`)).toEqual([
      'opened:Alert0',
      'opened:Alert1',
      'opened:Alert2',
      'expired:Alert0',
      'opened:Alert3',
      'expired:Alert1',
      'opened:Alert4',
    ]);
    const busy = new AlertCoalescer({ resolveHost, maxAlertsPerIncident: 2 });
    const [update] = busy.ingest([firing('docs-1', 0), firing('docs-1', 1), firing('docs-1', 2)], 0);
    expect(update?.alerts).toHaveLength(2);
    expect(update?.firing).toBe(3);
  });

  it('refuses nonsense options', () => {
    expect(() => new AlertCoalescer({ resolveHost, windowMs: 0 })).toThrow(/windowMs/);
  });

  it('accounts for every alert, whatever the order (property)', () => {
    const event = fc.record({
      host: fc.constantFrom('docs-1', 'docs-2', 'elsewhere'),
      probe: fc.integer({ min: 0, max: 3 }),
      firing: fc.boolean(),
      gapMs: fc.integer({ min: 0, max: 20_000 }),
    });
    fc.assert(
      fc.property(fc.array(event, { maxLength: 200 }), (events) => {
        const coalescer = new AlertCoalescer({ resolveHost, windowMs: 10_000 });
        let now = 0;
        const emitted: Array<{ update: IncidentUpdate; at: number }> = [];
        const take = (list: IncidentUpdate[], at: number) => list.forEach((update) => emitted.push({ update, at }));
        for (const e of events) {
          now += e.gapMs;
          const alert = e.firing ? firing(e.host, e.probe) : resolved(e.host, e.probe);
          take(coalescer.ingest([alert], now), now);
          take(coalescer.flush(now), now);
        }
        take(coalescer.flush(now + 10_000), now + 10_000);
        const updates = emitted.map((x) => x.update);
        // Every alert is counted in exactly one update.
        expect(updates.reduce((n, u) => n + u.newAlerts, 0)).toBe(events.length);
        // A repeat summary comes at least a window after the previous update of its incident.
        const lastUpdateAt = new Map<string, number>();
        for (const { update, at } of emitted) {
          if (update.kind === 'repeated') {
            expect(at - (lastUpdateAt.get(update.key) ?? -Infinity)).toBeGreaterThanOrEqual(10_000);
          }
          if (update.kind === 'opened' || update.kind === 'repeated') lastUpdateAt.set(update.key, at);
          else lastUpdateAt.delete(update.key);
        }
        // Open incidents are exactly those whose last update was not a resolution.
        const open = new Set<string>();
        for (const u of updates) {
          if (u.kind === 'opened') open.add(u.key);
          if (u.kind === 'resolved' || u.kind === 'expired') open.delete(u.key);
        }
        expect(coalescer.openIncidents).toBe(open.size);
      }),
      { numRuns: 200 },
    );
  });
});
