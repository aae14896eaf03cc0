/**
 * Requests to the bot as Slack and Alertmanager send them: form-encoded, signed slash commands and
 * button clicks, and webhook bodies. Used by the end-to-end tests and by `npm run demo`, which stands in
 * for a person clicking in Slack.
 */
import type { StoredMessage } from './slack-standin.js';
import { signSlackRequest } from '../slack/signing.js';

export interface BotEndpoint {
  /** e.g. http://127.0.0.1:3000 */
  base: string;
  signingSecret: string;
}

/** POSTs a form body to /slack/events, signed as Slack signs (or with another secret or timestamp). */
export async function postSlack(
  bot: BotEndpoint,
  form: Record<string, string>,
  sign: { secret?: string; timestampSec?: number } = {},
): Promise<{ status: number; body: string }> {
  const body = new URLSearchParams(form).toString();
  const headers = signSlackRequest(sign.secret ?? bot.signingSecret, body, sign.timestampSec ?? Math.floor(Date.now() / 1000));
  const response = await fetch(`${bot.base}/slack/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body,
  });
  return { status: response.status, body: await response.text() };
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
      if (element.type !== 'button') continue;
      buttons.push({
        action_id: element.action_id,
        value: element.value,
        text: element.text.text,
        messageTs: message.ts,
        ...(message.threadTs ? { threadTs: message.threadTs } : {}),
      });
    }
  }
  return buttons;
}

/** A block_actions payload as Slack sends it when `user` clicks `button` in `channel`. */
export function clickPayload(user: string, button: ButtonRef, channel: string, context: { botUser: string; triggerId: string }) {
  return {
    type: 'block_actions',
    user: { id: user, username: user.toLowerCase(), name: user.toLowerCase(), team_id: 'T0STANDIN' },
    api_app_id: 'A0OO',
    token: 'verification-token-unused',
    container: { type: 'message', message_ts: button.messageTs, channel_id: channel, is_ephemeral: false },
    trigger_id: context.triggerId,
    team: { id: 'T0STANDIN', domain: 'standin' },
    channel: { id: channel, name: channel.toLowerCase() },
    message: { type: 'message', ts: button.messageTs, ...(button.threadTs ? { thread_ts: button.threadTs } : {}), text: 'findings', user: context.botUser },
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
}

export async function postAlert(base: string, source: string, body: unknown, token: string | null) {
  const response = await fetch(`${base}/alerts/${source}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** An Alertmanager (webhook version 4) body for the given alerts. */
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
  for (let poll = 0; poll < maxPolls; poll++) {
    const last = await check();
    if (last) return last as NonNullable<T>;
    if (Date.now() >= deadline) break;
    await sleep(intervalMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}
