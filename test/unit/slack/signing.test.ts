import { verifySlackRequest } from '@slack/bolt';
import { describe, expect, it } from 'vitest';
import { signSlackRequest, verifySlackSignature } from '../../../src/slack/signing.js';

// The worked example of docs.slack.dev/authentication/verifying-requests-from-slack.
const SECRET = '8f742231b10e8888abcd99yyyzzz85a5';
const TIMESTAMP = 1531420618;
const BODY =
  'token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c';
const SIGNATURE = 'v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503';

describe('signSlackRequest', () => {
  it("reproduces Slack's documented signature", () => {
    expect(signSlackRequest(SECRET, BODY, TIMESTAMP)).toEqual({
      'x-slack-signature': SIGNATURE,
      'x-slack-request-timestamp': '1531420618',
    });
    expect(signSlackRequest(SECRET, Buffer.from(BODY), TIMESTAMP)['x-slack-signature']).toBe(SIGNATURE);
  });

  it("signs requests that Bolt's own verification accepts", () => {
    const body = JSON.stringify({ type: 'block_actions', user: { id: 'U0ALICE' }, actions: [{ action_id: 'oo_remediate:a1' }] });
    const now = 1_700_000_000;
    const headers = signSlackRequest('s3cret', body, now);
    expect(() =>
      verifySlackRequest({
        signingSecret: 's3cret',
        body,
        headers: { 'x-slack-signature': headers['x-slack-signature'], 'x-slack-request-timestamp': now },
        nowMilliseconds: now * 1000,
      }),
    ).not.toThrow();
  });

  it('refuses an empty secret or a bad timestamp', () => {
    expect(() => signSlackRequest('', BODY, TIMESTAMP)).toThrow(/secret/);
    expect(() => signSlackRequest(SECRET, BODY, 1.5)).toThrow(/whole seconds/);
  });
});

describe('verifySlackSignature', () => {
  const headers = { 'X-Slack-Signature': SIGNATURE, 'X-Slack-Request-Timestamp': String(TIMESTAMP) };

  it('accepts the documented request within five minutes, either way', () => {
    expect(verifySlackSignature(SECRET, headers, BODY, TIMESTAMP)).toEqual({ ok: true });
    expect(verifySlackSignature(SECRET, headers, BODY, TIMESTAMP + 300)).toEqual({ ok: true });
    expect(verifySlackSignature(SECRET, headers, BODY, TIMESTAMP - 300)).toEqual({ ok: true });
    expect(verifySlackSignature(SECRET, new Headers(headers), Buffer.from(BODY), TIMESTAMP)).toEqual({ ok: true });
  });

  it('refuses a replay after five minutes, and one from the future', () => {
    expect(verifySlackSignature(SECRET, headers, BODY, TIMESTAMP + 301)).toEqual({
      ok: false,
      reason: 'x-slack-request-timestamp is 301 s away from now (limit 300 s)',
    });
    expect(verifySlackSignature(SECRET, headers, BODY, TIMESTAMP - 301).ok).toBe(false);
  });

  it('refuses a changed body, a wrong secret, or a re-stamped request', () => {
    expect(verifySlackSignature(SECRET, headers, `${BODY}&text=rm`, TIMESTAMP)).toEqual({ ok: false, reason: 'signature mismatch' });
    expect(verifySlackSignature('other', headers, BODY, TIMESTAMP)).toEqual({ ok: false, reason: 'signature mismatch' });
    const restamped = { ...headers, 'X-Slack-Request-Timestamp': String(TIMESTAMP + 10) };
    expect(verifySlackSignature(SECRET, restamped, BODY, TIMESTAMP + 10)).toEqual({ ok: false, reason: 'signature mismatch' });
  });

  it('says what is missing or malformed', () => {
    expect(verifySlackSignature(SECRET, {}, BODY, TIMESTAMP)).toEqual({ ok: false, reason: 'missing x-slack-signature header' });
    expect(verifySlackSignature(SECRET, { 'x-slack-signature': SIGNATURE }, BODY, TIMESTAMP).ok).toBe(false);
    expect(verifySlackSignature(SECRET, { ...headers, 'X-Slack-Signature': 'v1=abc' }, BODY, TIMESTAMP)).toEqual({
      ok: false,
      reason: 'x-slack-signature is not a v0 HMAC-SHA256 signature',
    });
    expect(verifySlackSignature(SECRET, { ...headers, 'X-Slack-Request-Timestamp': '12e3' }, BODY, TIMESTAMP).ok).toBe(false);
    expect(verifySlackSignature(SECRET, { 'x-slack-signature': [SIGNATURE, SIGNATURE], 'x-slack-request-timestamp': '1531420618' }, BODY, TIMESTAMP).ok).toBe(false);
    expect(verifySlackSignature('', headers, BODY, TIMESTAMP)).toEqual({ ok: false, reason: 'no signing secret configured' });
  });

  it('round-trips with signSlackRequest', () => {
    const signed = signSlackRequest('k', 'payload=%7B%7D', 1_700_000_123);
    expect(verifySlackSignature('k', signed, 'payload=%7B%7D', 1_700_000_200)).toEqual({ ok: true });
  });
});
