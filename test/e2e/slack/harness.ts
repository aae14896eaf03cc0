// The whole service as `oo serve` runs it (startService), against a real redis-server, the Slack
// stand-in (SLACK_API_URL) and, when asked, real lab hosts over real SSH. Requests to the bot are
// signed exactly as Slack signs them: form-encoded slash commands and interaction payloads.
import { randomBytes } from 'node:crypto';
import { stringify } from 'yaml';
import { startService, type RunningService } from '../../../src/app/index.js';
import { createLogger } from '../../../src/app/logger.js';
import { parseConfig, type Config } from '../../../src/config/index.js';
import type { Lab } from '../../../src/lab/index.js';
import { botScopes } from '../../../src/slack/scopes.js';
import { SlackStandin } from '../../../src/testing/slack-standin.js';
import { startRedisServer, type TestRedisServer } from '../../../src/testing/redis-server.js';
import * as requests from '../../../src/testing/slack-requests.js';
import { clickPayload, type ButtonRef } from '../../../src/testing/slack-requests.js';

export { alertmanagerBody, buttonsOf, sleep, waitFor, type ButtonRef } from '../../../src/testing/slack-requests.js';

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
  /** The service's Slack Web API timeout (default 15 s). */
  slackTimeoutMs?: number;
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
    // Installed with the manifests' scopes: a call they do not cover is refused (missing_scope), as by Slack.
    scopes: botScopes(),
  });
  const config = parseConfig(
    stringify({
      hosts: options.hosts,
      slack: { channel: CHANNEL, progressEveryMs: 250, progressAfterMs: 0, ...(options.slack ?? {}) },
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
      ...(options.slackTimeoutMs !== undefined ? { slackTimeoutMs: options.slackTimeoutMs } : {}),
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

const endpoint = (harness: Harness) => ({ base: harness.base, signingSecret: SIGNING_SECRET });

/** POSTs a form body to /slack/events, signed as Slack signs (or with the given headers). */
export function postSlack(harness: Harness, form: Record<string, string>, sign: { secret?: string; timestampSec?: number } = {}) {
  return requests.postSlack(endpoint(harness), form, sign);
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

/** A block_actions payload as Slack sends it for a button click. */
export function click(harness: Harness, user: string, button: ButtonRef, channel = CHANNEL) {
  const payload = clickPayload(user, button, channel, { botUser: harness.standin.botUser, triggerId: harness.standin.issueTriggerId() });
  return postSlack(harness, { payload: JSON.stringify(payload) });
}

export function postAlert(harness: Harness, source: string, body: unknown, token: string | null = ALERT_TOKEN) {
  return requests.postAlert(harness.base, source, body, token);
}

/** Thread replies (bot messages) of an incident's parent, text and blocks flattened for matching. */
export function threadTexts(harness: Harness, parentTs: string): string[] {
  return harness.standin.thread(CHANNEL, parentTs).replies.map((reply) => `${reply.text}\n${JSON.stringify(reply.blocks ?? [])}`);
}

export type { Lab };
