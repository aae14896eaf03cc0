// The alert webhooks against a real redis-server: 401 without the token, 400 naming what is wrong,
// 413 for an oversized body, 202 only once the alerts are in the Redis stream, 503 while Redis is down.
import type { Server } from 'node:http';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AlertIntake, alertStreamKey } from '../../../src/app/alerts.js';
import { createRedisClient } from '../../../src/queue/redis.js';
import { bearerMatches, closeServer, createHttpServer, listen } from '../../../src/server/http.js';
import { Metrics } from '../../../src/server/metrics.js';
import { startRedisServer, type TestRedisServer } from '../../../src/testing/redis-server.js';

const TOKEN = 'alert-token-0123456789abcdef';
let redis: TestRedisServer;
let producer: Redis;
let reader: Redis;
let server: Server;
let base: string;
const metrics = new Metrics();
let ready = true;

const alertmanager = {
  version: '4',
  status: 'firing',
  receiver: 'oo',
  groupKey: '{}:{alertname="OnlyofficeDown"}',
  alerts: [
    {
      status: 'firing',
      labels: { alertname: 'OnlyofficeDown', instance: 'docs-1:9100' },
      annotations: { summary: '502 on docs-1' },
      startsAt: '2025-01-31T10:00:00Z',
      endsAt: '0001-01-01T00:00:00Z',
      fingerprint: 'a1b2c3d4e5f60718',
    },
  ],
};

async function post(path: string, body: string, token: string | null = TOKEN) {
  const response = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body,
  });
  return { status: response.status, headers: response.headers, body: (await response.json()) as { error?: string; alerts?: number } };
}

beforeAll(async () => {
  redis = await startRedisServer();
  producer = createRedisClient(redis.url, 'producer');
  producer.on('error', () => undefined);
  reader = new Redis(redis.url);
  reader.on('error', () => undefined);
  await new Promise((resolve) => producer.once('ready', resolve));
  server = createHttpServer({
    alerts: { token: TOKEN, sink: new AlertIntake(producer, 'tweb', 1000), maxBodyBytes: 64 * 1024, maxAlertsPerBody: 50 },
    readiness: async () => ({ ready, checks: { redis: ready ? 'ok' : 'down' } }),
    metrics,
  });
  base = `http://127.0.0.1:${await listen(server, 0, '127.0.0.1')}`;
});

afterAll(async () => {
  await closeServer(server);
  producer.disconnect();
  reader.disconnect();
  await redis.stop();
});

describe('alert webhooks', () => {
  it('compares the bearer token in constant time, refusing anything else', () => {
    expect(bearerMatches(`Bearer ${TOKEN}`, TOKEN)).toBe(true);
    expect(bearerMatches(`bearer ${TOKEN}`, TOKEN)).toBe(true);
    expect(bearerMatches(`Bearer ${TOKEN}x`, TOKEN)).toBe(false);
    expect(bearerMatches(`Basic ${TOKEN}`, TOKEN)).toBe(false);
    expect(bearerMatches(undefined, TOKEN)).toBe(false);
    expect(bearerMatches('Bearer x', '')).toBe(false);
  });

  it('answers 401 without the token or with a wrong one, and stores nothing', async () => {
    const none = await post('/alerts/alertmanager', JSON.stringify(alertmanager), null);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toContain('Bearer');
    expect((await post('/alerts/alertmanager', JSON.stringify(alertmanager), 'wrong-token-0123456789')).status).toBe(401);
    expect(await reader.xlen(alertStreamKey('tweb'))).toBe(0);
  });

  it('answers 400 naming what is wrong with a body', async () => {
    const notJson = await post('/alerts/alertmanager', '{"alerts": [');
    expect(notJson.status).toBe(400);
    expect(notJson.body.error).toMatch(/^body: not valid JSON/);
    const missing = await post('/alerts/alertmanager', JSON.stringify({ ...alertmanager, alerts: [{ ...alertmanager.alerts[0], status: 'burning' }] }));
    expect(missing.status).toBe(400);
    expect(missing.body.error).toContain('alerts[0].status');
    const generic = await post('/alerts/generic', JSON.stringify({ summary: 'x', status: 'firing' }));
    expect(generic.status).toBe(400);
    expect(generic.body.error).toContain('host');
    const tooMany = await post('/alerts/alertmanager', JSON.stringify({ ...alertmanager, alerts: Array(51).fill(alertmanager.alerts[0]) }));
    expect(tooMany.body.error).toContain('51 alerts in one body, more than the limit of 50');
    expect((await post('/alerts/nagios', '{}')).status).toBe(404);
    expect((await post('/alerts/generic', 'x'.repeat(70 * 1024))).status).toBe(413);
    expect(await reader.xlen(alertStreamKey('tweb'))).toBe(0);
  });

  it('answers 202 only once the alerts are in the stream, for each source', async () => {
    expect((await post('/alerts/alertmanager', JSON.stringify(alertmanager))).body).toEqual({ status: 'accepted', alerts: 1 });
    expect((await post('/alerts/grafana', JSON.stringify({ ...alertmanager, version: '1', orgId: 1, title: 'x' }))).status).toBe(202);
    expect((await post('/alerts/generic', JSON.stringify([{ host: 'docs-1', summary: '502', status: 'firing' }]))).status).toBe(202);
    const entries = await reader.xrange(alertStreamKey('tweb'), '-', '+');
    expect(entries).toHaveLength(3);
    const first = JSON.parse(entries[0]![1][1]!) as { source: string; alerts: { fingerprint: string }[] };
    expect(first).toMatchObject({ source: 'alertmanager', alerts: [{ fingerprint: 'a1b2c3d4e5f60718' }] });
    expect(metrics.value('oo_alerts_received_total', { source: 'alertmanager' })).toBe(1);
  });

  it('serves health, readiness and metrics', async () => {
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    ready = false;
    const notReady = await fetch(`${base}/readyz`);
    expect(notReady.status).toBe(503);
    expect(await notReady.json()).toEqual({ status: 'not ready', checks: { redis: 'down' } });
    ready = true;
    const text = await (await fetch(`${base}/metrics`)).text();
    expect(text).toContain('# TYPE oo_alerts_received_total counter');
    expect(text).toMatch(/oo_alert_requests_rejected_total\{reason="unauthorized"\} 2/);
    expect((await fetch(`${base}/slack/events`, { method: 'POST' })).status).toBe(404);
  });

  it('answers 503 with Retry-After while Redis is down, so the sender retries', async () => {
    await redis.stop();
    await new Promise((resolve) => setTimeout(resolve, 200));
    const down = await post('/alerts/alertmanager', JSON.stringify(alertmanager));
    expect(down.status).toBe(503);
    expect(down.headers.get('retry-after')).toBe('5');
    expect(down.body.error).toContain('Redis unavailable');
  });
});
