import { App, LogLevel as BoltLogLevel } from '@slack/bolt';
import { ErrorCode, LogLevel, WebClient, WebClientEvent, type WebAPIPlatformError } from '@slack/web-api';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Finding } from '../../../src/diagnosis/types.js';
import { renderDiagnosis, renderRemediationResult } from '../../../src/slack/blocks.js';
import { SlackStandin } from '../../../src/testing/slack-standin.js';

const noRetry = { retries: 0 };
// The client logs every [ERROR] line Slack sends back; the tests assert on them instead.
const silent = { debug() {}, info() {}, warn() {}, error() {}, setLevel() {}, getLevel: () => LogLevel.ERROR, setName() {} };
const fastRetry = { retries: 3, minTimeout: 0, maxTimeout: 0 };

let standin: SlackStandin;

function client(options: ConstructorParameters<typeof WebClient>[1] = {}, token?: string): WebClient {
  return new WebClient(token ?? standin.botToken, {
    slackApiUrl: standin.apiUrl,
    logger: silent,
    retryConfig: noRetry,
    ...options,
  });
}

async function platformError(promise: Promise<unknown>): Promise<WebAPIPlatformError> {
  try {
    await promise;
  } catch (error) {
    expect((error as { code?: string }).code).toBe(ErrorCode.PlatformError);
    return error as WebAPIPlatformError;
  }
  throw new Error('expected the call to fail');
}

const finding: Finding = {
  host: 'docs-1',
  verdict: 'fault',
  causes: [
    {
      id: 'backend_down',
      title: 'docservice is not running',
      confidence: 0.93,
      evidence: [
        {
          step: 'nginx_error_log',
          line: '2024/05/14 10:21:33 [error] 1234#1234: *56 connect() failed (111: Connection refused) while connecting to upstream, client: 10.0.0.5, server: , request: "GET / HTTP/1.1", upstream: "http://127.0.0.1:8000/"',
        },
      ],
      remediations: [{ id: 'restart_docservice', title: 'Restart docservice', risk: 'low' }],
    },
  ],
  steps: [{ id: 'ports', command: 'ss -ltnp', exitCode: 0, durationMs: 14, output: 'LISTEN 0 511 0.0.0.0:80' }],
};

describe('SlackStandin with the real WebClient', () => {
  beforeEach(async () => {
    // Rate limiting has its own tests; here it would only slow the thread tests down.
    standin = await SlackStandin.start({ postMessageRate: false, usergroups: { S0ONCALL: ['U0ALICE'] } });
  });
  afterEach(async () => {
    await standin.close();
  });

  it('answers auth.test and refuses a missing or wrong token', async () => {
    const result = await client().auth.test();
    expect(result).toMatchObject({ ok: true, user_id: 'U0OOBOT', bot_id: 'B0OOBOT', team_id: 'T0STANDIN' });
    expect((await platformError(client({}, 'xoxb-wrong').auth.test())).data.error).toBe('invalid_auth');
    const anonymous = new WebClient(undefined, { slackApiUrl: standin.apiUrl, logLevel: LogLevel.ERROR, retryConfig: noRetry });
    expect((await platformError(anonymous.auth.test())).data.error).toBe('not_authed');
    expect(standin.callsTo('auth.test').map((c) => c.error ?? 'ok')).toEqual(['ok', 'invalid_auth', 'not_authed']);
  });

  it('keeps one parent, its replies and its edits, as an incident thread needs', async () => {
    const web = client();
    const rendered = renderDiagnosis(finding, {
      remediations: [{ actionId: 'pa_1', remediationId: 'restart_docservice', title: 'Restart docservice', risk: 'low', host: 'docs-1', command: 'sudo supervisorctl restart ds:docservice' }],
    });
    const parent = await web.chat.postMessage({ channel: 'C0OPS', text: 'Alert: 502 on docs-1' });
    const ts = parent.ts as string;
    expect(ts).toMatch(/^\d+\.\d{6}$/);
    await web.chat.postMessage({ channel: 'C0OPS', thread_ts: ts, text: rendered.text, blocks: rendered.blocks });
    const reply = await web.chat.postMessage({ channel: '#ops', thread_ts: ts, text: 'Restart approved by <@U0ALICE>' });
    // a reply to a reply lands in the same thread
    await web.chat.postMessage({ channel: 'C0OPS', thread_ts: reply.ts as string, text: 'Restarting…' });
    await web.chat.update({ channel: 'C0OPS', ts, text: 'Alert: 502 on docs-1 — resolved' });

    const { parent: stored, replies } = standin.thread('C0OPS', ts);
    expect(standin.messages('C0OPS')).toHaveLength(1);
    expect(replies).toHaveLength(3);
    expect(replies[0]?.blocks).toEqual(rendered.blocks);
    expect(stored.text).toBe('Alert: 502 on docs-1 — resolved');
    expect(stored.edits.map((e) => e.text)).toEqual(['Alert: 502 on docs-1']);
    const ordered = [ts, ...replies.map((r) => r.ts)];
    expect([...ordered].sort()).toEqual(ordered);
    expect(new Set(ordered).size).toBe(4);

    const link = await web.chat.getPermalink({ channel: 'C0OPS', message_ts: replies[1]!.ts });
    expect(link.permalink).toBe(`${standin.apiUrl.replace(/api\/$/, '')}archives/C0OPS/p${replies[1]!.ts.replace('.', '')}?thread_ts=${ts}&cid=C0OPS`);
  });

  it('answers as Slack does for what does not exist or may not be done', async () => {
    const web = client();
    expect((await platformError(web.chat.postMessage({ channel: 'C0NOPE', text: 'x' }))).data.error).toBe('channel_not_found');
    expect((await platformError(web.chat.postMessage({ channel: 'C0OPS', text: '' }))).data.error).toBe('no_text');
    expect((await platformError(web.chat.update({ channel: 'C0OPS', ts: '1.000001', text: 'x' }))).data.error).toBe('message_not_found');
    const human = standin.postAsUser('C0OPS', 'U0BOB', 'is docs-1 down?');
    expect((await platformError(web.chat.update({ channel: 'C0OPS', ts: human.ts, text: 'x' }))).data.error).toBe('cant_update_message');
    expect((await platformError(web.chat.postMessage({ channel: 'C0OPS', thread_ts: '1.000001', text: 'x' }))).data.error).toBe('thread_not_found');
    expect((await platformError(web.users.info({ user: 'U0NOBODY' }))).data.error).toBe('user_not_found');
    expect((await platformError(web.usergroups.users.list({ usergroup: 'S0NONE' }))).data.error).toBe('no_such_subteam');
    expect((await platformError(web.apiCall('chat.scheduleMessage', { channel: 'C0OPS', text: 'x' }))).data.error).toBe('unknown_method');
  });

  it('rejects blocks Slack would reject, naming the violation', async () => {
    const web = client();
    const tooLong = [{ type: 'section', text: { type: 'mrkdwn', text: 'x'.repeat(3001) } }];
    const error = await platformError(web.chat.postMessage({ channel: 'C0OPS', text: 't', blocks: tooLong }));
    expect(error.data.error).toBe('invalid_blocks');
    expect(error.data.response_metadata?.messages).toEqual([
      '[ERROR] 3001 characters, more than the limit of 3000 [json-pointer:/blocks/0/text/text]',
    ]);
    const tooMuch = Array.from({ length: 4 }, () => ({ type: 'section', text: { type: 'mrkdwn', text: 'y'.repeat(2900) } }));
    expect((await platformError(web.chat.postMessage({ channel: 'C0OPS', text: 't', blocks: tooMuch }))).data.error).toBe('msg_blocks_too_long');
    expect((await platformError(web.chat.postMessage({ channel: 'C0OPS', text: 'z'.repeat(40_001) }))).data.error).toBe('msg_too_long');
    expect(standin.messages('C0OPS')).toHaveLength(0);
  });

  it('takes JSON bodies too, as Slack does', async () => {
    const response = await fetch(`${standin.apiUrl}chat.postMessage`, {
      method: 'POST',
      headers: { authorization: `Bearer ${standin.botToken}`, 'content-type': 'application/json; charset=utf-8' },
      body: JSON.stringify({ channel: 'C0OPS', text: 'json', blocks: [{ type: 'divider' }] }),
    });
    expect(await response.json()).toMatchObject({ ok: true, channel: 'C0OPS' });
    expect(standin.messages('C0OPS')[0]).toMatchObject({ text: 'json', blocks: [{ type: 'divider' }] });
    const call = standin.callsTo('chat.postMessage')[0];
    expect(call?.contentType).toMatch(/^application\/json/);
    expect(call?.args).toEqual({ channel: 'C0OPS', text: 'json', blocks: [{ type: 'divider' }] });
    const bad = await fetch(`${standin.apiUrl}chat.postMessage`, {
      method: 'POST',
      headers: { authorization: `Bearer ${standin.botToken}`, 'content-type': 'application/json' },
      body: '{not json',
    });
    expect(await bad.json()).toEqual({ ok: false, error: 'invalid_json' });
  });

  it('posts ephemeral messages only to members it knows', async () => {
    const web = client();
    const result = await web.chat.postEphemeral({ channel: 'C0OPS', user: 'U0BOB', text: 'Only approvers can run fixes.' });
    expect(result.message_ts).toMatch(/^\d+\.\d{6}$/);
    expect(standin.ephemerals).toMatchObject([{ channel: 'C0OPS', user: 'U0BOB', text: 'Only approvers can run fixes.' }]);
    expect(standin.messages('C0OPS')).toHaveLength(0);
  });

  it('uploads a snippet into the thread through filesUploadV2', async () => {
    const web = client();
    const parent = await web.chat.postMessage({ channel: 'C0OPS', text: 'diagnosis' });
    const content = `full output\n${'line\n'.repeat(1000)}`;
    const result = await web.filesUploadV2({
      channel_id: 'C0OPS',
      thread_ts: parent.ts as string,
      filename: 'oo-docs-1-diagnosis.txt',
      content,
      title: 'docs-1 diagnosis',
      initial_comment: 'Full evidence',
    });
    expect(result.ok).toBe(true);
    const [file] = standin.files;
    expect(file?.content?.toString('utf8')).toBe(content);
    expect(file).toMatchObject({ filename: 'oo-docs-1-diagnosis.txt', title: 'docs-1 diagnosis', declaredLength: Buffer.byteLength(content) });
    const { replies } = standin.thread('C0OPS', parent.ts as string);
    expect(replies).toHaveLength(1);
    expect(replies[0]).toMatchObject({ subtype: 'file_share', text: 'Full evidence' });
    expect(replies[0]?.files?.[0]?.id).toBe(file?.id);
    expect(standin.calls.map((c) => c.method)).toEqual([
      'chat.postMessage',
      'files.getUploadURLExternal',
      'files.completeUploadExternal',
    ]);
  });

  it('refuses to complete an upload whose bytes never arrived', async () => {
    const web = client();
    const { file_id } = await web.files.getUploadURLExternal({ filename: 'x.txt', length: 3 });
    expect((await platformError(web.files.completeUploadExternal({ files: [{ id: file_id as string }] }))).data.error).toBe('file_not_found');
  });

  it('answers conversations.info, users.info and usergroups.users.list', async () => {
    const web = client();
    expect((await web.conversations.info({ channel: 'C0OPS' })).channel).toMatchObject({ id: 'C0OPS', name: 'ops', is_member: true });
    expect((await web.users.info({ user: 'U0ALICE' })).user).toMatchObject({ id: 'U0ALICE', name: 'alice', is_admin: true });
    expect((await web.usergroups.users.list({ usergroup: 'S0ONCALL' })).users).toEqual(['U0ALICE']);
  });

  it('opens a modal for a fresh trigger_id only', async () => {
    const web = client();
    const view = {
      type: 'modal' as const,
      title: { type: 'plain_text' as const, text: 'Approve fix' },
      submit: { type: 'plain_text' as const, text: 'Run' },
      blocks: [{ type: 'section' as const, text: { type: 'mrkdwn' as const, text: 'Restart docservice on docs-1?' } }],
    };
    const trigger = standin.issueTriggerId();
    const opened = await web.views.open({ trigger_id: trigger, view });
    expect(opened.view?.id).toMatch(/^V/);
    expect(standin.views[0]?.view).toMatchObject({ title: { text: 'Approve fix' } });
    expect((await platformError(web.views.open({ trigger_id: trigger, view }))).data.error).toBe('invalid_trigger_id');
    const badView = { ...view, title: { type: 'plain_text' as const, text: 'A title far too long for a modal' } };
    expect((await platformError(web.views.open({ trigger_id: standin.issueTriggerId(), view: badView }))).data.error).toBe('invalid_arguments');
  });

  it('prints messages readably for a terminal demo', async () => {
    await standin.close();
    const out = new PassThrough();
    let printed = '';
    out.on('data', (chunk: Buffer) => (printed += chunk.toString('utf8')));
    standin = await SlackStandin.start({ postMessageRate: false, print: out });
    const web = client();
    const parent = await web.chat.postMessage({ channel: 'C0OPS', text: 'Alert: 502 on docs-1' });
    const rendered = renderRemediationResult({
      host: 'docs-1',
      title: 'Restart docservice',
      command: 'sudo supervisorctl restart ds:docservice',
      approvedBy: 'U0ALICE',
      exitCode: 0,
      durationMs: 2100,
      output: 'ds:docservice: started',
      verified: { healthy: true },
    });
    await web.chat.postMessage({ channel: 'C0OPS', thread_ts: parent.ts as string, text: rendered.text, blocks: rendered.blocks });
    expect(printed).toContain(`● #ops oo ${parent.ts}\n  Alert: 502 on docs-1`);
    expect(printed).toContain('  ↳ #ops oo');
    expect(printed).toContain(':white_check_mark: docs-1 — fixed: Restart docservice');
  });
});

describe('SlackStandin rate limits and faults', () => {
  afterEach(async () => {
    await standin.close();
  });

  it('allows a short burst, as Slack does, then one message a second per channel', async () => {
    standin = await SlackStandin.start();
    standin.addChannel({ id: 'C0OTHER', name: 'other' });
    const web = client({ rejectRateLimitedCalls: true });
    for (const text of ['1', '2', '3']) await web.chat.postMessage({ channel: 'C0OPS', text });
    await expect(web.chat.postMessage({ channel: 'C0OPS', text: '4' })).rejects.toMatchObject({ code: ErrorCode.RateLimitedError, retryAfter: 1 });
    // another channel has its own allowance
    await web.chat.postMessage({ channel: 'C0OTHER', text: 'elsewhere' });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    await web.chat.postMessage({ channel: 'C0OPS', text: '4 again' });
    expect(standin.callsTo('chat.postMessage').map((c) => c.status)).toEqual([200, 200, 200, 429, 200, 200]);
  });

  it("limits chat.postMessage per channel (strictly: no burst), and the client's own retry honours Retry-After", async () => {
    standin = await SlackStandin.start({ postMessageRate: { perSecond: 1, burst: 1 } });
    standin.addChannel({ id: 'C0OTHER', name: 'other' });
    const web = client({ retryConfig: fastRetry });
    let rateLimitedFor: number | undefined;
    web.on(WebClientEvent.RATE_LIMITED, (seconds: number) => (rateLimitedFor = seconds));
    await web.chat.postMessage({ channel: 'C0OPS', text: 'first' });
    // another channel has its own allowance
    await web.chat.postMessage({ channel: 'C0OTHER', text: 'elsewhere' });
    const started = Date.now();
    await web.chat.postMessage({ channel: 'C0OPS', text: 'second' });
    const waited = Date.now() - started;
    expect(rateLimitedFor).toBe(1);
    expect(waited).toBeGreaterThanOrEqual(950);
    expect(waited).toBeLessThan(5000);
    expect(standin.callsTo('chat.postMessage').map((c) => c.status)).toEqual([200, 200, 429, 200]);
    expect(standin.messages('C0OPS').map((m) => m.text)).toEqual(['first', 'second']);
  });

  it('lets a client that handles rate limits itself see the 429 and its Retry-After', async () => {
    standin = await SlackStandin.start({ postMessageRate: { perSecond: 0.25, burst: 2 } });
    const web = client({ rejectRateLimitedCalls: true });
    await web.chat.postMessage({ channel: 'C0OPS', text: '1' });
    await web.chat.postMessage({ channel: 'C0OPS', text: '2' });
    await expect(web.chat.postMessage({ channel: 'C0OPS', text: '3' })).rejects.toMatchObject({
      code: ErrorCode.RateLimitedError,
      retryAfter: 4,
    });
  });

  it('injects 429s with Retry-After for any method; the client waits and retries', async () => {
    standin = await SlackStandin.start({ postMessageRate: false });
    standin.injectFault({ kind: 'rate_limited', retryAfterSec: 1, method: 'chat.update' });
    const web = client({ retryConfig: fastRetry });
    const { ts } = await web.chat.postMessage({ channel: 'C0OPS', text: 'a' });
    const started = Date.now();
    await web.chat.update({ channel: 'C0OPS', ts: ts as string, text: 'b' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(standin.callsTo('chat.update').map((c) => [c.status, c.fault])).toEqual([
      [429, 'rate_limited'],
      [200, undefined],
    ]);
  });

  it('injects server errors the client retries through', async () => {
    standin = await SlackStandin.start({ postMessageRate: false });
    standin.injectFault({ kind: 'server_error', status: 503, count: 2 });
    const web = client({ retryConfig: fastRetry });
    await web.chat.postMessage({ channel: 'C0OPS', text: 'after two 503s' });
    expect(standin.callsTo('chat.postMessage').map((c) => c.status)).toEqual([503, 503, 200]);
    expect(standin.messages('C0OPS')).toHaveLength(1);
  });

  it('gives up as the client is told to when the errors go on', async () => {
    standin = await SlackStandin.start({ postMessageRate: false });
    standin.injectFault({ kind: 'server_error', count: 5 });
    await expect(client().chat.postMessage({ channel: 'C0OPS', text: 'x' })).rejects.toMatchObject({
      code: ErrorCode.HTTPError,
      statusCode: 503,
    });
  });

  it('resets connections; the client sees a request error and retries', async () => {
    standin = await SlackStandin.start({ postMessageRate: false });
    standin.injectFault({ kind: 'reset', method: 'auth.test' });
    await expect(client().auth.test()).rejects.toMatchObject({ code: ErrorCode.RequestError });
    standin.injectFault({ kind: 'reset', method: 'auth.test' });
    await expect(client({ retryConfig: fastRetry }).auth.test()).resolves.toMatchObject({ ok: true });
    expect(standin.callsTo('auth.test').map((c) => c.status)).toEqual([0, 0, 200]);
  });

  it('hangs: the client times out, yet the slow call still happened (why retries need idempotency)', async () => {
    standin = await SlackStandin.start({ postMessageRate: false });
    standin.injectFault({ kind: 'hang', ms: 400, method: 'chat.postMessage' });
    const web = client({ timeout: 100 });
    await expect(web.chat.postMessage({ channel: 'C0OPS', text: 'slow' })).rejects.toMatchObject({ code: ErrorCode.RequestError });
    expect(standin.messages('C0OPS')).toHaveLength(0);
    const deadline = Date.now() + 3000;
    while (standin.messages('C0OPS').length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    expect(standin.messages('C0OPS').map((m) => m.text)).toEqual(['slow']);
  });

  it('closes promptly even with a request hanging', async () => {
    standin = await SlackStandin.start({ postMessageRate: false });
    standin.injectFault({ kind: 'hang', ms: 60_000 });
    const pending = client({ timeout: 5000 }).auth.test().catch((error: unknown) => error);
    await new Promise((r) => setTimeout(r, 100));
    const started = Date.now();
    await standin.close();
    expect(Date.now() - started).toBeLessThan(1000);
    expect(await pending).toMatchObject({ code: ErrorCode.RequestError });
  });

  it('refuses fault rules that make no sense', async () => {
    standin = await SlackStandin.start();
    expect(() => standin.injectFault({ kind: 'hang', ms: 10 * 60_000 })).toThrow(/hang ms/);
    expect(() => standin.injectFault({ kind: 'reset', count: 0 })).toThrow(/count/);
  });
});

describe('SlackStandin with Bolt', () => {
  afterEach(async () => {
    await standin.close();
  });

  it("serves Bolt's start-up auth.test and its client", async () => {
    standin = await SlackStandin.start({ postMessageRate: false });
    const app = new App({
      token: standin.botToken,
      signingSecret: 'test-secret',
      deferInitialization: true,
      logLevel: BoltLogLevel.ERROR,
      clientOptions: { slackApiUrl: standin.apiUrl, retryConfig: noRetry },
    });
    await app.init();
    expect(standin.callsTo('auth.test')).toHaveLength(1);
    await app.client.chat.postMessage({ channel: 'C0OPS', text: 'hello from Bolt' });
    expect(standin.messages('C0OPS')[0]?.text).toBe('hello from Bolt');
  });
});

describe('SlackStandin reads messages back, with their metadata', () => {
  afterEach(async () => {
    await standin.close();
  });

  const meta = (id: string) => ({ event_type: 'oo_post', event_payload: { post_id: id } });
  const tsOf = (messages: unknown) => (messages as { ts: string }[]).map((m) => m.ts);

  it('keeps message metadata and returns it from conversations.history only with include_all_metadata', async () => {
    standin = await SlackStandin.start({ postMessageRate: false });
    const web = client();
    const first = await web.chat.postMessage({ channel: 'C0OPS', text: 'one', metadata: meta('a') });
    const second = await web.chat.postMessage({ channel: 'C0OPS', text: 'two' });
    await web.chat.postMessage({ channel: 'C0OPS', thread_ts: first.ts as string, text: 'a reply', metadata: meta('r') });
    expect(standin.message('C0OPS', first.ts as string)?.metadata).toEqual(meta('a'));

    const plain = await web.conversations.history({ channel: 'C0OPS' });
    // Newest first; thread replies are not part of a channel's history.
    expect(tsOf(plain.messages)).toEqual([second.ts, first.ts]);
    expect(plain.messages?.[1]).not.toHaveProperty('metadata');
    expect(plain.messages?.[1]).toMatchObject({ reply_count: 1, thread_ts: first.ts });
    const full = await web.conversations.history({ channel: 'C0OPS', include_all_metadata: true });
    expect(full.messages?.[1]?.metadata).toEqual(meta('a'));
    expect(full.messages?.[0]).not.toHaveProperty('metadata');

    expect((await platformError(web.chat.postMessage({ channel: 'C0OPS', text: 'x', metadata: { event_type: 'oo_post' } as never }))).data.error).toBe(
      'invalid_metadata_schema',
    );
    expect((await platformError(web.apiCall('chat.postMessage', { channel: 'C0OPS', text: 'x', metadata: '{oops' }))).data.error).toBe('invalid_metadata_format');
  });

  it('reads a time window (oldest/latest exclusive unless inclusive) a page at a time', async () => {
    standin = await SlackStandin.start({ postMessageRate: false });
    const web = client();
    const posted: string[] = [];
    for (let i = 0; i < 5; i++) posted.push((await web.chat.postMessage({ channel: 'C0OPS', text: `m${i}` })).ts as string);
    const [m0, m1, m2, m3, m4] = posted as [string, string, string, string, string];
    expect(tsOf((await web.conversations.history({ channel: 'C0OPS', oldest: m1, latest: m3 })).messages)).toEqual([m2]);
    expect(tsOf((await web.conversations.history({ channel: 'C0OPS', oldest: m1, latest: m3, inclusive: true })).messages)).toEqual([m3, m2, m1]);

    const pages: string[][] = [];
    let cursor: string | undefined;
    do {
      const page = await web.conversations.history({ channel: 'C0OPS', oldest: m0, inclusive: true, limit: 2, ...(cursor ? { cursor } : {}) });
      pages.push(tsOf(page.messages));
      expect(page.has_more).toBe(Boolean(page.response_metadata?.next_cursor));
      cursor = page.response_metadata?.next_cursor || undefined;
    } while (cursor);
    expect(pages).toEqual([[m4, m3], [m2, m1], [m0]]);
    expect((await platformError(web.conversations.history({ channel: 'C0OPS', cursor: 'bm9wZQ==' }))).data.error).toBe('invalid_cursor');
    expect((await platformError(web.conversations.history({ channel: 'C0OPS', oldest: 'yesterday' }))).data.error).toBe('invalid_ts_oldest');
    expect((await platformError(web.conversations.history({ channel: 'C0NOPE' }))).data.error).toBe('channel_not_found');
  });

  it('reads a thread with conversations.replies: parent first, from the parent or any reply', async () => {
    standin = await SlackStandin.start({ postMessageRate: false });
    const web = client();
    const parent = (await web.chat.postMessage({ channel: 'C0OPS', text: 'parent' })).ts as string;
    const r1 = (await web.chat.postMessage({ channel: 'C0OPS', thread_ts: parent, text: 'r1', metadata: meta('r1') })).ts as string;
    const r2 = (await web.chat.postMessage({ channel: 'C0OPS', thread_ts: parent, text: 'r2' })).ts as string;
    const thread = await web.conversations.replies({ channel: 'C0OPS', ts: r2, include_all_metadata: true });
    expect(tsOf(thread.messages)).toEqual([parent, r1, r2]);
    expect(thread.messages?.[1]).toMatchObject({ thread_ts: parent, metadata: meta('r1') });
    const later = await web.conversations.replies({ channel: 'C0OPS', ts: parent, oldest: r1, inclusive: true, limit: 1 });
    expect(tsOf(later.messages)).toEqual([r1]);
    const rest = await web.conversations.replies({ channel: 'C0OPS', ts: parent, oldest: r1, inclusive: true, cursor: later.response_metadata!.next_cursor! });
    expect(tsOf(rest.messages)).toEqual([r2]);
    expect(rest.has_more).toBe(false);
    expect((await platformError(web.conversations.replies({ channel: 'C0OPS', ts: '1.000001' }))).data.error).toBe('thread_not_found');
  });

  it('refuses a method whose scope the token lacks, naming the scope (private channels need groups:*)', async () => {
    standin = await SlackStandin.start({ postMessageRate: false, scopes: ['chat:write', 'channels:history'] });
    standin.addChannel({ id: 'G0SECRET', name: 'secret', is_private: true });
    const web = client();
    await web.chat.postMessage({ channel: 'G0SECRET', text: 'private' });
    expect((await web.conversations.history({ channel: 'C0OPS' })).ok).toBe(true);
    const refused = await platformError(web.conversations.history({ channel: 'G0SECRET' }));
    expect(refused.data).toMatchObject({ error: 'missing_scope', needed: 'groups:history', provided: 'chat:write,channels:history' });
    expect((await platformError(web.usergroups.users.list({ usergroup: 'S0X' }))).data).toMatchObject({ error: 'missing_scope', needed: 'usergroups:read' });
  });

  it('limits the history methods per workspace (Tier 3), answering 429 with Retry-After', async () => {
    standin = await SlackStandin.start({ postMessageRate: false, historyRate: { perMinute: 60, burst: 2 } });
    const web = client({ rejectRateLimitedCalls: true });
    await web.conversations.history({ channel: 'C0OPS' });
    await web.conversations.history({ channel: 'C0OPS' });
    await expect(web.conversations.history({ channel: 'C0OPS' })).rejects.toMatchObject({ code: ErrorCode.RateLimitedError, retryAfter: 1 });
  });
});

describe('SlackStandin faults that leave a client unsure', () => {
  afterEach(async () => {
    await standin.close();
  });

  it('answers slowly: the message is posted at once, the answer comes after the client gave up', async () => {
    standin = await SlackStandin.start({ postMessageRate: false });
    standin.injectFault({ kind: 'slow_answer', ms: 1000, method: 'chat.postMessage' });
    const started = Date.now();
    await expect(client({ timeout: 200 }).chat.postMessage({ channel: 'C0OPS', text: 'slow' })).rejects.toMatchObject({ code: ErrorCode.RequestError });
    expect(Date.now() - started).toBeLessThan(900);
    // Already there while the answer is still held.
    expect(standin.messages('C0OPS').map((m) => m.text)).toEqual(['slow']);
    expect(standin.callsTo('chat.postMessage')[0]).toMatchObject({ fault: 'slow_answer', applied: true });
  });

  it('answers slowly but within the timeout: the client gets the answer', async () => {
    standin = await SlackStandin.start({ postMessageRate: false });
    standin.injectFault({ kind: 'slow_answer', ms: 300, method: 'chat.postMessage' });
    const started = Date.now();
    const answer = await client({ timeout: 2000 }).chat.postMessage({ channel: 'C0OPS', text: 'late' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(answer.ts).toBe(standin.messages('C0OPS')[0]?.ts);
  });

  it('drops the answer: the message is posted, the connection closes without a word', async () => {
    standin = await SlackStandin.start({ postMessageRate: false });
    standin.injectFault({ kind: 'drop_answer', method: 'chat.postMessage' });
    await expect(client().chat.postMessage({ channel: 'C0OPS', text: 'dropped' })).rejects.toMatchObject({ code: ErrorCode.RequestError });
    expect(standin.messages('C0OPS').map((m) => m.text)).toEqual(['dropped']);
    expect(standin.callsTo('chat.postMessage')[0]).toMatchObject({ fault: 'drop_answer', status: 0, applied: true });
  });

  it('refuses connections (nothing reaches it) until told to accept them again, on the same URL', async () => {
    standin = await SlackStandin.start({ postMessageRate: false });
    const web = client();
    await web.auth.test();
    await standin.refuseConnections();
    const refused = await web.chat.postMessage({ channel: 'C0OPS', text: 'x' }).catch((error: unknown) => error);
    expect(refused).toMatchObject({ code: ErrorCode.RequestError });
    expect(JSON.stringify((refused as { original?: { cause?: unknown } }).original?.cause ?? {}) + String((refused as Error).message)).toMatch(/ECONNREFUSED/);
    await standin.acceptConnections();
    await web.chat.postMessage({ channel: 'C0OPS', text: 'back' });
    expect(standin.messages('C0OPS').map((m) => m.text)).toEqual(['back']);
    expect(standin.callsTo('chat.postMessage')).toHaveLength(1);
  });
});
