// oo-responder on a Redis Cluster: three real masters (the 16384 slots split between them, a password
// on every node) and a hash-tag prefix, the connection built from oo.yaml's redis.cluster as the
// service builds it. Redis Cluster refuses a multi-key command, Lua script or MULTI whose keys are in
// different slots (CROSSSLOT), so everything here that passes also proves its keys share one slot:
//  - the queues: a diagnosis (BullMQ's scripts, the shared host lock) and a remediation (the at-most-once
//    records' five-key scripts, the exclusive host lock) run by their workers;
//  - the stores: incidents (Lua, MGET), pending actions, approvals waiting (SCAN, walked on every master),
//    the audit stream;
//  - the whole service (startService): an Alertmanager webhook → the alert stream (XADD, XREADGROUP on a
//    blocking client of its own) → one incident thread → its diagnosis posted; /metrics read from Redis.
// Last, every key the run wrote is looked up on every master: all in one slot, on one node.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { approvalsWaiting } from '../../../src/app/approvals-waiting.js';
import { startService, type RunningService } from '../../../src/app/index.js';
import { createLogger } from '../../../src/app/logger.js';
import { resolveRedisConnection } from '../../../src/app/settings.js';
import { parseConfig, type Config } from '../../../src/config/index.js';
import { IncidentStore } from '../../../src/incidents/store.js';
import { DiagnosisWorker } from '../../../src/queue/diagnosis-worker.js';
import { keyspace } from '../../../src/queue/keys.js';
import { OoQueues } from '../../../src/queue/queues.js';
import { createRedisClient, keyHoldingNodes, type RedisClient, type RedisConnection } from '../../../src/queue/redis.js';
import { RemediationWorker } from '../../../src/queue/remediation-worker.js';
import { PendingActionStore } from '../../../src/remediation/actions.js';
import { AuditLog } from '../../../src/remediation/audit.js';
import { startRedisCluster, type TestRedisCluster } from '../../../src/testing/redis-topologies.js';
import { freeLoopbackPort } from '../../../src/testing/redis-server.js';
import { alertmanagerBody, postAlert } from '../../../src/testing/slack-requests.js';
import { SlackStandin } from '../../../src/testing/slack-standin.js';
import { healthyFinding, newActionId, restartAction, verifiedOutcome, waitFor } from '../queue/helpers.js';

const PASSWORD = `pw-${randomBytes(8).toString('hex')}`;
const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl';
const CHANNEL = 'C0OPS';
const ALICE = 'U0ALICE';
const ALERT_TOKEN = 'alert-token-0123456789abcdef';
const PREFIX = `{c${randomBytes(3).toString('hex')}}`;

let cluster: TestRedisCluster;
let config: Config;
let connection: RedisConnection;
let state: RedisClient;
const timings: Record<string, number> = {};
const cleanups: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  const started = Date.now();
  cluster = await startRedisCluster({ masters: 3, password: PASSWORD });
  timings.setUpMs = Date.now() - started;
  // A host whose sshd port nobody listens on: its diagnosis ends at once as "unreachable".
  const closedPort = await freeLoopbackPort();
  config = parseConfig(
    stringify({
      hosts: { 'docs-c1': { address: '127.0.0.1', port: closedPort, user: 'ops', hostKey: KEY } },
      ssh: { connectTimeoutMs: 1000 },
      slack: { channel: CHANNEL, progressEveryMs: 250 },
      policy: { approvers: { low: [ALICE], medium: [ALICE], high: [ALICE, 'U0CAROL'] }, channels: [CHANNEL] },
      workers: { diagnosisAttempts: 1 },
      redis: { cluster: { nodes: cluster.endpoints.slice(0, 1) }, prefix: PREFIX },
    }),
    'oo.yaml',
  );
  const resolved = resolveRedisConnection(config, { REDIS_PASSWORD: PASSWORD });
  expect(resolved.problems).toEqual([]);
  connection = resolved.connection!;
  state = createRedisClient(connection, 'worker');
  cleanups.push(async () => state.quit());
}, 60_000);

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  await cluster?.stop();
  console.log(`redis-cluster timings: ${JSON.stringify(timings)}`);
});

describe('oo-responder on a three-master Redis Cluster', () => {
  it('knows all three masters from the one node it was given', async () => {
    await waitFor('the cluster client', () => state.status === 'ready');
    expect(keyHoldingNodes(state).map((node) => node.options.port).sort()).toEqual(cluster.endpoints.map((endpoint) => endpoint.port).sort());
  });

  it('runs a diagnosis and a remediation through their workers, locks and at-most-once records', async () => {
    const started = Date.now();
    const queues = new OoQueues({ redis: connection, prefix: PREFIX, diagnosis: { attempts: 1 } });
    const diagnosed: string[] = [];
    const diagnosis = new DiagnosisWorker(queues, { diagnose: async (job) => healthyFinding(job.data.host), onResult: (job) => void diagnosed.push(job.data.requestId) });
    const outcomes: string[] = [];
    const remediation = new RemediationWorker(queues, {
      remediate: async (job) => verifiedOutcome(job.data.host, job.data.remediationId),
      onOutcome: (_job, report) => void outcomes.push(report.status),
    });
    // Closed at the end: the service below must be the only one taking jobs under this prefix.
    try {
      await queues.ready(10_000);
      await Promise.all([diagnosis.worker.waitUntilReady(), remediation.ready()]);

      const first = await queues.enqueueDiagnosis({ requestId: 'cluster-diag', incidentKey: 'inc_cluster', host: 'docs-c1', requestedBy: ALICE, reason: '502' });
      // A repeat joins the waiting job (BullMQ's deduplication key, in the same slot).
      const repeat = await queues.enqueueDiagnosis({ requestId: 'cluster-diag-2', incidentKey: 'inc_cluster', host: 'docs-c1', requestedBy: ALICE, reason: '502' });
      expect(repeat.jobId).toBe(first.jobId);
      const actionId = newActionId();
      const job = { requestId: 'cluster-fix', actionId, host: 'docs-c1', remediationId: 'restart_docservice', approvedBy: [ALICE], incidentKey: 'inc_cluster' };
      const fix = await queues.enqueueRemediation(job);
      await waitFor('the diagnosis', () => diagnosed.includes('cluster-diag'));
      await waitFor('the remediation', () => outcomes.length === 1);
      timings.queuePathMs = Date.now() - started;
      expect(outcomes).toEqual(['verified']);
      expect(await remediation.records.state(actionId)).toBe('verified');
      expect(await queues.remediation.getJobState(fix.jobId)).toBe('completed');
      // Enqueued again after it ran: the record stops a second run.
      await queues.enqueueRemediation({ ...job, requestId: 'cluster-fix-again' });
      await waitFor('the second job to be refused', () => outcomes.length === 2);
      expect(outcomes[1]).not.toBe('verified');
      expect(diagnosed).toEqual(['cluster-diag']);
    } finally {
      await diagnosis.close();
      await remediation.close();
      await queues.close();
    }
  });

  it('keeps incidents, pending actions, approvals waiting and the audit trail', async () => {
    const keys = keyspace(PREFIX);
    const incidents = new IncidentStore(state, keys);
    const opened = await incidents.openOrGet('inc_store', { channel: CHANNEL, host: 'docs-c1', title: 'store test', countAlert: true });
    expect(opened.created).toBe(true);
    expect((await incidents.openOrGet('inc_store', { channel: CHANNEL, countAlert: true })).incident.alerts).toBe(2);
    await incidents.setThread('inc_store', '1700000000.000100');
    await incidents.appendTimeline('inc_store', { kind: 'diagnosis', text: 'healthy' });
    expect((await incidents.listOpen()).map((incident) => incident.key)).toContain('inc_store');
    expect((await incidents.resolve('inc_store', { text: 'fixed' })).changed).toBe(true);
    expect((await incidents.listOpen()).map((incident) => incident.key)).not.toContain('inc_store');
    // What the hash tag prevents: the same store under a plain prefix puts its two keys in two slots,
    // and Redis Cluster refuses the script (which is why the configuration refuses such a prefix).
    const plain = keyspace('plain');
    expect(await state.call('CLUSTER', 'KEYSLOT', plain.incident('inc_x'))).not.toBe(await state.call('CLUSTER', 'KEYSLOT', plain.openIncidents));
    await expect(new IncidentStore(state, plain).openOrGet('inc_x', { channel: CHANNEL })).rejects.toThrow(/CROSSSLOT/);

    const actions = new PendingActionStore(state, keys);
    const id = await actions.create(restartAction({ incidentKey: 'inc_store', host: 'docs-c1', requestedBy: ALICE, channel: CHANNEL, ttlMs: 60_000 }));
    // SCAN answers for one node: the walk must visit the master that holds the prefix's slot.
    expect(await approvalsWaiting(state, `${keys.prefix}:action:`)).toMatchObject({ count: 1, truncated: false });
    expect((await actions.approve(id, ALICE, 1)).status).toBe('approved');
    expect((await approvalsWaiting(state, `${keys.prefix}:action:`)).count).toBe(0);

    const audit = new AuditLog(state, keys);
    await audit.record({ kind: 'approval', actor: ALICE, host: 'docs-c1', incidentKey: 'inc_store', action: id, outcome: 'approved' });
    expect((await audit.list({ limit: 10, incidentKey: 'inc_store' })).map((entry) => entry.outcome)).toEqual(['approved']);
  });

  it('runs oo serve on it: an alert opens one incident thread and its diagnosis is posted there', async () => {
    const standin = await SlackStandin.start({ channels: [{ id: CHANNEL, name: 'ops' }], users: [{ id: ALICE, name: 'alice' }], postMessageRate: false });
    cleanups.push(() => standin.close());
    const logs: string[] = [];
    const started = Date.now();
    const service: RunningService = await startService({
      config,
      mode: 'serve',
      host: '127.0.0.1',
      env: {
        SLACK_BOT_TOKEN: standin.botToken,
        SLACK_SIGNING_SECRET: 'standin-signing-secret-0123456789',
        SLACK_API_URL: standin.apiUrl,
        REDIS_PASSWORD: PASSWORD,
        PORT: '0',
        OO_ALERT_TOKEN: ALERT_TOKEN,
        LOG_LEVEL: 'info',
      },
      logger: createLogger({ write: (line) => logs.push(line) }),
    });
    cleanups.push(() => service.close());
    const base = `http://127.0.0.1:${service.port}`;
    expect(logs.join('\n')).toContain(`Redis: cluster via 127.0.0.1:${cluster.endpoints[0]!.port}, prefix ${PREFIX}`);
    expect(logs.join('\n')).not.toContain(PASSWORD);

    const accepted = await postAlert(base, 'alertmanager', alertmanagerBody([{ alertname: 'OnlyofficeDown', instance: '127.0.0.1:9100' }]), ALERT_TOKEN);
    expect(accepted.status).toBe(202);
    const parent = await waitFor('the incident parent message', () => standin.messages(CHANNEL)[0], { timeoutMs: 15_000 });
    expect(parent.text).toContain('OnlyofficeDown on docs-c1');
    const findings = await waitFor(
      'the findings in the thread',
      () => standin.thread(CHANNEL, parent.ts).replies.find((reply) => JSON.stringify(reply).includes('host_unreachable')),
      { timeoutMs: 20_000 },
    );
    timings.alertToFindingsMs = Date.now() - started;
    expect(findings).toBeDefined();
    expect(standin.messages(CHANNEL)).toHaveLength(1);
    const incident = (await service.incidents.listOpen()).find((open) => open.host === 'docs-c1');
    expect(incident?.threadTs).toBe(parent.ts);

    const metrics = await fetch(`${base}/metrics`).then((response) => response.text());
    expect(metrics).toMatch(/^oo_incidents_open \d+$/m);
    expect(metrics).toMatch(/^oo_approvals_waiting 0$/m);
    expect(metrics).toMatch(/^oo_queue_jobs\{queue="diagnosis",state="completed"\} \d+$/m);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
  });

  it('wrote every key in one hash slot, on one master', async () => {
    const found: { key: string; port: number | undefined }[] = [];
    for (const node of keyHoldingNodes(state)) {
      let cursor = '0';
      for (let round = 0; round < 1000; round++) {
        const [next, keys] = await node.scan(cursor, 'COUNT', 1000);
        found.push(...keys.map((key) => ({ key, port: node.options.port })));
        cursor = next;
        if (cursor === '0') break;
      }
    }
    const names = found.map((entry) => entry.key);
    expect(names.every((key) => key.startsWith(`${PREFIX}:`))).toBe(true);
    for (const part of [':q:diagnosis:', ':q:remediation:', ':alerts:stream', ':incident:', ':incidentmeta:', ':remediation:', ':audit', ':findings:']) {
      expect(names.some((key) => key.includes(part)), `a key with ${part}`).toBe(true);
    }
    expect(new Set(found.map((entry) => entry.port)).size).toBe(1);
    const slots = new Set(await Promise.all(names.slice(0, 200).map((key) => state.call('CLUSTER', 'KEYSLOT', key))));
    expect(slots.size).toBe(1);
  });
});
