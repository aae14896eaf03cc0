// The per-channel outbox against the Slack stand-in: pacing, 429 Retry-After honoured with nothing
// dropped, edits coalesced (latest wins), and Slack's permanent refusals reported, not retried forever.
import { WebClient } from '@slack/web-api';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SlackCallError, SlackOutbox } from '../../../src/slack/outbox.js';
import { ThrottledMessage } from '../../../src/slack/progress.js';
import { SlackStandin } from '../../../src/testing/slack-standin.js';

let standin: SlackStandin;
let client: WebClient;

beforeEach(async () => {
  standin = await SlackStandin.start({ channels: [{ id: 'C0OPS', name: 'ops' }, { id: 'C0TWO', name: 'two' }] });
  client = new WebClient(standin.botToken, { slackApiUrl: standin.apiUrl, rejectRateLimitedCalls: true, retryConfig: { retries: 0 } });
});
afterEach(async () => {
  await standin.close();
});

describe('SlackOutbox', () => {
  it('keeps to one message a second per channel, channels side by side', async () => {
    const outbox = new SlackOutbox(client, { postEveryMs: 1100 });
    const started = Date.now();
    await Promise.all([
      outbox.post('C0OPS', { text: 'one' }),
      outbox.post('C0OPS', { text: 'two' }),
      outbox.post('C0OPS', { text: 'three' }),
      outbox.post('C0TWO', { text: 'elsewhere' }),
    ]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(2100);
    expect(standin.messages('C0OPS').map((message) => message.text)).toEqual(['one', 'two', 'three']);
    expect(standin.callsTo('chat.postMessage').map((call) => call.status)).toEqual([200, 200, 200, 200]);
  });

  it('waits out a 429 for its Retry-After and sends the same message again, in order', async () => {
    const outbox = new SlackOutbox(client, { postEveryMs: 0 });
    standin.injectFault({ kind: 'rate_limited', retryAfterSec: 1, method: 'chat.postMessage', count: 1 });
    const started = Date.now();
    await Promise.all([outbox.post('C0OPS', { text: 'first' }), outbox.post('C0OPS', { text: 'second' })]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(standin.messages('C0OPS').map((message) => message.text)).toEqual(['first', 'second']);
    expect(standin.callsTo('chat.postMessage').map((call) => call.status)).toContain(429);
  });

  it('coalesces waiting edits of one message: the latest wins', async () => {
    const outbox = new SlackOutbox(client, { postEveryMs: 0 });
    const ts = await outbox.post('C0OPS', { text: 'v0' });
    standin.injectFault({ kind: 'hang', ms: 300, method: 'chat.update', count: 1 });
    await Promise.all([1, 2, 3, 4, 5].map((n) => outbox.update('C0OPS', ts, { text: `v${n}` })));
    expect(standin.message('C0OPS', ts)?.text).toBe('v5');
    // v1 was already on its way; v2..v4 were replaced by v5 while they waited.
    expect(standin.callsTo('chat.update')).toHaveLength(2);
  });

  it('reports a permanent refusal instead of retrying it', async () => {
    const outbox = new SlackOutbox(client, { postEveryMs: 0 });
    await expect(outbox.post('C0NOPE', { text: 'x' })).rejects.toThrow(SlackCallError);
    await expect(outbox.post('C0OPS', { text: 'x', blocks: [{ type: 'section', text: { type: 'mrkdwn', text: '' } }] })).rejects.toThrow(/invalid_blocks/);
    expect(standin.callsTo('chat.postMessage')).toHaveLength(2);
  });
});

describe('ThrottledMessage', () => {
  it('edits at most once per interval and always shows the final state', async () => {
    const outbox = new SlackOutbox(client, { postEveryMs: 0 });
    const ts = await outbox.post('C0OPS', { text: 'step 0' });
    const message = new ThrottledMessage(outbox, 'C0OPS', ts, 400);
    for (let step = 1; step <= 20; step++) {
      message.set({ text: `step ${step}` });
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await message.finish({ text: 'done' });
    message.set({ text: 'ignored after finish' });
    expect(standin.message('C0OPS', ts)?.text).toBe('done');
    const updates = standin.callsTo('chat.update');
    expect(updates.length).toBeLessThanOrEqual(4);
    // The final state goes at once; the ones before it kept the interval.
    const times = updates.slice(0, -1).map((call) => call.at);
    expect(times.length).toBeGreaterThanOrEqual(2);
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(350);
  });
});
