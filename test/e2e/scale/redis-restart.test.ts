// Redis restarted under a running deployment (two `oo serve` replicas, one `oo worker`): stopped while
// a diagnosis runs (the lab host's docservice answers 5 s late, so the probe step is slow) and just
// after a second alert was accepted, then started again on the same port with its append-only file.
// Both accepted alerts must still become incidents with one thread and one findings message each (the
// 202 promised they were stored), /readyz must say "not ready" (naming Redis) while Redis is gone and
// "ready" again after on every process, alerts sent while it is down must be refused with 503 (so the
// sender retries) rather than dropped, and alerts after the restart must flow as before.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab } from '../../../src/lab/index.js';
import { alertmanagerBody, buttonsOf, postAlert, waitFor } from '../../../src/testing/slack-requests.js';
import { ALERT_TOKEN, CHANNEL, Cluster } from './cluster.js';

let lab: Lab;
let cluster: Cluster;

beforeAll(async () => {
  lab = await Lab.create();
  await lab.addHost({ name: 'sc-redis', fault: 'upstream_timeout' });
  cluster = await Cluster.start({ hosts: lab.inventory(), serves: 2, workers: 1 });
}, 300_000);

afterAll(async () => {
  await cluster?.close();
  await lab?.destroy();
});

async function readyz(base: string): Promise<{ status: number; body: { status: string; checks: Record<string, string> } }> {
  const response = await fetch(`${base}/readyz`);
  return { status: response.status, body: (await response.json()) as { status: string; checks: Record<string, string> } };
}

const parents = () => cluster.standin.messages(CHANNEL);
const findingsOf = (parentTs: string) => cluster.standin.thread(CHANNEL, parentTs).replies.filter((reply) => buttonsOf(reply).length > 0);

describe('a Redis restart under load', () => {
  it('loses no accepted alert, reports not ready while Redis is down, and recovers', async () => {
    const host = lab.host('sc-redis');
    for (const p of cluster.processes) expect((await readyz(p.base)).status).toBe(200);

    const first = await cluster.postAlert(alertmanagerBody([{ alertname: 'OnlyofficeDown', instance: `${host.address}:9100` }]));
    expect(first.status).toBe(202);
    await waitFor(
      'the first diagnosis running',
      () => cluster.processes.some((p) => p.logs().some((line) => line.msg === 'diagnosis started' && line.host === 'sc-redis')) || undefined,
      30_000,
      20,
    );
    const second = await cluster.postAlert(alertmanagerBody([{ alertname: 'DocsSlow', instance: `${host.address}:9100` }]));
    expect(second.status).toBe(202);
    await cluster.redis.stop();
    // The first diagnosis was still running when Redis went away.
    expect(cluster.processes.some((p) => p.logs().some((line) => line.msg === 'findings posted to Slack'))).toBe(false);

    // While Redis is down: every process says why it is not ready, and new alerts are refused, not lost.
    for (const p of cluster.processes) {
      const down = await waitFor(`${p.name} not ready`, async () => {
        const answer = await readyz(p.base);
        return answer.status === 503 ? answer : undefined;
      }, 15_000);
      expect(down.body.checks.redis).toMatch(/^not connected/);
      expect(down.body.checks.slack).toBe('ok');
    }
    const refused = await postAlert(cluster.next().base, 'alertmanager', alertmanagerBody([{ alertname: 'RefusedWhileDown', instance: `${host.address}:9100` }]), ALERT_TOKEN);
    expect(refused.status).toBe(503);

    await new Promise((resolve) => setTimeout(resolve, 2000));
    await cluster.redis.start();
    for (const p of cluster.processes) {
      await waitFor(`${p.name} ready again`, async () => ((await readyz(p.base)).status === 200 ? true : undefined), 60_000, 250);
    }

    // Both alerts accepted before the restart become their incidents, each diagnosed and shown once.
    const accepted = [];
    for (const name of ['OnlyofficeDown', 'DocsSlow']) {
      const parent = await waitFor(`the parent of ${name}`, () => parents().find((m) => m.text.includes(name)), 90_000);
      await waitFor(`the findings of ${name}`, () => (findingsOf(parent.ts).length > 0 ? true : undefined), 120_000);
      accepted.push(parent);
    }

    // And alerts accepted after the restart flow as before.
    const third = await cluster.postAlert(alertmanagerBody([{ alertname: 'AfterRestart', instance: `${host.address}:9100` }]));
    expect(third.status).toBe(202);
    const parent3 = await waitFor('the parent of the alert after the restart', () => parents().find((m) => m.text.includes('AfterRestart')), 60_000);
    await waitFor('its findings', () => (findingsOf(parent3.ts).length > 0 ? true : undefined), 90_000);

    // A moment after the last findings, still nothing was posted twice.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    expect(parents()).toHaveLength(3);
    expect(parents().some((m) => m.text.includes('RefusedWhileDown'))).toBe(false);
    for (const parent of [...accepted, parent3]) expect(findingsOf(parent.ts)).toHaveLength(1);
  }, 400_000);
});
