// The deferred progress message against the Slack stand-in (real HTTP): quick work posts nothing,
// slow work gets one message that ends with the final state, and the failure path leaves no timer behind.
import { WebClient } from '@slack/web-api';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SlackOutbox } from '../../../src/slack/outbox.js';
import { DeferredProgress } from '../../../src/slack/progress.js';
import { SlackStandin } from '../../../src/testing/slack-standin.js';

let standin: SlackStandin;
let outbox: SlackOutbox;
let parentTs: string;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const replies = () => standin.thread('C0OPS', parentTs).replies;

beforeEach(async () => {
  standin = await SlackStandin.start({ channels: [{ id: 'C0OPS', name: 'ops' }], postMessageRate: false });
  const client = new WebClient(standin.botToken, { slackApiUrl: standin.apiUrl, rejectRateLimitedCalls: true, retryConfig: { retries: 0 } });
  outbox = new SlackOutbox(client, { postEveryMs: 0 });
  parentTs = await outbox.post('C0OPS', { text: 'incident' });
});
afterEach(async () => {
  await standin.close();
});

describe('DeferredProgress', () => {
  it('posts nothing when the work ends before it is due', async () => {
    const progress = new DeferredProgress(outbox, { channel: 'C0OPS', threadTs: parentTs }, { text: 'starting' }, { afterMs: 300, everyMs: 100 });
    progress.set({ text: 'step 1' });
    await progress.finish({ text: 'done' });
    await sleep(500);
    expect(progress.shown).toBe(false);
    expect(replies()).toHaveLength(0);
  });

  it('shows slow work once it is due, with the newest state, and ends with the final one', async () => {
    const progress = new DeferredProgress(outbox, { channel: 'C0OPS', threadTs: parentTs }, { text: 'starting' }, { afterMs: 150, everyMs: 100 });
    progress.set({ text: 'step 1' });
    expect(replies()).toHaveLength(0);
    await sleep(400);
    expect(progress.shown).toBe(true);
    expect(replies()).toHaveLength(1);
    expect(replies()[0]!.text).toBe('step 1');
    progress.set({ text: 'step 2' });
    await progress.finish({ text: 'done' });
    progress.set({ text: 'ignored after finish' });
    await sleep(200);
    expect(replies()).toHaveLength(1);
    expect(replies()[0]!.text).toBe('done');
  });

  it('with afterMs 0 posts at once, and progress sent while the post is on its way is not lost', async () => {
    const progress = new DeferredProgress(outbox, { channel: 'C0OPS', threadTs: parentTs }, { text: 'starting' }, { afterMs: 0, everyMs: 50 });
    expect(progress.shown).toBe(true);
    progress.set({ text: 'step 3 of 3' });
    await sleep(300);
    expect(replies().map((reply) => reply.text)).toEqual(['step 3 of 3']);
    await progress.finish({ text: 'done' });
    expect(replies()[0]!.text).toBe('done');
  });
});
