// Slack misbehaving while incidents are reported, against the real service and the stand-in's faults: a
// storm of 429s, 5xx answers, connections reset without an answer, and slow answers (shorter than the
// client's timeout). Every message is delayed and sent again, never lost and never doubled: each
// incident has one parent, each thread has its findings exactly once, and the messages Slack accepted
// are exactly the messages stored. Then the answers that leave the bot unsure: Slack posts the message
// but answers after the client's timeout, or never; the bot asks Slack before posting again.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoredMessage } from '../../src/testing/slack-standin.js';
import { CHANNEL, alertmanagerBody, postAlert, waitFor, type Harness } from '../e2e/slack/harness.js';
import { startUnreachableService } from './service.js';

const HOSTS = ['flt-a', 'flt-b', 'flt-c'];
let harness: Harness;

const shown = (message: StoredMessage) => `${message.text}\n${JSON.stringify(message.blocks ?? [])}`;

/** Waits for each host's parent and its findings reply; returns the parents, one per host. */
async function waitForFindings(): Promise<StoredMessage[]> {
  const { standin } = harness;
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
  return parents.map((list) => list[0]!);
}

/** One parent per incident, the findings once per thread, no reply twice; the number of messages stored. */
function expectNothingDoubled(): number {
  const { standin } = harness;
  const top = standin.messages(CHANNEL);
  expect(top).toHaveLength(HOSTS.length);
  for (const host of HOSTS) {
    const parent = top.find((message) => message.text.includes(`on ${host}`))!;
    const replies = standin.thread(CHANNEL, parent.ts).replies;
    expect(replies.filter((reply) => reply.text.startsWith(`${host}: unreachable`)), host).toHaveLength(1);
    const texts = replies.map(shown);
    expect(new Set(texts).size, `${host}: ${JSON.stringify(replies.map((reply) => reply.text))}`).toBe(texts.length);
  }
  expect(harness.logs.filter((line) => /chat\.(postMessage|update) to .* (failed|gave up)|SlackCallError|sending it again/.test(line))).toEqual([]);
  return top.length + top.reduce((sum, parent) => sum + standin.thread(CHANNEL, parent.ts).replies.length, 0);
}

async function fireAlerts(): Promise<void> {
  const answers = await Promise.all(
    HOSTS.map((host) => postAlert(harness, 'alertmanager', alertmanagerBody([{ alertname: 'OnlyofficeDown', instance: `${host}:9100` }]))),
  );
  expect(answers.map((answer) => answer.status)).toEqual([202, 202, 202]);
}

/** The service for the describe block this is called in. */
function serviceFor(options: Parameters<typeof startUnreachableService>[1]): void {
  beforeAll(async () => {
    harness = await startUnreachableService(HOSTS, options);
  }, 120_000);
  afterAll(async () => {
    await harness?.close();
  });
}

describe('Slack API faults while incidents are reported', () => {
  serviceFor({ postMessageRate: false, slack: { postEveryMs: 0 } });

  it('429 storms, 5xx, resets and slow answers delay messages but never lose or double one', async () => {
    const { standin } = harness;
    standin.injectFault({ kind: 'rate_limited', retryAfterSec: 1, count: 12, method: 'chat.postMessage' });
    standin.injectFault({ kind: 'server_error', status: 503, count: 4, method: 'chat.postMessage' });
    standin.injectFault({ kind: 'server_error', status: 500, count: 3, method: 'chat.update' });
    standin.injectFault({ kind: 'reset', count: 2, method: 'chat.postMessage' });
    standin.injectFault({ kind: 'hang', ms: 2_000, count: 3 });
    standin.injectFault({ kind: 'rate_limited', retryAfterSec: 1, count: 6, method: 'chat.update' });

    await fireAlerts();
    // Each host's findings reach its own thread, once the faults are waited out.
    await waitForFindings();

    // The faults really happened.
    const posts = standin.callsTo('chat.postMessage');
    expect(posts.filter((call) => call.fault === 'rate_limited').length).toBe(12);
    expect(posts.filter((call) => call.fault === 'server_error').length).toBe(4);
    expect(posts.filter((call) => call.fault === 'reset').length).toBe(2);
    expect(standin.calls.filter((call) => call.fault === 'hang').length).toBe(3);

    // Never doubled: one parent per incident, the findings once per thread, no reply twice. Never lost:
    // every post Slack accepted is a stored message and nothing was given up.
    const stored = expectNothingDoubled();
    expect(posts.filter((call) => call.status === 200 && call.error === undefined).length).toBe(stored);
  }, 180_000);
});

describe("Slack posts the message but its answer is late or lost (the service's client gives up after 1.5 s)", () => {
  // Paced as the product runs (bursts of 2, then one post every 1.1 s) against Slack's 1 a second, burst 3.
  serviceFor({ slackTimeoutMs: 1500 });

  it('asks Slack whether each unanswered post landed and never posts one twice', async () => {
    const { standin } = harness;
    standin.injectFault({ kind: 'slow_answer', ms: 4000, count: 2, method: 'chat.postMessage' });
    standin.injectFault({ kind: 'drop_answer', count: 2, method: 'chat.postMessage' });
    // One check fails too, and is asked again.
    standin.injectFault({ kind: 'server_error', status: 503, count: 1, method: 'conversations.history' });

    await fireAlerts();
    await waitForFindings();

    const posts = standin.callsTo('chat.postMessage');
    expect(posts.filter((call) => call.fault === 'slow_answer' || call.fault === 'drop_answer')).toHaveLength(4);
    // The first post is a parent (checked in the channel's history); of the four unanswered ones at
    // least one is a reply (there are three parents), checked in its thread.
    const checks = standin.calls.filter((call) => call.method.startsWith('conversations.'));
    expect(checks.filter((call) => call.method === 'conversations.history' && call.status === 200).length).toBeGreaterThanOrEqual(1);
    expect(checks.filter((call) => call.method === 'conversations.history' && call.status === 503)).toHaveLength(1);
    expect(checks.filter((call) => call.method === 'conversations.replies').length).toBeGreaterThanOrEqual(1);
    expect(checks.every((call) => call.args.include_all_metadata === 'true')).toBe(true);
    // Every post Slack carried out is one stored message: none was carried out twice.
    const stored = expectNothingDoubled();
    expect(posts.filter((call) => call.applied).length).toBe(stored);
    expect(posts.filter((call) => call.status === 429)).toEqual([]);
  }, 180_000);
});
