// The whole service as `oo serve` runs it (startService), against a real redis-server, the Slack
// stand-in (SLACK_API_URL) and, when asked, real lab hosts over real SSH. Requests to the bot are
// signed exactly as Slack signs them: form-encoded slash commands and interaction payloads.
import { randomBytes } from 'node:crypto';
import { stringify } from 'yaml';
import { startService, type RunningService } from '../../../src/app/index.js';
import { createLogger } from '../../../src/app/logger.js';
import { parseConfig, type Config } from '../../../src/config/index.js';
import type { Lab } from '../../../src/lab/index.js';
import { signSlackRequest } from '../../../src/slack/signing.js';
import { SlackStandin, type StoredMessage } from '../../../src/testing/slack-standin.js';
import { startRedisServer, type TestRedisServer } from '../../../src/testing/redis-server.js';

export const CHANNEL = 'C0OPS';
export const ALICE = 'U0ALICE'; // approver for low and medium risk
export const BOB = 'U0BOB'; // not an approver
export const SIGNING_SECRET = 'standin-signing-secret-0123456789';
export const ALERT_TOKEN = 'alert-token-0123456789abcdef';

export interface Harness {
  redis: TestRedisServer;
  standin: SlackStandin;
  service: RunningService;
  config: Config;
  base: string;
  logs: string[];
  close(): Promise<void>;
}

export interface HarnessOptions {
  /** oo.yaml `hosts:` (e.g. lab.inventory()). */
  hosts: Record<string, unknown>;
  slack?: Record<string, unknown>;
  policy?: Record<string, unknown>;
  alerts?: Record<string, unknown>;
  workers?: Record<string, unknown>;
  postMessageRate?: { perSecond: number; burst: number } | false;
  env?: Record<string, string>;
  /** Slack user groups (id → members) the stand-in knows. */
  usergroups?: Record<string, string[]>;
}

export async function startHarness(options: HarnessOptions): Promise<Harness> {
  const redis = await startRedisServer();
  const standin = await SlackStandin.start({
    channels: [{ id: CHANNEL, name: 'ops' }, { id: 'C0ELSEWHERE', name: 'random' }],
    users: [
      { id: ALICE, name: 'alice', real_name: 'Alice Admin' },
      { id: BOB, name: 'bob', real_name: 'Bob Builder' },
      { id: 'U0CAROL', name: 'carol' },
      { id: 'U0DAVE', name: 'dave' },
    ],
    ...(options.usergroups ? { usergroups: options.usergroups } : {}),
    ...(options.postMessageRate !== undefined ? { postMessageRate: options.postMessageRate } : {}),
  });
  const config = parseConfig(
    stringify({
      hosts: options.hosts,
      slack: { channel: CHANNEL, progressEveryMs: 250, ...(options.slack ?? {}) },
      policy: options.policy ?? {
        approvers: { low: [ALICE], medium: [ALICE], high: [ALICE, 'U0CAROL'] },
        channels: [CHANNEL],
      },
      ...(options.alerts ? { alerts: options.alerts } : {}),
      workers: { diagnosisAttempts: 1, ...(options.workers ?? {}) },
      redis: { prefix: `t${randomBytes(3).toString('hex')}` },
    }),
    'oo.yaml',
  );
  const logs: string[] = [];
  let service: RunningService;
  try {
    service = await startService({
      config,
      mode: 'serve',
      host: '127.0.0.1',
      env: {
        SLACK_BOT_TOKEN: standin.botToken,
        SLACK_SIGNING_SECRET: SIGNING_SECRET,
        SLACK_API_URL: standin.apiUrl,
        REDIS_URL: redis.url,
        PORT: '0',
        OO_ALERT_TOKEN: ALERT_TOKEN,
        LOG_LEVEL: 'info',
        ...(options.env ?? {}),
      },
      logger: createLogger({ write: (line) => logs.push(line) }),
    });
  } catch (error) {
    await standin.close();
    await redis.stop();
    throw error;
  }
  return {
    redis,
    standin,
    service,
    config,
    base: `http://127.0.0.1:${service.port}`,
    logs,
    async close() {
      await service.close();
      await standin.close();
      await redis.stop();
    },
  };
}

/** POSTs a form body to /slack/events, signed as Slack signs (or with the given headers). */
export async function postSlack(
  harness: Harness,
  form: Record<string, string>,
  sign: { secret?: string; timestampSec?: number } = {},
): Promise<{ status: number; body: string }> {
  const body = new URLSearchParams(form).toString();
  const headers = signSlackRequest(sign.secret ?? SIGNING_SECRET, body, sign.timestampSec ?? Math.floor(Date.now() / 1000));
  const response = await fetch(`${harness.base}/slack/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body,
  });
  return { status: response.status, body: await response.text() };
}

export function slashCommand(harness: Harness, user: string, text: string, channel = CHANNEL) {
  return postSlack(harness, {
    token: 'verification-token-unused',
    team_id: 'T0STANDIN',
    team_domain: 'standin',
    channel_id: channel,
    channel_name: channel === CHANNEL ? 'ops' : 'random',
    user_id: user,
    user_name: user.toLowerCase(),
    command: '/oo',
    text,
    api_app_id: 'A0OO',
    response_url: 'http://127.0.0.1:9/commands/unused',
    trigger_id: harness.standin.issueTriggerId(),
  });
}

export interface ButtonRef {
  action_id: string;
  value: string;
  text: string;
  messageTs: string;
  threadTs?: string;
}

/** The buttons of a stored message (our remediation buttons). */
export function buttonsOf(message: StoredMessage): ButtonRef[] {
  const buttons: ButtonRef[] = [];
  for (const block of (message.blocks ?? []) as { type: string; elements?: { type: string; action_id: string; value: string; text: { text: string } }[] }[]) {
    if (block.type !== 'actions') continue;
    for (const element of block.elements ?? []) {
      if (element.type === 'button') {
        buttons.push({
          action_id: element.action_id,
          value: element.value,
          text: element.text.text,
          messageTs: message.ts,
          ...(message.threadTs ? { threadTs: message.threadTs } : {}),
        });
      }
    }
  }
  return buttons;
}

/** A block_actions payload as Slack sends it for a button click. */
export function click(harness: Harness, user: string, button: ButtonRef, channel = CHANNEL) {
  const payload = {
    type: 'block_actions',
    user: { id: user, username: user.toLowerCase(), name: user.toLowerCase(), team_id: 'T0STANDIN' },
    api_app_id: 'A0OO',
    token: 'verification-token-unused',
    container: { type: 'message', message_ts: button.messageTs, channel_id: channel, is_ephemeral: false },
    trigger_id: harness.standin.issueTriggerId(),
    team: { id: 'T0STANDIN', domain: 'standin' },
    channel: { id: channel, name: 'ops' },
    message: { type: 'message', ts: button.messageTs, ...(button.threadTs ? { thread_ts: button.threadTs } : {}), text: 'findings', user: harness.standin.botUser },
    response_url: 'http://127.0.0.1:9/actions/unused',
    actions: [
      {
        type: 'button',
        action_id: button.action_id,
        block_id: 'oo_remediations',
        text: { type: 'plain_text', text: button.text },
        value: button.value,
        action_ts: `${Math.floor(Date.now() / 1000)}.000100`,
      },
    ],
  };
  return postSlack(harness, { payload: JSON.stringify(payload) });
}

export async function postAlert(harness: Harness, source: string, body: unknown, token: string | null = ALERT_TOKEN) {
  const response = await fetch(`${harness.base}/alerts/${source}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

export function alertmanagerBody(alerts: { alertname: string; instance: string; status?: 'firing' | 'resolved'; startsAt?: string; fingerprint?: string }[]) {
  return {
    version: '4',
    groupKey: '{}:{alertname="OnlyofficeDown"}',
    status: alerts.every((alert) => alert.status === 'resolved') ? 'resolved' : 'firing',
    receiver: 'oo-responder',
    groupLabels: {},
    commonLabels: {},
    commonAnnotations: {},
    externalURL: 'http://alertmanager.local:9093',
    truncatedAlerts: 0,
    alerts: alerts.map((alert) => ({
      status: alert.status ?? 'firing',
      labels: { alertname: alert.alertname, instance: alert.instance, severity: 'critical' },
      annotations: { summary: `ONLYOFFICE answers 502 on ${alert.instance}` },
      startsAt: alert.startsAt ?? new Date(Date.now() - 60_000).toISOString(),
      endsAt: alert.status === 'resolved' ? new Date().toISOString() : '0001-01-01T00:00:00Z',
      generatorURL: 'http://prometheus.local:9090/graph',
      ...(alert.fingerprint ? { fingerprint: alert.fingerprint } : {}),
    })),
  };
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls until `check` returns something truthy; fails naming `what` after `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => T | Promise<T>, timeoutMs = 30_000, intervalMs = 100): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  const maxPolls = Math.ceil(timeoutMs / intervalMs) + 1;
  let last: T | undefined;
  for (let poll = 0; poll < maxPolls; poll++) {
    last = await check();
    if (last) return last as NonNullable<T>;
    if (Date.now() >= deadline) break;
    await sleep(intervalMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** Thread replies (bot messages) of an incident's parent, text and blocks flattened for matching. */
export function threadTexts(harness: Harness, parentTs: string): string[] {
  return harness.standin.thread(CHANNEL, parentTs).replies.map((reply) => `${reply.text}\n${JSON.stringify(reply.blocks ?? [])}`);
}

export type { Lab };
