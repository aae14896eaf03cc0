// Slack request signing (docs.slack.dev/authentication/verifying-requests-from-slack):
// x-slack-signature = "v0=" + hex(HMAC-SHA256(signing secret, "v0:{timestamp}:{raw body}")).
// Tests sign the requests they send to the bot with this; the bot may verify with Bolt's own check.
import { createHmac, timingSafeEqual } from 'node:crypto';

/** Slack rejects, and so do we, a request whose timestamp is more than five minutes from now. */
export const SLACK_SIGNATURE_MAX_AGE_SEC = 5 * 60;

export type SlackSignatureHeaders = {
  'x-slack-signature': string;
  'x-slack-request-timestamp': string;
};

function hmacHex(signingSecret: string, timestampSec: number | string, rawBody: string | Buffer): string {
  const hmac = createHmac('sha256', signingSecret);
  hmac.update(`v0:${String(timestampSec)}:`);
  hmac.update(rawBody);
  return hmac.digest('hex');
}

export function signSlackRequest(
  signingSecret: string,
  rawBody: string | Buffer,
  timestampSec: number,
): SlackSignatureHeaders {
  if (!signingSecret) throw new Error('signSlackRequest: the signing secret is empty');
  if (!Number.isSafeInteger(timestampSec) || timestampSec < 0) {
    throw new Error(`signSlackRequest: timestamp must be whole seconds since the epoch, got ${String(timestampSec)}`);
  }
  return {
    'x-slack-signature': `v0=${hmacHex(signingSecret, timestampSec, rawBody)}`,
    'x-slack-request-timestamp': String(timestampSec),
  };
}

export type SignatureCheck = { ok: true } | { ok: false; reason: string };

type HeaderBag = Record<string, string | readonly string[] | undefined> | Headers;

function header(headers: HeaderBag, name: string): string | undefined {
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? undefined;
  const bag = headers as Record<string, string | readonly string[] | undefined>;
  const key = Object.keys(bag).find((k) => k.toLowerCase() === name);
  const value = key === undefined ? undefined : bag[key];
  // A repeated header is ambiguous; treating it as missing refuses the request.
  if (Array.isArray(value)) return value.length === 1 ? (value[0] as string) : undefined;
  return value as string | undefined;
}

/**
 * Checks a request as Slack signed it. `rawBody` must be the exact bytes received (before any parsing).
 * Timestamps more than five minutes away from `nowSec`, in either direction, are refused: a captured
 * request cannot be replayed later.
 */
export function verifySlackSignature(
  signingSecret: string,
  headers: HeaderBag,
  rawBody: string | Buffer,
  nowSec: number,
): SignatureCheck {
  if (!signingSecret) return { ok: false, reason: 'no signing secret configured' };
  const signature = header(headers, 'x-slack-signature');
  const timestamp = header(headers, 'x-slack-request-timestamp');
  if (!signature) return { ok: false, reason: 'missing x-slack-signature header' };
  if (!timestamp) return { ok: false, reason: 'missing x-slack-request-timestamp header' };
  if (!/^\d{1,15}$/.test(timestamp)) return { ok: false, reason: 'x-slack-request-timestamp is not whole seconds' };
  const age = Math.abs(Math.floor(nowSec) - Number(timestamp));
  if (age > SLACK_SIGNATURE_MAX_AGE_SEC) {
    return { ok: false, reason: `x-slack-request-timestamp is ${age} s away from now (limit ${SLACK_SIGNATURE_MAX_AGE_SEC} s)` };
  }
  const match = /^v0=([0-9a-f]{64})$/i.exec(signature);
  if (!match) return { ok: false, reason: 'x-slack-signature is not a v0 HMAC-SHA256 signature' };
  const expected = Buffer.from(hmacHex(signingSecret, timestamp, rawBody), 'hex');
  const received = Buffer.from(match[1] as string, 'hex');
  if (!timingSafeEqual(expected, received)) return { ok: false, reason: 'signature mismatch' };
  return { ok: true };
}
