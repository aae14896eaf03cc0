// The per-channel outbox against the Slack stand-in (real HTTP): pacing with Slack's short bursts, 429
// Retry-After honoured with nothing dropped, edits coalesced (latest wins), Slack's permanent refusals
// reported, not retried forever, and a post whose answer is lost or late never posted twice.
import { WebClient } from '@slack/web-api';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mayHaveLanded, POST_EVENT_TYPE, SlackCallError, SlackOutbox } from '../../../src/slack/outbox.js';
import { ThrottledMessage } from '../../../src/slack/progress.js';
import { SlackStandin, type RecordedCall } from '../../../src/testing/slack-standin.js';

let standin: SlackStandin;
let client: WebClient;

const posts = (channel: string) => standin.callsTo('chat.postMessage').filter((call) => call.args.channel === channel);

/** The most calls in any window of `ms` (sliding, starting at a call). */
function mostWithin(times: number[], ms: number): number {
  return Math.max(0, ...times.map((start) => times.filter((at) => at >= start && at < start + ms).length));
}

/** A client as the service gives the outbox: 429s to the caller, no retries of its own. */
const webClient = (timeout?: number) =>
  new WebClient(standin.botToken, { slackApiUrl: standin.apiUrl, rejectRateLimitedCalls: true, retryConfig: { retries: 0 }, ...(timeout ? { timeout } : {}) });

async function startStandin(options: Parameters<typeof SlackStandin.start>[0] = {}): Promise<void> {
  await standin?.close();
  standin = await SlackStandin.start({ channels: [{ id: 'C0OPS', name: 'ops' }, { id: 'C0TWO', name: 'two' }], ...options });
  client = webClient();
}

beforeEach(async () => {
  await startStandin();
});
afterEach(async () => {
  await standin.close();
});

describe('SlackOutbox', () => {
  it('sends a short burst back to back, then one message every 1.1 s per channel, channels side by side', async () => {
    const outbox = new SlackOutbox(client);
    const started = Date.now();
    await Promise.all([
      outbox.post('C0OPS', { text: 'parent' }),
      outbox.post('C0OPS', { text: 'first reply' }),
      outbox.post('C0OPS', { text: 'three' }),
      outbox.post('C0TWO', { text: 'elsewhere' }),
    ]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(standin.messages('C0OPS').map((message) => message.text)).toEqual(['parent', 'first reply', 'three']);
    const times = posts('C0OPS').map((call) => call.at);
    expect(times[1]! - times[0]!).toBeLessThan(250);
    expect(times[2]! - times[1]!).toBeGreaterThanOrEqual(1000);
    expect(posts('C0TWO')[0]!.at - started).toBeLessThan(250);
    expect(standin.callsTo('chat.postMessage').map((call) => call.status)).toEqual([200, 200, 200, 200]);
  });

  it("over many messages never goes above Slack's one a second per channel, and gets no 429", async () => {
    const outbox = new SlackOutbox(client);
    const count = 10;
    const started = Date.now();
    await Promise.all(
      ['C0OPS', 'C0TWO'].flatMap((channel) => Array.from({ length: count }, (_, n) => outbox.post(channel, { text: `${channel} ${n}` }))),
    );
    const elapsed = Date.now() - started;
    for (const channel of ['C0OPS', 'C0TWO']) {
      const times = posts(channel).map((call) => call.at);
      expect(posts(channel).map((call) => call.status)).toEqual(Array(count).fill(200));
      expect(standin.messages(channel).map((message) => message.text)).toEqual(Array.from({ length: count }, (_, n) => `${channel} ${n}`));
      // In every sliding window: at most the outbox's burst of 2 within a second, and over longer windows
      // never more than Slack's one a second (plus the one message of the burst).
      expect(mostWithin(times, 1000)).toBe(2);
      for (const seconds of [2, 3, 5, 8]) expect(mostWithin(times, seconds * 1000), `${seconds} s`).toBeLessThanOrEqual(1 + seconds);
      // Sustained: after the burst, one every 1.1 s.
      expect((times.at(-1)! - times[1]!) / (count - 2)).toBeGreaterThanOrEqual(1090);
    }
    // Both channels at once: the whole run took one channel's time.
    expect(elapsed).toBeLessThan((count - 2) * 1100 + 1500);
  }, 30_000);

  it('keeps the older postEveryMs option: one post every postEveryMs after the burst', async () => {
    await startStandin({ postMessageRate: false });
    const outbox = new SlackOutbox(client, { postEveryMs: 400 });
    await Promise.all(['a', 'b', 'c', 'd'].map((text) => outbox.post('C0OPS', { text })));
    const times = posts('C0OPS').map((call) => call.at);
    expect(posts('C0OPS').map((call) => call.status)).toEqual([200, 200, 200, 200]);
    expect(times[1]! - times[0]!).toBeLessThan(250);
    expect(times[2]! - times[1]!).toBeGreaterThanOrEqual(380);
    expect(times[3]! - times[2]!).toBeGreaterThanOrEqual(380);
  });

  it('against a stricter Slack (no burst) its burst costs one 429, waited out: no storm, nothing lost or doubled', async () => {
    await startStandin({ postMessageRate: { perSecond: 1, burst: 1 } });
    const outbox = new SlackOutbox(client);
    await Promise.all(['one', 'two', 'three', 'four'].map((text) => outbox.post('C0OPS', { text })));
    expect(standin.messages('C0OPS').map((message) => message.text)).toEqual(['one', 'two', 'three', 'four']);
    expect(posts('C0OPS').filter((call) => call.status === 429)).toHaveLength(1);
  }, 20_000);

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

describe("SlackOutbox posts once, even when Slack's answer is lost or late", () => {
  // A client that gives up after 300 ms and never retries by itself, as the service's outbox client.
  const impatient = () => webClient(300);
  const quick = { errorBackoffMs: 100 };
  const checks = () => standin.calls.filter((call) => call.method === 'conversations.history' || call.method === 'conversations.replies');
  const postIdOf = (call: RecordedCall | undefined) => (call?.args.metadata as { event_payload?: { post_id?: string } } | undefined)?.event_payload?.post_id;

  it('a slow answer (longer than the timeout): asks Slack, finds the message, resolves with its ts, does not post again', async () => {
    standin.injectFault({ kind: 'slow_answer', ms: 1500, method: 'chat.postMessage' });
    const outbox = new SlackOutbox(impatient(), quick);
    const started = Date.now();
    const ts = await outbox.post('C0OPS', { text: 'Incident: 502 on docs-1' });
    expect(Date.now() - started).toBeLessThan(1500);
    expect(standin.messages('C0OPS').map((message) => [message.ts, message.text])).toEqual([[ts, 'Incident: 502 on docs-1']]);
    const [post] = standin.callsTo('chat.postMessage');
    expect(standin.callsTo('chat.postMessage')).toHaveLength(1);
    expect(post?.args.metadata).toEqual({ event_type: POST_EVENT_TYPE, event_payload: { post_id: expect.stringMatching(/^[0-9a-f-]{36}$/) } });
    expect(standin.message('C0OPS', ts)?.metadata).toEqual(post?.args.metadata);
    const [check] = checks();
    expect(checks()).toHaveLength(1);
    expect(check).toMatchObject({ method: 'conversations.history', status: 200, args: { channel: 'C0OPS', inclusive: 'true', include_all_metadata: 'true' } });
    // The window starts a little before the first try.
    expect(Number(check!.args.oldest) * 1000).toBeLessThanOrEqual(post!.at);
  });

  it('a dropped answer to a thread reply: checks the thread, exactly one reply', async () => {
    const outbox = new SlackOutbox(impatient(), quick);
    const parent = await outbox.post('C0OPS', { text: 'parent' });
    standin.injectFault({ kind: 'drop_answer', method: 'chat.postMessage' });
    const ts = await outbox.post('C0OPS', { text: 'findings' }, parent);
    const { replies } = standin.thread('C0OPS', parent);
    expect(replies.map((reply) => [reply.ts, reply.text])).toEqual([[ts, 'findings']]);
    expect(standin.callsTo('chat.postMessage')).toHaveLength(2);
    expect(checks()).toMatchObject([{ method: 'conversations.replies', status: 200, args: { channel: 'C0OPS', ts: parent, include_all_metadata: 'true' } }]);
    expect(standin.messages('C0OPS')).toHaveLength(1);
  });

  it('a definite failure is still retried, without asking: a 429, and a connection refused before anything was sent', async () => {
    const outbox = new SlackOutbox(impatient(), quick);
    standin.injectFault({ kind: 'rate_limited', retryAfterSec: 1, method: 'chat.postMessage' });
    await outbox.post('C0OPS', { text: 'after a 429' });
    await standin.refuseConnections();
    const pending = outbox.post('C0OPS', { text: 'after a refused connection' });
    await new Promise((resolve) => setTimeout(resolve, 400));
    await standin.acceptConnections();
    await pending;
    expect(standin.messages('C0OPS').map((message) => message.text)).toEqual(['after a 429', 'after a refused connection']);
    expect(standin.callsTo('chat.postMessage').map((call) => call.status)).toEqual([429, 200, 200]);
    expect(checks()).toEqual([]);
  });

  it('Slack did not get it (connection closed before it was handled): asks, finds nothing, posts exactly once', async () => {
    standin.injectFault({ kind: 'reset', method: 'chat.postMessage' });
    const outbox = new SlackOutbox(impatient(), quick);
    const ts = await outbox.post('C0OPS', { text: 'once' });
    expect(standin.messages('C0OPS').map((message) => [message.ts, message.text])).toEqual([[ts, 'once']]);
    const sent = standin.callsTo('chat.postMessage');
    expect(sent.map((call) => call.status)).toEqual([0, 200]);
    // The same post id on both tries: a later check would recognise either.
    expect(postIdOf(sent[0])).toBe(postIdOf(sent[1]));
    expect(checks().map((call) => call.status)).toEqual([200]);
  });

  it('a check that fails is tried again (bounded); Slack had the post: still exactly one', async () => {
    standin.injectFault({ kind: 'slow_answer', ms: 1500, method: 'chat.postMessage' });
    standin.injectFault({ kind: 'server_error', status: 503, count: 2, method: 'conversations.history' });
    const outbox = new SlackOutbox(impatient(), quick);
    const ts = await outbox.post('C0OPS', { text: 'checked twice' });
    expect(standin.messages('C0OPS').map((message) => message.ts)).toEqual([ts]);
    expect(standin.callsTo('chat.postMessage')).toHaveLength(1);
    expect(checks().map((call) => call.status)).toEqual([503, 503, 200]);
  });

  it('a check that keeps failing gives up, reported, and never posts again: Slack had it, so one message', async () => {
    standin.injectFault({ kind: 'drop_answer', method: 'chat.postMessage' });
    standin.injectFault({ kind: 'reset', count: 50, method: 'conversations.history' });
    const errors: string[] = [];
    const outbox = new SlackOutbox(impatient(), { ...quick, maxAttempts: 4, onError: (error, context) => errors.push(`${context}: ${(error as Error).message}`) });
    await expect(outbox.post('C0OPS', { text: 'unsure' })).rejects.toThrow(/may have posted it; not sent again/);
    expect(standin.messages('C0OPS').map((message) => message.text)).toEqual(['unsure']);
    expect(standin.callsTo('chat.postMessage')).toHaveLength(1);
    expect(checks()).toHaveLength(3);
    expect(errors).toEqual([expect.stringMatching(/^chat\.postMessage to C0OPS: chat\.postMessage failed: still failing after 4 tries/)]);
  });

  it('a check that fails while Slack did not get the post: tried again, then the post goes exactly once', async () => {
    standin.injectFault({ kind: 'reset', method: 'chat.postMessage' });
    standin.injectFault({ kind: 'server_error', status: 502, count: 2, method: 'conversations.history' });
    const outbox = new SlackOutbox(impatient(), quick);
    await outbox.post('C0OPS', { text: 'exactly once' });
    expect(standin.messages('C0OPS').map((message) => message.text)).toEqual(['exactly once']);
    expect(standin.callsTo('chat.postMessage').map((call) => call.status)).toEqual([0, 200]);
    expect(checks().map((call) => call.status)).toEqual([502, 502, 200]);
  });

  it('a check Slack refuses for good (the scope not granted): sends again as before, and says the message may be doubled', async () => {
    await startStandin({ scopes: ['chat:write'] });
    standin.injectFault({ kind: 'slow_answer', ms: 1000, method: 'chat.postMessage' });
    const errors: string[] = [];
    const outbox = new SlackOutbox(impatient(), { ...quick, onError: (error, context) => errors.push(`${context}: ${(error as Error).message}`) });
    await outbox.post('C0OPS', { text: 'twice' });
    expect(checks().map((call) => call.error)).toEqual(['missing_scope']);
    expect(standin.messages('C0OPS')).toHaveLength(2);
    expect(errors).toEqual([expect.stringMatching(/sending it again.*conversations\.history failed: missing_scope/)]);
  });
});

describe('mayHaveLanded: which failures leave open whether Slack posted the message', () => {
  const requestError = (original: unknown) => ({ code: 'slack_webapi_request_error', original });
  const platform = (error: string) => ({ code: 'slack_webapi_platform_error', data: { ok: false, error } });

  it('unsure: a timeout, a connection lost after sending, a 5xx, and the errors Slack says may have half-succeeded', () => {
    expect(mayHaveLanded(requestError(new DOMException('The operation was aborted due to timeout', 'TimeoutError')))).toBe(true);
    expect(mayHaveLanded(requestError(Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }) })))).toBe(true);
    expect(mayHaveLanded(requestError(Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }) })))).toBe(true);
    expect(mayHaveLanded({ code: 'slack_webapi_http_error', statusCode: 504 })).toBe(true);
    for (const error of ['internal_error', 'fatal_error', 'request_timeout', 'service_unavailable']) expect(mayHaveLanded(platform(error)), error).toBe(true);
  });

  it('sure: nothing was sent (no connection), a 429, or a definite refusal', () => {
    const refused = Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' }) });
    expect(mayHaveLanded(requestError(refused))).toBe(false);
    const both = Object.assign(new TypeError('fetch failed'), { cause: new AggregateError([Object.assign(new Error('x'), { code: 'ENETUNREACH' })]) });
    expect(mayHaveLanded(requestError(both))).toBe(false);
    expect(mayHaveLanded({ code: 'slack_webapi_rate_limited_error', retryAfter: 1 })).toBe(false);
    for (const error of ['channel_not_found', 'invalid_blocks', 'ratelimited', 'not_in_channel']) expect(mayHaveLanded(platform(error)), error).toBe(false);
  });
});
