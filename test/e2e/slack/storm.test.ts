// An alert storm: 300 alerts for a few hosts within a second or two. They become one thread per
// incident, every alert is counted (none lost), Slack's 429s (the stand-in enforces one message a
// second per channel) are waited out and nothing the bot meant to say is dropped.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freeLoopbackPort } from '../../../src/testing/redis-server.js';
import { alertmanagerBody, CHANNEL, postAlert, startHarness, waitFor, type Harness } from './harness.js';

const KEY = readFileSync(path.join(import.meta.dirname, '../../unit/ssh/fixtures/ed25519.pub'), 'utf8').trim();
let harness: Harness;

beforeAll(async () => {
  // Hosts nobody listens for: each diagnosis ends quickly as "unreachable", which is a finding too.
  const port = await freeLoopbackPort();
  const host = { address: '127.0.0.1', port, user: 'ops', hostKey: KEY, processManager: 'supervisor' };
  harness = await startHarness({
    hosts: { 'storm-a': host, 'storm-b': host, 'storm-c': host },
    // `node` first: storm-c's alerts name it only there (the label list is configurable).
    alerts: { hostLabels: ['node', 'instance'], repeatWindowMs: 1000 },
    slack: { postEveryMs: 0 },
    workers: { diagnosisConcurrency: 3 },
  });
}, 120_000);

afterAll(async () => {
  await harness?.close();
});

describe('an alert storm', () => {
  it('becomes one thread per incident with every alert counted, and every message delivered despite 429s', async () => {
    const bodies = Array.from({ length: 30 }, (_, body) => {
      const alerts = Array.from({ length: 10 }, (_, i) => {
        const n = body * 10 + i;
        const target = ['storm-a:9100', 'storm-b:9100', 'storm-c', 'ghost-1:9100'][n % 4]!;
        return { alertname: 'OnlyofficeDown', instance: target, fingerprint: `fp${(n % 40).toString(16).padStart(14, '0')}` };
      });
      const payload = alertmanagerBody(alerts.map(({ alertname, instance, fingerprint }) => ({ alertname, instance: instance === 'storm-c' ? 'lb-7:9100' : instance, fingerprint })));
      payload.alerts.forEach((alert, i) => {
        if (alerts[i]!.instance === 'storm-c') (alert.labels as Record<string, string>).node = 'storm-c';
      });
      return payload;
    });
    const started = Date.now();
    const answers = await Promise.all(bodies.map((body) => postAlert(harness, 'alertmanager', body)));
    expect(Date.now() - started).toBeLessThan(5000);
    expect(answers.map((answer) => answer.status)).toEqual(Array(30).fill(202));

    const open = await waitFor('all 300 alerts counted on their incidents', async () => {
      const incidents = await harness.service.incidents.listOpen();
      return incidents.reduce((sum, incident) => sum + incident.alerts, 0) === 300 ? incidents : undefined;
    }, 60_000);
    expect(open.map((incident) => incident.host ?? 'none').sort()).toEqual(['none', 'storm-a', 'storm-b', 'storm-c']);

    // One diagnosis per incident on a known host, however many alerts arrived.
    const jobs = await harness.service.queues.diagnosis.getJobCounts('waiting', 'active', 'delayed', 'completed', 'failed');
    expect(Object.values(jobs).reduce((a, b) => a + b, 0)).toBe(3);

    // Every incident on a known host gets its findings in its own thread; the unknown one says why not.
    for (const incident of open) {
      await waitFor(`the findings of ${incident.host ?? 'the unknown host'}`, () => {
        const thread = harness.standin.thread(CHANNEL, incident.threadTs!);
        return incident.host ? thread.replies.some((reply) => reply.text.startsWith(`${incident.host}: unreachable`)) : thread.parent.text.includes('unknown host');
      }, 90_000);
    }
    expect(await harness.service.outbox.idle(60_000)).toBe(true);

    const parents = harness.standin.messages(CHANNEL);
    expect(parents).toHaveLength(4);
    const ghost = parents.find((parent) => parent.text.includes('unknown host'))!;
    expect(JSON.stringify(ghost.blocks)).toContain('No inventory host matched the labels instance=ghost-1:9100');

    // The stand-in refused some posts with 429; each was sent again later and nothing was lost.
    const posts = harness.standin.callsTo('chat.postMessage');
    expect(posts.filter((call) => call.status === 429).length).toBeGreaterThan(0);
    expect(posts.filter((call) => call.status !== 429 && call.status !== 200)).toEqual([]);
    const delivered = posts.filter((call) => call.status === 200 && call.error === undefined).length;
    const stored = parents.length + parents.reduce((sum, parent) => sum + harness.standin.thread(CHANNEL, parent.ts).replies.length, 0);
    expect(delivered).toBe(stored);
    expect(harness.logs.filter((line) => line.includes('chat.postMessage to'))).toEqual([]);
  }, 240_000);
});
