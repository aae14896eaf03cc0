import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IncidentStore } from '../../../src/incidents/store.js';
import { summarize } from '../../../src/incidents/summary.js';
import type { Incident } from '../../../src/incidents/types.js';
import { keyspace } from '../../../src/queue/keys.js';
import { plainClient, sleep, startRedisServer, testPrefix, type TestRedisServer } from '../queue/helpers.js';

let server: TestRedisServer;
let clients: Redis[] = [];

beforeAll(async () => {
  server = await startRedisServer();
  // Several connections, as several replicas receiving the same alert would have.
  clients = Array.from({ length: 5 }, () => plainClient(server));
});
afterAll(async () => {
  for (const client of clients) client.disconnect();
  await server?.stop();
});

describe('IncidentStore', () => {
  it('makes one incident out of 50 concurrent openings (repeats and replicas)', async () => {
    const keys = keyspace(testPrefix());
    const stores = clients.map((client) => new IncidentStore(client, keys));
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, index) =>
        stores[index % stores.length]!.openOrGet('inc_race', { channel: 'C0OPS', host: 'docs-1', title: 'HTTP 502', countAlert: true }),
      ),
    );
    expect(results.filter((result) => result.created)).toHaveLength(1);
    expect(new Set(results.map((result) => result.incident.openedAt)).size).toBe(1);
    const incident = await stores[0]!.get('inc_race');
    expect(incident).toMatchObject({ key: 'inc_race', host: 'docs-1', channel: 'C0OPS', status: 'open', alerts: 50 });
    expect(incident!.timeline).toHaveLength(1);
    expect((await stores[1]!.listOpen()).map((open) => open.key)).toEqual(['inc_race']);
  });

  it('keeps the first thread ts, and the others can wait for it', async () => {
    const store = new IncidentStore(clients[0]!, keyspace(testPrefix()));
    const opened = await store.openOrGet('inc_thread', { channel: 'C0OPS', host: 'docs-1' });
    expect(opened.created).toBe(true);
    const other = await store.openOrGet('inc_thread', { channel: 'C0OPS', host: 'docs-1' });
    expect(other.created).toBe(false);
    expect(other.incident.threadTs).toBeUndefined();

    expect(await store.waitForThread('inc_thread', { timeoutMs: 150, pollMs: 20 })).toBeUndefined();
    const waiting = store.waitForThread('inc_thread', { timeoutMs: 3000, pollMs: 20 });
    await sleep(100);
    await store.setThread('inc_thread', '1712345678.000100');
    expect(await waiting).toBe('1712345678.000100');
    const second = await store.setThread('inc_thread', '1712345679.000200');
    expect(second.threadTs).toBe('1712345678.000100');
    await expect(store.setThread('inc_nothing', '1712345678.000100')).rejects.toThrow(/no incident/);
    await expect(store.setThread('inc_thread', 'not-a-ts')).rejects.toThrow(/thread ts/);
  });

  it('records a timeline, resolves, reopens, and summarizes', async () => {
    const store = new IncidentStore(clients[0]!, keyspace(testPrefix()));
    const t0 = Date.parse('2025-03-01T10:00:00Z');
    await store.openOrGet('inc_life', { channel: 'C0OPS', host: 'docs-1', at: t0, countAlert: true, text: 'HTTP 502 on docs-1' });
    await store.appendTimeline('inc_life', { kind: 'request', text: 'diagnosis requested', at: t0 + 1_000 });
    await store.appendTimeline('inc_life', { kind: 'diagnosis', text: 'backend_down (0.93)', at: t0 + 42_000 });
    await store.appendTimeline('inc_life', { kind: 'diagnosis', text: 'again', at: t0 + 50_000 });
    await store.appendTimeline('inc_life', { kind: 'remediation', text: 'restart with password=hunter2', at: t0 + 90_000 });
    const { incident, changed } = await store.resolve('inc_life', { at: t0 + 120_000, text: 'alert resolved' });
    expect(changed).toBe(true);
    expect(incident.status).toBe('resolved');
    expect(incident.firstDiagnosisAt).toBe(new Date(t0 + 42_000).toISOString());
    expect(JSON.stringify(incident)).not.toContain('hunter2');
    expect((await store.resolve('inc_life')).changed).toBe(false);
    expect(await store.listOpen()).toEqual([]);

    const summary = summarize(incident);
    expect(summary.timeToDiagnosisMs).toBe(42_000);
    expect(summary.timeToRecoveryMs).toBe(120_000);
    expect(summary.timeline.map((entry) => entry.kind)).toEqual([
      'open',
      'request',
      'diagnosis',
      'diagnosis',
      'remediation',
      'resolve',
    ]);

    const again = await store.openOrGet('inc_life', { channel: 'C0OPS', host: 'docs-1', countAlert: true });
    expect(again).toMatchObject({ created: false, reopened: true });
    expect(again.incident.status).toBe('open');
    expect(again.incident.resolvedAt).toBeUndefined();
    expect(again.incident.alerts).toBe(2);
    expect(again.incident.timeline.at(-1)?.kind).toBe('reopen');
    expect((await store.listOpen()).map((open) => open.key)).toEqual(['inc_life']);
  });

  it('bounds the timeline, keeping the opening entry', async () => {
    const store = new IncidentStore(clients[0]!, keyspace(testPrefix()), { maxTimeline: 5 });
    await store.openOrGet('inc_long', { channel: 'C0OPS' });
    for (let index = 0; index < 20; index++) await store.appendTimeline('inc_long', { kind: 'note', text: `n${index}` });
    const incident = await store.get('inc_long');
    expect(incident!.timeline.map((entry) => entry.text)).toEqual(['incident opened', 'n16', 'n17', 'n18', 'n19']);
  });

  it('rejects bad keys and input, and unknown incidents', async () => {
    const store = new IncidentStore(clients[0]!, keyspace(testPrefix()));
    await expect(store.openOrGet('inc bad', { channel: 'C0OPS' })).rejects.toThrow(/incident key/);
    await expect(store.openOrGet('inc_ok', { channel: 'ops' })).rejects.toThrow(/channel/);
    await expect(store.openOrGet('inc_ok', { channel: 'C0OPS', host: '-x' })).rejects.toThrow(/host/);
    await expect(store.appendTimeline('inc_missing', { kind: 'note', text: 'x' })).rejects.toThrow(/no incident/);
    await expect(store.appendTimeline('inc_missing', { kind: 'bogus' as never, text: 'x' })).rejects.toThrow(/timeline kind/);
    await expect(store.resolve('inc_missing')).rejects.toThrow(/no incident/);
    expect(await store.get('inc_missing')).toBeNull();
  });
});

describe('summarize', () => {
  const base: Incident = {
    key: 'inc_s',
    channel: 'C0OPS',
    status: 'open',
    openedAt: '2025-03-01T10:00:00.000Z',
    alerts: 1,
    timeline: [
      { at: '2025-03-01T10:05:00.000Z', kind: 'remediation', text: 'b' },
      { at: '2025-03-01T10:00:00.000Z', kind: 'open', text: 'a' },
      { at: '2025-03-01T10:05:00.000Z', kind: 'verification', text: 'c' },
      { at: '2025-03-01T10:01:30.000Z', kind: 'diagnosis', text: 'd' },
    ],
  };

  it('orders the timeline by time, keeping the recorded order for equal times', () => {
    expect(summarize(base).timeline.map((entry) => entry.text)).toEqual(['a', 'd', 'b', 'c']);
  });

  it('has no recovery time while open, and uses the first diagnosis for time to diagnosis', () => {
    const summary = summarize(base);
    expect(summary.timeToDiagnosisMs).toBe(90_000);
    expect(summary.timeToRecoveryMs).toBeUndefined();
    expect(summarize({ ...base, firstDiagnosisAt: '2025-03-01T10:00:10.000Z' }).timeToDiagnosisMs).toBe(10_000);
  });

  it('has no diagnosis time before a diagnosis, and a recovery time once resolved', () => {
    const summary = summarize({
      ...base,
      status: 'resolved',
      resolvedAt: '2025-03-01T10:10:00.000Z',
      timeline: base.timeline.filter((entry) => entry.kind !== 'diagnosis'),
    });
    expect(summary.timeToDiagnosisMs).toBeUndefined();
    expect(summary.timeToRecoveryMs).toBe(600_000);
  });
});
