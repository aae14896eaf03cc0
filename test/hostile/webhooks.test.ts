// Hostile alert webhook bodies against the real service: malformed JSON, wrong types, missing fields,
// deep nesting, prototype keys, a 10 MB body (declared and streamed without a length), thousands of
// alerts in one body. Each gets a clear 4xx (400/413) whose error names the reason, memory stays bounded
// (generous), and nothing is half-queued: a body that is refused adds nothing to the alert intake stream,
// even when its first 999 alerts are valid.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALERT_TOKEN, alertmanagerBody, postAlert, type Harness } from '../e2e/slack/harness.js';
import { alertEntriesAdded, jobCounts, startUnreachableService } from './service.js';

let harness: Harness;

beforeAll(async () => {
  harness = await startUnreachableService(['docs-1'], { postMessageRate: false });
}, 120_000);

afterAll(async () => {
  await harness?.close();
});

async function postRaw(source: string, body: string | ReadableStream<Uint8Array>, headers: Record<string, string> = {}) {
  const response = await fetch(`${harness.base}/alerts/${source}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${ALERT_TOKEN}`, ...headers },
    body,
    ...(typeof body === 'string' ? {} : { duplex: 'half' }),
  } as RequestInit);
  const text = await response.text();
  return { status: response.status, text, json: (() => { try { return JSON.parse(text) as { error?: string }; } catch { return {}; } })() };
}

async function nothingQueued(): Promise<void> {
  expect(await alertEntriesAdded(harness)).toBe(0);
  expect(await harness.service.incidents.listOpen()).toEqual([]);
  expect((await jobCounts(harness)).diagnosis).toBe(0);
}

const validAlert = (i: number) => alertmanagerBody([{ alertname: 'OnlyofficeDown', instance: 'docs-1:9100', fingerprint: i.toString(16).padStart(16, '0') }]).alerts[0]!;

describe('alert webhook bodies that are wrong', () => {
  it('malformed JSON, wrong types and missing fields: 400 naming what is wrong, nothing queued', async () => {
    const bodies: { source: string; body: string; reason: RegExp }[] = [
      { source: 'alertmanager', body: '{"alerts": [', reason: /not valid JSON/ },
      { source: 'alertmanager', body: '', reason: /not valid JSON/ },
      { source: 'alertmanager', body: '\u0000\u0001\u0002', reason: /not valid JSON/ },
      { source: 'alertmanager', body: "{'alerts': []}", reason: /not valid JSON/ },
      { source: 'alertmanager', body: 'null', reason: /body/ },
      { source: 'alertmanager', body: '[]', reason: /body/ },
      { source: 'alertmanager', body: '"alerts"', reason: /body/ },
      { source: 'alertmanager', body: '42', reason: /body/ },
      { source: 'alertmanager', body: '{}', reason: /alerts/ },
      { source: 'alertmanager', body: JSON.stringify({ ...alertmanagerBody([]), alerts: 'OnlyofficeDown' }), reason: /alerts/ },
      { source: 'alertmanager', body: JSON.stringify({ ...alertmanagerBody([]), alerts: [{ ...validAlert(1), labels: 5 }] }), reason: /alerts\[0\]\.labels/ },
      { source: 'alertmanager', body: JSON.stringify({ ...alertmanagerBody([]), alerts: [{ ...validAlert(1), labels: { alertname: ['x'] } }] }), reason: /alerts\[0\]\.labels/ },
      { source: 'alertmanager', body: JSON.stringify({ ...alertmanagerBody([]), alerts: [{ ...validAlert(1), startsAt: 'yesterday' }] }), reason: /alerts\[0\]\.startsAt/ },
      { source: 'alertmanager', body: JSON.stringify({ ...alertmanagerBody([]), alerts: [{ ...validAlert(1), status: 'on fire' }] }), reason: /alerts\[0\]\.status/ },
      { source: 'grafana', body: '{}', reason: /alerts/ },
      { source: 'generic', body: '{}', reason: /\S/ },
      { source: 'generic', body: '{"alerts": [{"labels": {}}]}', reason: /\S/ },
    ];
    for (const { source, body, reason } of bodies) {
      const answer = await postRaw(source, body);
      expect(answer.status, `${source} ${body.slice(0, 60)}`).toBe(400);
      expect(answer.json.error, `${source} ${body.slice(0, 60)}`).toMatch(reason);
      // The reason is short enough to read in Alertmanager's log, whatever the body.
      expect(answer.json.error!.length).toBeLessThan(2000);
    }
    await nothingQueued();
  });

  it('deep nesting and prototype keys are refused or parsed as plain data, never a crash', async () => {
    const deep = `${'['.repeat(200_000)}${']'.repeat(200_000)}`;
    const deepAnswer = await postRaw('alertmanager', deep);
    expect(deepAnswer.status).toBe(400);
    const proto = `{"version":"4","status":"firing","__proto__":{"alerts":[]},"alerts":[{"status":"firing","labels":{"__proto__":"x","alertname":"A"},"annotations":{"constructor":{"prototype":{}}},"startsAt":"2024-01-01T00:00:00Z"}]}`;
    const protoAnswer = await postRaw('alertmanager', proto);
    // Read past the `__proto__` keys as data: refused for the annotation that is not a string.
    expect(protoAnswer.status).toBe(400);
    expect(protoAnswer.json.error).toMatch(/annotations/);
    expect(({} as Record<string, unknown>).alerts).toBeUndefined();
    // Still serving.
    expect((await fetch(`${harness.base}/healthz`)).status).toBe(200);
    await nothingQueued();
  });

  it('a 10 MB body is refused with 413, declared or streamed, with bounded memory', async () => {
    const before = process.memoryUsage().rss;
    const big = JSON.stringify({ ...alertmanagerBody([]), padding: 'x'.repeat(10 * 1024 * 1024) });
    for (let round = 0; round < 3; round++) {
      const declared = await postRaw('alertmanager', big);
      expect(declared.status).toBe(413);
      expect(declared.json.error).toMatch(/larger than \d+ bytes/);
    }
    // Streamed in chunks without a content-length: the cap counts the bytes as they come.
    const chunk = new TextEncoder().encode('x'.repeat(64 * 1024));
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= 160) return controller.close();
        sent += 1;
        controller.enqueue(chunk);
      },
    });
    const streamed = await postRaw('alertmanager', stream).catch((error: unknown) => ({ status: 0, text: String(error), json: {} as { error?: string } }));
    // The server answers 413 and closes; the client may see the answer or the reset, never a hang.
    if (streamed.status !== 0) {
      expect(streamed.status).toBe(413);
      expect(streamed.json.error).toMatch(/larger than/);
    }
    // Generous: the bodies were not all kept; one 10 MB string is held by this test itself.
    expect(process.memoryUsage().rss - before).toBeLessThan(300 * 1024 * 1024);
    await nothingQueued();
  }, 60_000);

  it('more alerts than a body may hold, or one bad alert after 999 good ones: 400, and none of them queued', async () => {
    const thousands = { ...alertmanagerBody([]), alerts: Array.from({ length: 5000 }, (_, i) => validAlert(i)) };
    const tooMany = await postAlert(harness, 'alertmanager', thousands);
    expect(tooMany.status).toBe(400);
    expect(String(tooMany.body.error)).toMatch(/1000/);

    const lastBad = { ...alertmanagerBody([]), alerts: [...Array.from({ length: 999 }, (_, i) => validAlert(i)), { ...validAlert(999), startsAt: 42 }] };
    const halfGood = await postAlert(harness, 'alertmanager', lastBad);
    expect(halfGood.status).toBe(400);
    expect(String(halfGood.body.error)).toMatch(/alerts\[999\]\.startsAt/);
    await nothingQueued();

    // Without a bearer token nothing is read at all.
    expect((await postAlert(harness, 'alertmanager', alertmanagerBody([{ alertname: 'A', instance: 'docs-1' }]), null)).status).toBe(401);
    expect((await postAlert(harness, 'alertmanager', alertmanagerBody([{ alertname: 'A', instance: 'docs-1' }]), 'wrong-token')).status).toBe(401);
    await nothingQueued();

    // The bound itself is accepted whole: 1000 alerts in one body are one intake entry.
    const atTheBound = { ...alertmanagerBody([]), alerts: Array.from({ length: 1000 }, (_, i) => validAlert(i)) };
    const accepted = await postAlert(harness, 'alertmanager', atTheBound);
    expect(accepted).toEqual({ status: 202, body: { status: 'accepted', alerts: 1000 } });
    expect(await alertEntriesAdded(harness)).toBe(1);
  }, 60_000);
});
