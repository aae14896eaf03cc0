// Slack misbehaving while incidents are reported, against the real service and the stand-in's faults: a
// storm of 429s, 5xx answers, connections reset without an answer, and slow answers (shorter than the
// client's timeout). Every message is delayed and sent again, never lost and never doubled: each
// incident has one parent, each thread has its findings exactly once, and the messages Slack accepted
// are exactly the messages stored.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoredMessage } from '../../src/testing/slack-standin.js';
import { CHANNEL, alertmanagerBody, postAlert, waitFor, type Harness } from '../e2e/slack/harness.js';
import { startUnreachableService } from './service.js';

const HOSTS = ['flt-a', 'flt-b', 'flt-c'];
let harness: Harness;

beforeAll(async () => {
  harness = await startUnreachableService(HOSTS, { postMessageRate: false, slack: { postEveryMs: 0 } });
}, 120_000);

afterAll(async () => {
  await harness?.close();
});

const shown = (message: StoredMessage) => `${message.text}\n${JSON.stringify(message.blocks ?? [])}`;

describe('Slack API faults while incidents are reported', () => {
  it('429 storms, 5xx, resets and slow answers delay messages but never lose or double one', async () => {
    const { standin } = harness;
    standin.injectFault({ kind: 'rate_limited', retryAfterSec: 1, count: 12, method: 'chat.postMessage' });
    standin.injectFault({ kind: 'server_error', status: 503, count: 4, method: 'chat.postMessage' });
    standin.injectFault({ kind: 'server_error', status: 500, count: 3, method: 'chat.update' });
    standin.injectFault({ kind: 'reset', count: 2, method: 'chat.postMessage' });
    standin.injectFault({ kind: 'hang', ms: 2_000, count: 3 });
    standin.injectFault({ kind: 'rate_limited', retryAfterSec: 1, count: 6, method: 'chat.update' });

    const answers = await Promise.all(
      HOSTS.map((host) => postAlert(harness, 'alertmanager', alertmanagerBody([{ alertname: 'OnlyofficeDown', instance: `${host}:9100` }]))),
    );
    expect(answers.map((answer) => answer.status)).toEqual([202, 202, 202]);

    // Each host's findings reach its own thread, once the faults are waited out.
    const parents = await waitFor(
      'a parent per incident',
      () => {
        const found = HOSTS.map((host) => standin.messages(CHANNEL).filter((message) => message.text.includes(`on ${host}`)));
        return found.every((list) => list.length >= 1) ? found : undefined;
      },
      90_000,
    );
    for (const [index, host] of HOSTS.entries()) {
      const parent = parents[index]![0]!;
      await waitFor(`the findings of ${host}`, () => standin.thread(CHANNEL, parent.ts).replies.some((reply) => reply.text.startsWith(`${host}: unreachable`)), 90_000);
    }
    expect(await harness.service.outbox.idle(60_000)).toBe(true);

    // The faults really happened.
    const posts = standin.callsTo('chat.postMessage');
    expect(posts.filter((call) => call.fault === 'rate_limited').length).toBe(12);
    expect(posts.filter((call) => call.fault === 'server_error').length).toBe(4);
    expect(posts.filter((call) => call.fault === 'reset').length).toBe(2);
    expect(standin.calls.filter((call) => call.fault === 'hang').length).toBe(3);

    // Never doubled: one parent per incident, the findings once per thread, no reply twice.
    const top = standin.messages(CHANNEL);
    expect(top).toHaveLength(HOSTS.length);
    for (const host of HOSTS) {
      const parent = top.find((message) => message.text.includes(`on ${host}`))!;
      const replies = standin.thread(CHANNEL, parent.ts).replies;
      expect(replies.filter((reply) => reply.text.startsWith(`${host}: unreachable`)), host).toHaveLength(1);
      const texts = replies.map(shown);
      expect(new Set(texts).size, `${host}: ${JSON.stringify(replies.map((reply) => reply.text))}`).toBe(texts.length);
    }
    // Never lost: every post Slack accepted is a stored message and nothing was given up.
    const delivered = posts.filter((call) => call.status === 200 && call.error === undefined).length;
    const stored = top.length + top.reduce((sum, parent) => sum + standin.thread(CHANNEL, parent.ts).replies.length, 0);
    expect(delivered).toBe(stored);
    expect(harness.logs.filter((line) => /chat\.(postMessage|update) to .* (failed|gave up)|SlackCallError/.test(line))).toEqual([]);
  }, 180_000);
});
