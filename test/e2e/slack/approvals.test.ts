// High-risk approvals through signed clicks: two different approvers (one of them through a Slack user
// group, checked at click time), no self-approval, no approving twice; and a run whose outcome cannot
// be known (the host vanished mid-way) is never retried but marked unknown, with a verification queued.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveHost } from '../../../src/config/index.js';
import { freeLoopbackPort } from '../../../src/testing/redis-server.js';
import { ALICE, BOB, CHANNEL, buttonsOf, click, startHarness, waitFor, type Harness } from './harness.js';

const KEY = readFileSync(path.join(import.meta.dirname, '../../unit/ssh/fixtures/ed25519.pub'), 'utf8').trim();
const CAROL = 'U0CAROL';
const DAVE = 'U0DAVE';
let harness: Harness;

beforeAll(async () => {
  const port = await freeLoopbackPort();
  harness = await startHarness({
    hosts: { 'hr-1': { address: '127.0.0.1', port, user: 'ops', hostKey: KEY, processManager: 'supervisor' } },
    policy: { approvers: { low: [ALICE], medium: [ALICE], high: [ALICE, CAROL, 'S0ONCALL'] }, channels: [CHANNEL] },
    usergroups: { S0ONCALL: [DAVE] },
  });
}, 60_000);

afterAll(async () => {
  await harness?.close();
});

async function ephemeralFor(user: string, after: number) {
  return waitFor(`an ephemeral answer for ${user}`, () => harness.standin.ephemerals.slice(after).find((e) => e.user === user));
}

describe('a high-risk remediation', () => {
  it('needs two different approvers, refuses self-approval and double approval, and accepts a user-group member', async () => {
    const opened = await harness.service.threads.open('man_high_risk', { channel: CHANNEL, host: 'hr-1', title: 'SELinux blocks nginx' });
    const { ts } = await harness.service.findings.offer(opened.incident, resolveHost(harness.config, 'hr-1'), 'allow_httpd_network_connect', CAROL);
    const [button] = buttonsOf(harness.standin.message(CHANNEL, ts)!);
    expect(button!.text).toContain('httpd');

    let mark = harness.standin.ephemerals.length;
    await click(harness, CAROL, button!);
    expect((await ephemeralFor(CAROL, mark)).text).toContain('must be approved by someone other than the person who requested it');

    mark = harness.standin.ephemerals.length;
    await click(harness, BOB, button!);
    expect((await ephemeralFor(BOB, mark)).text).toContain('not an approver for high-risk');

    mark = harness.standin.ephemerals.length;
    await click(harness, ALICE, button!);
    expect((await ephemeralFor(ALICE, mark)).text).toContain('a second approver is needed');
    const shown = await waitFor('the first approval shown', () => JSON.stringify(harness.standin.message(CHANNEL, ts)!.blocks).includes('a second approver is needed') || undefined);
    expect(shown).toBe(true);
    expect(buttonsOf(harness.standin.message(CHANNEL, ts)!)).toHaveLength(1);

    mark = harness.standin.ephemerals.length;
    await click(harness, ALICE, button!);
    expect((await ephemeralFor(ALICE, mark)).text).toContain('you already approved this remediation');
    expect(await harness.service.queues.remediation.count()).toBe(0);

    mark = harness.standin.ephemerals.length;
    await click(harness, DAVE, button!);
    expect((await ephemeralFor(DAVE, mark)).text).toContain('queued and runs once');
    expect(harness.standin.callsTo('usergroups.users.list').length).toBeGreaterThan(0);

    // The host cannot be reached: nobody can tell what happened, so the run is "unknown", never
    // retried, and a verification diagnosis is queued instead.
    await waitFor('the unknown result shown', () => JSON.stringify(harness.standin.message(CHANNEL, ts)!.blocks).includes('the result is unknown') || undefined, 60_000);
    const action = await harness.service.actions.get(button!.value);
    expect(action).toMatchObject({ status: 'done', result: 'unknown', approvers: [ALICE, DAVE] });
    const audit = await harness.service.audit.list({ limit: 50, host: 'hr-1' });
    expect(audit.find((entry) => entry.kind === 'remediation')).toMatchObject({ outcome: 'unknown' });
    const verifications = await waitFor('the verification diagnosis', async () => {
      const jobs = await harness.service.queues.diagnosis.getJobs(['waiting', 'active', 'delayed', 'completed', 'failed']);
      return jobs.filter((job) => job.data.verifiesAction === button!.value).length > 0 ? jobs : undefined;
    });
    expect(verifications.length).toBeGreaterThan(0);
    const runs = await harness.service.queues.remediation.getJobs(['waiting', 'active', 'delayed', 'completed', 'failed']);
    expect(runs).toHaveLength(1);
  }, 90_000);
});
