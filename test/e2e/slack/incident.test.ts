// From an Alertmanager alert to a verified fix, through the real service: alert webhook → one thread →
// findings with the right cause → signed clicks (refused ones and the authorised one) → the remediation
// runs once on a real lab host over SSH → verified healthy → thread and parent updated, incident
// resolved with its summary. Plus the refusals: forged signature, expired action, failing pre-check.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveHost } from '../../../src/config/index.js';
import { Lab } from '../../../src/lab/index.js';
import { isActionId } from '../../../src/remediation/actions.js';
import { remediationActionId } from '../../../src/slack/blocks.js';
import { BOT_METHOD_SCOPES } from '../../../src/slack/scopes.js';
import {
  ALICE,
  BOB,
  CHANNEL,
  alertmanagerBody,
  buttonsOf,
  click,
  postAlert,
  postSlack,
  startHarness,
  threadTexts,
  waitFor,
  type Harness,
} from './harness.js';

let lab: Lab;
let harness: Harness;

beforeAll(async () => {
  lab = await Lab.create();
  await Promise.all([lab.addHost({ name: 'sl-down', fault: 'backend_down' }), lab.addHost({ name: 'sl-conf', fault: 'nginx_config_invalid' })]);
  harness = await startHarness({ hosts: lab.inventory() });
}, 300_000);

afterAll(async () => {
  await harness?.close();
  await lab?.destroy();
});

const remediationJobs = async () => {
  const counts = await harness.service.queues.remediation.getJobCounts('waiting', 'active', 'delayed', 'completed', 'failed');
  return Object.values(counts).reduce((sum, n) => sum + n, 0);
};

describe('an Alertmanager alert for a broken lab host', () => {
  let parentTs: string;
  let restart: ReturnType<typeof buttonsOf>[number];

  it('opens one thread, diagnoses the host over SSH and offers the fitting fix', async () => {
    const host = lab.host('sl-down');
    const accepted = await postAlert(harness, 'alertmanager', alertmanagerBody([{ alertname: 'OnlyofficeDown', instance: `${host.address}:9100` }]));
    expect(accepted).toEqual({ status: 202, body: { status: 'accepted', alerts: 1 } });
    // A repeat of the same alert joins the incident: still one parent.
    expect((await postAlert(harness, 'alertmanager', alertmanagerBody([{ alertname: 'OnlyofficeDown', instance: `${host.address}:9100` }]))).status).toBe(202);

    const parent = await waitFor('the parent message', () => harness.standin.messages(CHANNEL)[0]);
    parentTs = parent.ts;
    expect(parent.text).toContain('OnlyofficeDown on sl-down');

    const findings = await waitFor(
      'the findings with a restart button',
      () => harness.standin.thread(CHANNEL, parentTs).replies.find((reply) => buttonsOf(reply).length > 0),
      90_000,
    );
    expect(JSON.stringify(findings.blocks)).toContain('`backend_down`');
    const buttons = buttonsOf(findings);
    restart = buttons.find((button) => button.text === 'Restart docservice')!;
    expect(restart, JSON.stringify(buttons)).toBeDefined();
    // The button carries an opaque id of a server-side pending action, nothing else.
    expect(restart.value).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(isActionId(restart.value)).toBe(true);
    expect(restart.action_id).toBe(remediationActionId(restart.value));
    const stored = await harness.service.actions.get(restart.value);
    expect(stored).toMatchObject({ host: 'sl-down', remediationId: 'restart_docservice', status: 'pending', channel: CHANNEL });
    // The confirm dialog names the exact command and host.
    const dialog = JSON.stringify(findings.blocks);
    expect(dialog).toContain('supervisorctl');
    expect(dialog).toContain('Restart docservice on sl-down?');
    // The status message was edited as steps finished.
    const status = harness.standin.thread(CHANNEL, parentTs).replies[0]!;
    expect(status.edits.length).toBeGreaterThan(0);
    expect(status.text).toMatch(/Diagnosis sl-down: (\d+)\/\1 steps/);
    expect(harness.standin.messages(CHANNEL)).toHaveLength(1);
  }, 120_000);

  it('refuses a click from someone who is not an approver, and changes nothing', async () => {
    const before = harness.standin.ephemerals.length;
    expect((await click(harness, BOB, restart)).status).toBe(200);
    const refusal = await waitFor('the ephemeral refusal', () => harness.standin.ephemerals.slice(before).find((e) => e.user === BOB));
    expect(refusal.text).toContain('is not an approver for medium-risk remediations');
    expect((await harness.service.actions.get(restart.value))?.status).toBe('pending');
    expect(await remediationJobs()).toBe(0);
  });

  it('refuses a forged signature with 401 and queues nothing', async () => {
    const before = harness.standin.calls.length;
    const forged = await postSlack(
      harness,
      { payload: JSON.stringify({ type: 'block_actions', user: { id: ALICE }, channel: { id: CHANNEL }, actions: [{ action_id: restart.action_id, value: restart.value }] }) },
      { secret: 'not-the-signing-secret' },
    );
    expect(forged.status).toBe(401);
    const stale = await postSlack(harness, { payload: '{}' }, { timestampSec: Math.floor(Date.now() / 1000) - 6 * 60 });
    expect(stale.status).toBe(401);
    expect((await harness.service.actions.get(restart.value))?.status).toBe('pending');
    expect(await remediationJobs()).toBe(0);
    expect(harness.standin.calls.length).toBe(before);
  });

  it('runs the fix once for an approver, verifies it, and resolves the incident with a summary', async () => {
    const host = lab.host('sl-down');
    // Two clicks at once (a double click): one run.
    const [first, second] = await Promise.all([click(harness, ALICE, restart), click(harness, ALICE, restart)]);
    expect([first.status, second.status]).toEqual([200, 200]);

    const result = await waitFor(
      'the verified result in the thread',
      () => threadTexts(harness, parentTs).find((text) => text.includes('verified') && text.includes('Restart docservice')),
      90_000,
    );
    expect(result).toContain('sl-down');
    const refusedTwice = await waitFor('the second click refused', () =>
      harness.standin.ephemerals.find((e) => e.user === ALICE && e.text.includes('runs at most once')),
    );
    expect(refusedTwice.text).toContain('already');

    // The host is healthy for real: docservice runs again and nginx answers.
    const supervisor = await host.exec(['supervisorctl', 'status', 'ds:docservice']);
    expect(supervisor.stdout).toContain('RUNNING');

    // Ran once: one remediation job, and the audit shows the command once.
    expect(await remediationJobs()).toBe(1);
    const audit = await harness.service.audit.list({ limit: 200, host: 'sl-down' });
    const commands = audit.filter((entry) => entry.kind === 'remediation' && entry.action === 'restart_docservice');
    expect(commands).toHaveLength(1);
    expect(commands[0]).toMatchObject({ actor: ALICE, outcome: 'exit 0' });
    expect(audit.some((entry) => entry.kind === 'approval' && entry.actor === ALICE)).toBe(true);
    expect(audit.some((entry) => entry.kind === 'refusal' && entry.actor === 'U0BOB')).toBe(true);
    expect(audit.some((entry) => entry.kind === 'verification' && entry.outcome === 'verified')).toBe(true);

    // The findings message was edited: the button is gone, who approved, what ran, verified healthy.
    const findings = harness.standin.message(CHANNEL, restart.messageTs)!;
    expect(buttonsOf(findings).map((b) => b.value)).not.toContain(restart.value);
    const shown = JSON.stringify(findings.blocks);
    expect(shown).toContain(`<@${ALICE}>`);
    expect(shown).toContain('Verified healthy');
    expect(shown).toContain('supervisorctl');

    // Resolved, with the summary in the thread and the parent edited (never a second parent).
    const summary = await waitFor('the incident summary', () => threadTexts(harness, parentTs).find((text) => text.includes('Incident summary')));
    expect(summary).toContain('Time to diagnosis');
    expect(summary).toContain('Time to recovery');
    expect(summary).toMatch(/open: alertmanager alert OnlyofficeDown.*diagnosis: sl-down: fault — backend_down.*approval: U0ALICE.*remediation: Restart docservice.*verification: sl-down: verified.*resolve: /s);
    const parent = harness.standin.message(CHANNEL, parentTs)!;
    await waitFor('the parent marked resolved', () => harness.standin.message(CHANNEL, parentTs)!.text.startsWith('Resolved'));
    expect(parent.edits.length).toBeGreaterThan(0);
    const incident = (await harness.service.incidents.listOpen()).find((open) => open.host === 'sl-down');
    expect(incident).toBeUndefined();

    // Alertmanager's own "resolved" afterwards lands in the same thread.
    expect(
      (await postAlert(harness, 'alertmanager', alertmanagerBody([{ alertname: 'OnlyofficeDown', instance: `${host.address}:9100`, status: 'resolved' }]))).status,
    ).toBe(202);
    await waitFor('the resolved note', () => threadTexts(harness, parentTs).find((text) => text.includes('reports OnlyofficeDown resolved')));
    expect(harness.standin.messages(CHANNEL)).toHaveLength(1);
    // Nothing was called that the manifests' scopes do not cover.
    expect([...new Set(harness.standin.calls.map((call) => call.method))].filter((method) => !(method in BOT_METHOD_SCOPES))).toEqual([]);
  }, 150_000);
});

describe('refusals that change nothing on the host', () => {
  it('refuses an expired action', async () => {
    const incident = (await harness.service.threads.open('man_expiry_test', { channel: CHANNEL, host: 'sl-conf', title: 'expiry test' })).incident;
    const id = await harness.service.actions.create({
      incidentKey: incident.key,
      host: 'sl-conf',
      remediationId: 'reload_nginx',
      title: 'Reload nginx',
      risk: 'low',
      command: 'sudo sh -c nginx -t && nginx -s reload',
      requestedBy: 'oo',
      channel: CHANNEL,
      ttlMs: 1000,
    });
    await new Promise((resolve) => setTimeout(resolve, 1300));
    const before = harness.standin.ephemerals.length;
    await click(harness, ALICE, { action_id: remediationActionId(id), value: id, text: 'Reload nginx', messageTs: incident.threadTs! });
    const refusal = await waitFor('the expiry refusal', () => harness.standin.ephemerals.slice(before).find((e) => e.user === ALICE));
    expect(refusal.text).toContain('expired');
    expect((await harness.service.actions.get(id))?.status).toBe('expired');
  });

  it('does not reload nginx when its pre-check fails', async () => {
    const conf = lab.host('sl-conf');
    const pidBefore = (await conf.exec(['cat', '/run/nginx.pid'])).stdout;
    const opened = await harness.service.threads.open('man_precheck_test', { channel: CHANNEL, host: 'sl-conf', title: 'reload after a config edit' });
    const { ts, offered } = await harness.service.findings.offer(opened.incident, resolveHost(harness.config, 'sl-conf'), 'reload_nginx', ALICE);
    expect(offered[0]!.command).toMatch(/nginx -t.*&&.*nginx/s);
    const message = harness.standin.message(CHANNEL, ts)!;
    const [button] = buttonsOf(message);
    await click(harness, ALICE, button!);
    await waitFor(
      'the pre-check failure shown',
      () => JSON.stringify(harness.standin.message(CHANNEL, ts)!.blocks).includes('pre-check failed, nothing changed'),
      60_000,
    );
    const after = (await conf.exec(['cat', '/run/nginx.pid'])).stdout;
    expect(after).toBe(pidBefore);
    const audit = await harness.service.audit.list({ limit: 50, host: 'sl-conf', kind: 'verification' });
    expect(audit.map((entry) => entry.outcome)).toContain('precheck_failed');
  }, 90_000);
});
