// Two `oo serve` replicas (HTTP mode) behind a round-robin "load balancer" and two `oo worker`
// processes, all on one Redis, for one real broken lab host. An alert storm spread over both replicas
// must open one incident with one parent message and one diagnosis; a burst of clicks on the fix,
// spread over both replicas, must run it exactly once (one job, one audited command) and verify it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab } from '../../../src/lab/index.js';
import { keyspace } from '../../../src/queue/keys.js';
import { AuditLog } from '../../../src/remediation/audit.js';
import { alertmanagerBody, buttonsOf, waitFor, type ButtonRef } from '../../../src/testing/slack-requests.js';
import { ALICE, CHANNEL, Cluster } from './cluster.js';

let lab: Lab;
let cluster: Cluster;

beforeAll(async () => {
  lab = await Lab.create();
  await lab.addHost({ name: 'sc-storm', fault: 'backend_down' });
  cluster = await Cluster.start({ hosts: lab.inventory(), serves: 2, workers: 2 });
}, 300_000);

afterAll(async () => {
  await cluster?.close();
  await lab?.destroy();
});

const jobsIn = async (queue: 'diagnosis' | 'remediation') => {
  const redis = cluster.client();
  try {
    // BullMQ keeps one hash per job under <prefix>:q:<queue>:<id>; count the job hashes.
    const keys = await redis.keys(`${cluster.prefix}:q:${queue}:[dr]_*`);
    return keys.filter((key) => !key.endsWith(':lock') && !key.endsWith(':logs')).length;
  } finally {
    redis.disconnect();
  }
};

describe('two serve replicas and two workers on one Redis', () => {
  let restart: ButtonRef;

  it('turn an alert storm spread over both replicas into one incident, one parent, one diagnosis', async () => {
    const host = lab.host('sc-storm');
    // 40 deliveries at once, alternating replicas: Alertmanager re-sending one alert plus 9 more
    // instances of the same alert name on the same host (distinct fingerprints).
    const bodies = Array.from({ length: 40 }, (_, i) =>
      alertmanagerBody([{ alertname: 'OnlyofficeDown', instance: `${host.address}:9100`, ...(i % 4 === 0 ? { fingerprint: `f${(i / 4).toString(16).padStart(15, '0')}` } : {}) }]),
    );
    const answers = await Promise.all(bodies.map((body) => cluster.postAlert(body)));
    expect(answers.map((answer) => answer.status)).toEqual(bodies.map(() => 202));
    // Both replicas took part.
    const served = cluster.serves().map((serve) => serve.logs().filter((line) => line.msg === 'alerts accepted').length);
    expect(served).toEqual([20, 20]);

    const parent = await waitFor('the parent message', () => cluster.standin.messages(CHANNEL)[0], 30_000);
    const findings = await waitFor(
      'the findings',
      () => cluster.standin.thread(CHANNEL, parent.ts).replies.find((reply) => buttonsOf(reply).length > 0),
      90_000,
    );
    restart = buttonsOf(findings).find((button) => button.text === 'Restart docservice')!;
    expect(restart).toBeDefined();
    // Let every replica drain the stream and every worker settle before counting.
    await waitFor('the alert stream drained', async () => {
      const redis = cluster.client();
      try {
        const pending = (await redis.xpending(`${cluster.prefix}:alerts:stream`, 'oo-alert-processors')) as [number, ...unknown[]];
        return Number(pending[0]) === 0 && (await redis.xlen(`${cluster.prefix}:alerts:stream`)) === 0;
      } finally {
        redis.disconnect();
      }
    });
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(cluster.standin.messages(CHANNEL)).toHaveLength(1);
    const findingsMessages = cluster.standin.thread(CHANNEL, parent.ts).replies.filter((reply) => buttonsOf(reply).length > 0);
    expect(findingsMessages).toHaveLength(1);
    expect(await jobsIn('diagnosis')).toBe(1);
    const diagnosed = cluster.processes.flatMap((p) => p.logs().filter((line) => line.msg === 'diagnosis started'));
    expect(diagnosed).toHaveLength(1);
  }, 180_000);

  it('run the fix once for a burst of clicks spread over both replicas, and verify it', async () => {
    const clicks = await Promise.all(Array.from({ length: 6 }, () => cluster.click(ALICE, restart)));
    expect(clicks.map((answer) => answer.status)).toEqual(clicks.map(() => 200));
    const audit = new AuditLog(cluster.client(), keyspace(cluster.prefix));
    const entries = await waitFor(
      'the verification recorded',
      async () => {
        const list = await audit.list({ limit: 500, host: 'sc-storm' });
        return list.some((entry) => entry.kind === 'verification' && entry.outcome === 'verified') ? list : undefined;
      },
      90_000,
    );
    // Five of the six clicks were told it already ran or is running.
    await waitFor('five refusals', () => (cluster.standin.ephemerals.filter((e) => e.user === ALICE && /at most once|already/.test(e.text)).length >= 5 ? true : undefined));
    const commands = entries.filter((entry) => entry.kind === 'remediation' && entry.action === 'restart_docservice');
    expect(commands).toHaveLength(1);
    expect(commands[0]).toMatchObject({ actor: ALICE, outcome: 'exit 0' });
    expect(entries.filter((entry) => entry.kind === 'approval')).toHaveLength(1);
    expect(await jobsIn('remediation')).toBe(1);
    const ran = cluster.processes.flatMap((p) => p.logs().filter((line) => line.msg === 'remediation started'));
    expect(ran).toHaveLength(1);
    expect((await lab.host('sc-storm').exec(['supervisorctl', 'status', 'ds:docservice'])).stdout).toContain('RUNNING');
    expect(cluster.standin.messages(CHANNEL)).toHaveLength(1);
  }, 150_000);
});
