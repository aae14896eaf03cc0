// `/oo` slash commands and the "Explain this 502" shortcut, signed as Slack sends them, against the
// real service with a healthy lab host: each answers within Slack's 3 seconds, bad input is named.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab } from '../../../src/lab/index.js';
import { EXPLAIN_SHORTCUT_ID } from '../../../src/slack/bolt.js';
import { ALICE, BOB, CHANNEL, postSlack, slashCommand, startHarness, waitFor, type Harness } from './harness.js';

let lab: Lab;
let harness: Harness;

// nginx's own error-log line for a stopped upstream (ngx_event_connect_peer, errno 111).
const REFUSED =
  '2024/05/14 10:21:33 [error] 1234#1234: *56 connect() failed (111: Connection refused) while connecting to upstream, client: 10.0.0.5, server: , request: "GET /healthcheck HTTP/1.1", upstream: "http://127.0.0.1:8000/healthcheck", host: "docs.example.com"';

beforeAll(async () => {
  lab = await Lab.create();
  await lab.addHost({ name: 'sc-ok' });
  harness = await startHarness({ hosts: lab.inventory() });
  await lab.host('sc-ok').exec(['true']);
}, 300_000);

afterAll(async () => {
  await harness?.close();
  await lab?.destroy();
});

async function command(user: string, text: string, channel = CHANNEL) {
  const started = Date.now();
  const answer = await slashCommand(harness, user, text, channel);
  const elapsed = Date.now() - started;
  expect(answer.status).toBe(200);
  expect(elapsed).toBeLessThan(3000);
  const body = JSON.parse(answer.body) as { response_type: string; text: string; blocks?: unknown[] };
  expect(body.response_type).toBe('ephemeral');
  return { ...body, all: `${body.text}\n${JSON.stringify(body.blocks ?? [])}` };
}

describe('/oo', () => {
  it('help, and an unknown subcommand named with the list of what exists', async () => {
    expect((await command(ALICE, 'help')).all).toContain('/oo diagnose <host|group>');
    const unknown = await command(ALICE, 'restart everything');
    expect(unknown.all).toContain('unknown subcommand \\"restart\\"');
    expect(unknown.all).toContain('help, diagnose, status, hosts, runbooks, incidents, explain, audit');
  });

  it('names an unknown host and lists the hosts and groups that exist', async () => {
    const answer = await command(ALICE, 'diagnose docs-99');
    expect(answer.all).toContain('Unknown host or group `docs-99`');
    expect(answer.all).toContain('`sc-ok`');
    expect((await command(ALICE, 'diagnose')).all).toContain('needs a host or group name');
    expect((await command(ALICE, 'diagnose a b')).all).toContain('takes one host or group name');
  });

  it('refuses to act in a channel the policy does not name', async () => {
    expect((await command(ALICE, 'diagnose sc-ok', 'C0ELSEWHERE')).all).toContain('does not act in this channel');
  });

  it('lists hosts and runbooks', async () => {
    expect((await command(ALICE, 'hosts')).all).toContain('`sc-ok`');
    const runbooks = await command(ALICE, 'runbooks');
    expect(runbooks.all).toContain('`restart_docservice` (medium)');
  });

  it('explains pasted log lines without SSH', async () => {
    const answer = await command(ALICE, `explain\n${REFUSED}`);
    expect(answer.all).toContain('`backend_down`');
    expect(answer.all).not.toContain('oo_remediate:');
    expect((await command(ALICE, 'explain')).all).toContain('needs the log lines');
  });

  it('diagnoses a host on request: ack at once, findings in a thread', async () => {
    const answer = await command(ALICE, 'diagnose sc-ok');
    expect(answer.all).toContain('Diagnosing `sc-ok`');
    const parent = await waitFor('the parent of the requested diagnosis', () =>
      harness.standin.messages(CHANNEL).find((message) => message.text.includes('Diagnosis of sc-ok')),
    );
    const findings = await waitFor(
      'the findings',
      () => harness.standin.thread(CHANNEL, parent.ts).replies.find((reply) => reply.text.startsWith('sc-ok:')),
      60_000,
    );
    expect(findings.text).toContain('sc-ok: healthy');
    // Nothing wrong: the requested check closes its own incident, with a summary.
    await waitFor('the summary', () => harness.standin.thread(CHANNEL, parent.ts).replies.find((reply) => reply.text.startsWith('Incident summary')));
  }, 90_000);

  it('status and incidents read Redis and answer in time', async () => {
    const status = await command(ALICE, 'status');
    expect(status.all).toMatch(/Open incidents:\* \d+/);
    expect(status.all).toContain('*diagnosis*');
    expect(status.all).toMatch(/worker connection/);
    const opened = await harness.service.threads.open('inc_listed', { channel: CHANNEL, host: 'sc-ok', title: 'Listed incident' });
    const incidents = await command(ALICE, 'incidents');
    expect(incidents.all).toContain('Listed incident');
    expect(incidents.all).not.toContain('Diagnosis of sc-ok');
    expect(opened.created).toBe(true);
  });

  it('shows the audit trail to approvers only', async () => {
    expect((await command(BOB, 'audit')).all).toContain('Only approvers');
    const audit = await command(ALICE, 'audit sc-ok');
    expect(audit.all).toContain('*request* by <@U0ALICE>');
  });

  it('explains any message through the message shortcut', async () => {
    const before = harness.standin.ephemerals.length;
    const payload = {
      type: 'message_action',
      callback_id: EXPLAIN_SHORTCUT_ID,
      trigger_id: harness.standin.issueTriggerId(),
      message_ts: '1700000000.000100',
      response_url: 'http://127.0.0.1:9/unused',
      team: { id: 'T0STANDIN', domain: 'standin' },
      channel: { id: CHANNEL, name: 'ops' },
      user: { id: BOB, name: 'bob', team_id: 'T0STANDIN' },
      message: { type: 'message', user: 'U0CAROL', ts: '1700000000.000100', text: `users get 502 since 10:21, nginx says:\n${REFUSED}` },
      token: 'unused',
    };
    const answer = await postSlack(harness, { payload: JSON.stringify(payload) });
    expect(answer.status).toBe(200);
    const explanation = await waitFor('the ephemeral explanation', () => harness.standin.ephemerals.slice(before).find((e) => e.user === BOB));
    expect(JSON.stringify(explanation.blocks)).toContain('`backend_down`');
  });
});
