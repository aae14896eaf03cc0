// Requests that are not Slack's, and clicks on buttons that are not ours, against the real service:
// - forged, stale, future, replayed-onto-another-body, missing and malformed signatures: 401 before any
//   listener runs: no job queued, no call to Slack, nothing audited;
// - clicks with tampered, expired, unknown (random 22-char), malformed, oversized or another channel's
//   action ids: refused with a reason to the clicker, audited as kind "refusal", nothing queued, and the
//   pending actions they named stay pending.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { remediationActionId } from '../../src/slack/blocks.js';
import { signSlackRequest } from '../../src/slack/signing.js';
import { clickPayload } from '../../src/testing/slack-requests.js';
import { ALICE, CHANNEL, SIGNING_SECRET, click, postSlack, waitFor, type Harness } from '../e2e/slack/harness.js';
import { jobCounts, startUnreachableService } from './service.js';

let harness: Harness;

beforeAll(async () => {
  harness = await startUnreachableService(['docs-1'], { postMessageRate: false });
}, 120_000);

afterAll(async () => {
  await harness?.close();
});

function slashForm(text: string): Record<string, string> {
  return {
    token: 'unused',
    team_id: 'T0STANDIN',
    channel_id: CHANNEL,
    channel_name: 'ops',
    user_id: ALICE,
    user_name: 'alice',
    command: '/oo',
    text,
    api_app_id: 'A0OO',
    response_url: 'http://127.0.0.1:9/unused',
    trigger_id: harness.standin.issueTriggerId(),
  };
}

async function rawPost(body: string, headers: Record<string, string>) {
  const response = await fetch(`${harness.base}/slack/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body,
  });
  return { status: response.status, body: await response.text() };
}

const now = () => Math.floor(Date.now() / 1000);

describe('requests Slack did not sign', () => {
  it('answers 401 to forged, stale, future, replayed, missing and malformed signatures, and does nothing', async () => {
    const id = await pendingAction(CHANNEL);
    const callsBefore = harness.standin.calls.length;
    const auditBefore = (await harness.service.audit.list({ limit: 1000 })).length;
    const form = slashForm('diagnose docs-1');
    const body = new URLSearchParams(form).toString();

    expect((await postSlack(harness, form, { secret: 'not-the-signing-secret' })).status).toBe(401);
    expect((await postSlack(harness, form, { timestampSec: now() - 6 * 60 })).status).toBe(401);
    expect((await postSlack(harness, form, { timestampSec: now() + 6 * 60 })).status).toBe(401);
    // A captured request replayed after Slack's five minutes: the signature was right, once.
    const captured = signSlackRequest(SIGNING_SECRET, body, now() - 10 * 60);
    expect((await rawPost(body, captured)).status).toBe(401);
    // A fresh signature of one body, replayed onto another.
    const fresh = signSlackRequest(SIGNING_SECRET, new URLSearchParams(slashForm('help')).toString(), now());
    expect((await rawPost(body, fresh)).status).toBe(401);
    // The timestamp header changed under a valid signature.
    expect((await rawPost(body, { ...signSlackRequest(SIGNING_SECRET, body, now()), 'x-slack-request-timestamp': String(now() - 1) })).status).toBe(401);
    // Missing and malformed headers.
    const valid = signSlackRequest(SIGNING_SECRET, body, now());
    const malformed: Record<string, string>[] = [
      {},
      { 'x-slack-request-timestamp': String(now()) },
      { 'x-slack-signature': valid['x-slack-signature'] },
      { ...valid, 'x-slack-signature': '' },
      { ...valid, 'x-slack-signature': `v1=${valid['x-slack-signature'].slice(3)}` },
      { ...valid, 'x-slack-signature': `v0=${'0'.repeat(64)}` },
      { ...valid, 'x-slack-signature': `${valid['x-slack-signature']}00` },
      { ...valid, 'x-slack-request-timestamp': 'NaN' },
      { ...valid, 'x-slack-request-timestamp': '-1' },
      { ...valid, 'x-slack-request-timestamp': '99999999999999999999' },
    ];
    for (const headers of malformed) {
      expect((await rawPost(body, headers)).status, JSON.stringify(headers)).toBe(401);
    }
    // A forged button click for a real pending action.
    const forgedClick = clickPayload(ALICE, { action_id: remediationActionId(id), value: id, text: 'Restart docservice', messageTs: '1700000000.000100' }, CHANNEL, {
      botUser: harness.standin.botUser,
      triggerId: harness.standin.issueTriggerId(),
    });
    expect((await postSlack(harness, { payload: JSON.stringify(forgedClick) }, { secret: 'forged' })).status).toBe(401);

    expect(await jobCounts(harness)).toEqual({ diagnosis: 0, remediation: 0 });
    expect(harness.standin.calls.length).toBe(callsBefore);
    expect((await harness.service.actions.get(id))?.status).toBe('pending');
    expect((await harness.service.audit.list({ limit: 1000 })).length).toBe(auditBefore);
    // The same request, signed, is accepted: the 401s above were the signatures' doing.
    const accepted = await postSlack(harness, slashForm('help'));
    expect(accepted.status).toBe(200);
  });
});

async function pendingAction(channel: string, ttlMs = 10 * 60_000): Promise<string> {
  const key = `man_hostile_${randomBytes(4).toString('hex')}`;
  await harness.service.threads.open(key, { channel, host: 'docs-1', title: 'hostile click test' });
  return harness.service.actions.create({
    incidentKey: key,
    host: 'docs-1',
    remediationId: 'restart_docservice',
    title: 'Restart docservice',
    risk: 'medium',
    command: 'sudo -n supervisorctl restart ds:docservice',
    requestedBy: 'oo',
    channel,
    ttlMs,
  });
}

describe('clicks on buttons that are not ours', () => {
  it('refuses tampered, unknown, malformed, oversized, expired and foreign action ids: audited, nothing runs', async () => {
    const mine = await pendingAction(CHANNEL);
    const other = await pendingAction('C0ELSEWHERE');
    const expiring = await pendingAction(CHANNEL, 1000);
    const oversized = 'A'.repeat(100_000);
    const randomId = () => randomBytes(16).toString('base64url').slice(0, 22);
    const cases: { name: string; action_id: string; value: string; code: string }[] = [
      { name: 'random 22-char id', action_id: remediationActionId(randomId()), value: '', code: 'not_found' },
      { name: 'another random id', action_id: remediationActionId(randomId()), value: '', code: 'not_found' },
      { name: 'value names another action', action_id: remediationActionId(mine), value: other, code: 'malformed' },
      { name: "another channel's action", action_id: remediationActionId(other), value: other, code: 'wrong_channel' },
      { name: 'path in the id', action_id: 'oo_remediate:../../etc/passwd', value: '../../etc/passwd', code: 'malformed' },
      { name: 'shell in the id', action_id: 'oo_remediate:$(id)', value: '$(id)', code: 'malformed' },
      { name: 'redis glob in the id', action_id: 'oo_remediate:*', value: '*', code: 'malformed' },
      { name: 'empty id', action_id: 'oo_remediate:', value: '', code: 'malformed' },
      { name: 'unicode id', action_id: `oo_remediate:${mine}\u202E`, value: `${mine}\u202E`, code: 'malformed' },
      { name: 'oversized id', action_id: `oo_remediate:${oversized}`, value: oversized, code: 'malformed' },
      { name: 'oversized value', action_id: remediationActionId(mine), value: `${mine}${oversized}`, code: 'malformed' },
    ];
    for (const test of cases) test.value = test.value === '' ? test.action_id.slice('oo_remediate:'.length) : test.value;
    await new Promise((resolve) => setTimeout(resolve, 1300));
    cases.push({ name: 'expired action', action_id: remediationActionId(expiring), value: expiring, code: 'expired' });

    for (const test of cases) {
      const ephemeralsBefore = harness.standin.ephemerals.length;
      const refusalsBefore = (await harness.service.audit.list({ limit: 1000, kind: 'refusal' })).length;
      const answer = await click(harness, ALICE, { action_id: test.action_id, value: test.value, text: 'Restart docservice', messageTs: '1700000000.000100' });
      expect(answer.status, test.name).toBe(200);
      const reply = await waitFor(`the refusal of the ${test.name}`, () => harness.standin.ephemerals.slice(ephemeralsBefore).find((e) => e.user === ALICE), 10_000);
      expect(reply.text.length, test.name).toBeGreaterThan(10);
      expect(reply.text, test.name).not.toContain(oversized);
      const refusals = await waitFor(`the audited refusal of the ${test.name}`, async () => {
        const list = await harness.service.audit.list({ limit: 1000, kind: 'refusal' });
        return list.length > refusalsBefore ? list : undefined;
      }, 10_000);
      // The list is oldest first: the last entry is this click's.
      expect(refusals.at(-1), test.name).toMatchObject({ kind: 'refusal', actor: ALICE, outcome: test.code });
    }
    expect(await jobCounts(harness)).toEqual({ diagnosis: 0, remediation: 0 });
    expect((await harness.service.actions.get(mine))?.status).toBe('pending');
    expect((await harness.service.actions.get(other))?.status).toBe('pending');
  }, 60_000);

  it('a button payload that is not JSON, or a click of a button that is not ours, runs nothing', async () => {
    const mine = await pendingAction(CHANNEL);
    const garbage = await postSlack(harness, { payload: '{"type":"block_actions",' });
    expect(garbage.status).toBeGreaterThanOrEqual(400);
    expect(garbage.status).toBeLessThan(500);
    const foreign = await click(harness, ALICE, { action_id: `evil_${mine}`, value: mine, text: 'x', messageTs: '1700000000.000100' });
    expect([200, 404]).toContain(foreign.status);
    expect(await jobCounts(harness)).toEqual({ diagnosis: 0, remediation: 0 });
    expect((await harness.service.actions.get(mine))?.status).toBe('pending');
  }, 30_000);
});
