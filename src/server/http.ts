// The one HTTP port of `oo serve` (contract: Service endpoints): Slack's events (HTTP mode), the alert
// webhooks, and health, readiness and metrics. The alert endpoints answer 2xx only once the alerts are
// stored in Redis (so Alertmanager's retry covers every failure before that), 400 naming what is wrong
// with a body, 401 without the bearer token, 413 for an oversized body, 503 while Redis is unavailable.
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseAlertBody } from '../alerts/parse.js';
import { ALERT_SOURCES, type AlertSource } from '../alerts/types.js';
import type { NormalizedAlert } from '../alerts/types.js';
import { RedisUnavailableError } from '../queue/redis.js';
import type { Metrics } from './metrics.js';

export interface AlertSink {
  accept(source: AlertSource, alerts: NormalizedAlert[]): Promise<string>;
}

export interface Readiness {
  ready: boolean;
  checks: Record<string, string>;
}

export interface HttpServerOptions {
  /** HTTP mode's Slack request listener (Bolt's HTTPReceiver); absent in Socket Mode and for workers. */
  slackEvents?: (req: IncomingMessage, res: ServerResponse) => void;
  alerts?: {
    token: string;
    sink: AlertSink;
    maxBodyBytes: number;
    maxAlertsPerBody: number;
  };
  readiness: () => Promise<Readiness>;
  metrics: Metrics;
  onError?: (error: unknown, context: string) => void;
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) return;
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers });
  res.end(`${JSON.stringify(body)}\n`);
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/** Constant-time comparison of the bearer token (hashing first makes the lengths equal). */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  if (!match || !token) return false;
  return timingSafeEqual(digest(match[1]!), digest(token));
}

class BodyTooLargeError extends Error {}

async function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) throw new BodyTooLargeError();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) throw new BodyTooLargeError();
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

export function createHttpServer(options: HttpServerOptions): Server {
  const { metrics } = options;
  const reject = (source: AlertSource, res: ServerResponse, status: number, reason: string, message: string, headers: Record<string, string> = {}) => {
    metrics.inc('oo_alert_requests_rejected_total', { reason });
    metrics.inc('oo_alert_requests_total', { source, outcome: reason });
    json(res, status, { error: message }, headers);
  };

  const handleAlert = async (source: AlertSource, req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const alerts = options.alerts;
    if (!alerts) return json(res, 404, { error: 'the alert webhooks are not served by this process (oo worker)' });
    if (req.method !== 'POST') return json(res, 405, { error: `use POST for /alerts/${source}` }, { allow: 'POST' });
    if (!bearerMatches(req.headers.authorization, alerts.token)) {
      req.resume();
      return reject(source, res, 401, 'unauthorized', 'missing or wrong bearer token (Authorization: Bearer $OO_ALERT_TOKEN)', {
        'www-authenticate': 'Bearer realm="oo-responder alerts"',
      });
    }
    let raw: Buffer;
    try {
      raw = await readBody(req, alerts.maxBodyBytes);
    } catch (error) {
      if (error instanceof BodyTooLargeError) {
        res.setHeader('connection', 'close');
        return reject(source, res, 413, 'too_large', `body: larger than ${alerts.maxBodyBytes} bytes (alerts.maxBodyBytes)`);
      }
      throw error;
    }
    let body: unknown;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch (error) {
      return reject(source, res, 400, 'bad_json', `body: not valid JSON (${(error as Error).message})`);
    }
    const parsed = parseAlertBody(source, body, { maxAlerts: alerts.maxAlertsPerBody });
    if (!parsed.ok) return reject(source, res, 400, 'bad_body', parsed.error);
    try {
      await alerts.sink.accept(source, parsed.alerts);
    } catch (error) {
      if (error instanceof RedisUnavailableError) {
        options.onError?.(error, `storing ${source} alerts`);
        return reject(source, res, 503, 'redis_unavailable', 'alerts cannot be stored right now (Redis unavailable); retry', { 'retry-after': '5' });
      }
      throw error;
    }
    metrics.inc('oo_alerts_received_total', { source }, parsed.alerts.length);
    metrics.inc('oo_alert_requests_total', { source, outcome: 'accepted' });
    json(res, 202, { status: 'accepted', alerts: parsed.alerts.length });
  };

  const route = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const { pathname } = new URL(req.url ?? '/', 'http://localhost');
    if (pathname === '/slack/events') {
      if (!options.slackEvents) return json(res, 404, { error: 'Slack events are not received over HTTP here (Socket Mode, or oo worker)' });
      return options.slackEvents(req, res);
    }
    const alert = /^\/alerts\/([a-z]+)$/.exec(pathname);
    if (alert) {
      const source = alert[1]!;
      if (!(ALERT_SOURCES as readonly string[]).includes(source)) {
        return json(res, 404, { error: `unknown alert source "${source}"; use one of ${ALERT_SOURCES.map((s) => `/alerts/${s}`).join(', ')}` });
      }
      return handleAlert(source as AlertSource, req, res);
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return json(res, 405, { error: 'method not allowed' }, { allow: 'GET' });
    if (pathname === '/healthz') return json(res, 200, { status: 'ok' });
    if (pathname === '/readyz') {
      const readiness = await options.readiness();
      return json(res, readiness.ready ? 200 : 503, { status: readiness.ready ? 'ready' : 'not ready', checks: readiness.checks });
    }
    if (pathname === '/metrics') {
      const text = await metrics.render();
      res.writeHead(200, { 'content-type': metrics.contentType });
      res.end(text);
      return;
    }
    json(res, 404, { error: `no such endpoint ${pathname}` });
  };

  return createServer((req, res) => {
    route(req, res).catch((error: unknown) => {
      options.onError?.(error, `${req.method} ${req.url}`);
      json(res, 500, { error: 'internal error' });
    });
  });
}

/** Listens on `port` (0: a free one) and resolves with the port; `host` defaults to all interfaces. */
export function listen(server: Server, port: number, host?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** Stops accepting, lets requests in flight finish (bounded), then drops what is left. */
export async function closeServer(server: Server, graceMs = 5000): Promise<void> {
  if (!server.listening) return;
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const timer = setTimeout(() => server.closeAllConnections(), graceMs);
  timer.unref();
  await closed;
  clearTimeout(timer);
}

