// `oo worker` processes (bin/oo.js, one oo.yaml, one Redis) losing a member mid-job. Jobs are queued
// here exactly as the bot queues them (an incident with its Slack thread, then the diagnosis job; a
// pending action approved and claimed, then the remediation job), so that only worker processes can
// pick them up and the one that does is the one the test stops.
//  - SIGKILL during a diagnosis (a lab host whose docservice answers 5 s late, so the probe is slow):
//    BullMQ's stalled-job check hands the job to the other worker, which completes and posts it once.
//  - SIGTERM during a remediation: the worker stops taking work, finishes the fix and its report, then
//    exits 0; the other worker never runs it; the audit shows one run, verified.
import { randomBytes } from 'node:crypto';
import { WebClient } from '@slack/web-api';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IncidentStore } from '../../../src/incidents/store.js';
import { Lab } from '../../../src/lab/index.js';
import { keyspace } from '../../../src/queue/keys.js';
import { OoQueues } from '../../../src/queue/queues.js';
import { PendingActionStore } from '../../../src/remediation/actions.js';
import { AuditLog } from '../../../src/remediation/audit.js';
import { buttonsOf, waitFor } from '../../../src/testing/slack-requests.js';
import { restartAction } from '../queue/helpers.js';
import { ALICE, CHANNEL, Cluster, type OoProcess } from './cluster.js';

let lab: Lab;
let cluster: Cluster;
let redis: Redis;
let queues: OoQueues;

beforeAll(async () => {
  lab = await Lab.create();
  await Promise.all([lab.addHost({ name: 'sc-slow', fault: 'upstream_timeout' }), lab.addHost({ name: 'sc-term', fault: 'backend_down' })]);
  cluster = await Cluster.start({ hosts: lab.inventory(), serves: 0, workers: 2 });
  redis = cluster.client();
  queues = new OoQueues({ redisUrl: cluster.redis.url, prefix: cluster.prefix });
  await queues.ready(10_000);
}, 300_000);

afterAll(async () => {
  await queues?.close();
  redis?.disconnect();
  await cluster?.close();
  await lab?.destroy();
});

/** Opens an incident with a parent message in the stand-in's channel, as the bot does. */
async function openIncident(key: string, host: string): Promise<string> {
  const web = new WebClient(cluster.standin.botToken, { slackApiUrl: cluster.standin.apiUrl });
  const parent = await web.chat.postMessage({ channel: CHANNEL, text: `scale test incident on ${host}` });
  const incidents = new IncidentStore(redis, keyspace(cluster.prefix));
  await incidents.openOrGet(key, { channel: CHANNEL, host, title: 'scale test' });
  await incidents.setThread(key, parent.ts!);
  return parent.ts!;
}

/** The first worker whose log has a line with this message about this host (polled, bounded). */
async function workerLogging(msg: string, host: string, timeoutMs: number): Promise<OoProcess> {
  return waitFor(`a worker logging "${msg}" for ${host}`, () => cluster.processes.find((p) => p.logs().some((line) => line.msg === msg && line.host === host)), timeoutMs, 20);
}

describe('worker processes that stop mid-job', () => {
  it('hand a diagnosis whose worker was SIGKILLed to the other worker, which completes it once', async () => {
    const key = 'man_scale_kill';
    const parentTs = await openIncident(key, 'sc-slow');
    const requestId = randomBytes(12).toString('hex');
    await queues.enqueueDiagnosis({ requestId, incidentKey: key, host: 'sc-slow', requestedBy: ALICE, reason: 'scale test: SIGKILL' });

    const victim = await workerLogging('diagnosis started', 'sc-slow', 30_000);
    victim.child.kill('SIGKILL');
    const exit = await victim.exit();
    expect(exit.signal).toBe('SIGKILL');
    // It died mid-diagnosis: nothing was posted for it.
    expect(victim.logs().some((line) => line.msg === 'findings posted to Slack')).toBe(false);
    expect(cluster.standin.thread(CHANNEL, parentTs).replies.filter((reply) => buttonsOf(reply).length > 0)).toHaveLength(0);

    const survivor = cluster.processes.find((p) => p !== victim)!;
    // The job's lock (30 s) must lapse before the stalled-job check gives it to the survivor.
    const posted = await waitFor(
      'the survivor posting the findings',
      () => survivor.logs().find((line) => line.msg === 'findings posted to Slack' && line.host === 'sc-slow'),
      120_000,
      200,
    );
    expect(posted).toMatchObject({ requestId, incident: key, verdict: 'fault', cause: 'upstream_timeout' });
    const job = await queues.diagnosis.getJob(`d_${requestId}`);
    expect(await job?.getState()).toBe('completed');
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const findings = cluster.standin.thread(CHANNEL, parentTs).replies.filter((reply) => buttonsOf(reply).length > 0);
    expect(findings).toHaveLength(1);
    expect(JSON.stringify(findings[0]!.blocks)).toContain('upstream_timeout');
    // Replace the killed worker so the next test again has two.
    cluster.processes.splice(cluster.processes.indexOf(victim), 1, await cluster.spawn('worker', 'worker-3'));
  }, 180_000);

  it('let a worker SIGTERMed during a remediation finish it and record it, and never run it twice', async () => {
    const key = 'man_scale_term';
    await openIncident(key, 'sc-term');
    const actions = new PendingActionStore(redis, keyspace(cluster.prefix));
    const actionId = await actions.create(restartAction({ incidentKey: key, host: 'sc-term', requestedBy: ALICE, channel: CHANNEL, ttlMs: 600_000 }));
    expect((await actions.approve(actionId, ALICE, 1)).status).toBe('approved');
    expect(await actions.claim(actionId)).toBe('claimed');
    const requestId = randomBytes(12).toString('hex');
    await queues.enqueueRemediation({ requestId, actionId, host: 'sc-term', remediationId: 'restart_docservice', approvedBy: [ALICE], incidentKey: key });

    const stopping = await workerLogging('remediation started', 'sc-term', 30_000);
    stopping.child.kill('SIGTERM');
    const exit = await stopping.exit();
    expect(exit).toEqual({ code: 0, signal: null });
    // It finished the fix (and its report) before it exited.
    const finished = stopping.logs().find((line) => line.msg === 'remediation finished' && line.host === 'sc-term');
    expect(finished).toMatchObject({ status: 'verified', requestId, incident: key });
    expect(stopping.output()).toContain('SIGTERM received, finishing running work');

    // Give the other worker every chance to (wrongly) run it again: past a stalled-check interval.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const others = cluster.processes.filter((p) => p !== stopping);
    expect(others.flatMap((p) => p.logs().filter((line) => line.msg === 'remediation started'))).toHaveLength(0);
    const audit = await new AuditLog(redis, keyspace(cluster.prefix)).list({ limit: 200, host: 'sc-term' });
    expect(audit.filter((entry) => entry.kind === 'remediation' && entry.action === 'restart_docservice')).toHaveLength(1);
    expect(audit.some((entry) => entry.kind === 'verification' && entry.outcome === 'verified')).toBe(true);
    expect(await actions.get(actionId)).toMatchObject({ status: 'done', result: 'verified' });
    expect(await (await queues.remediation.getJob(`r_${requestId}`))?.getState()).toBe('completed');
    expect((await lab.host('sc-term').exec(['supervisorctl', 'status', 'ds:docservice'])).stdout).toContain('RUNNING');
  }, 120_000);
});
