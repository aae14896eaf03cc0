// /metrics, /readyz and the logs after a real incident: an Alertmanager alert for a lab host whose
// docservice is really stopped, diagnosed over SSH, fixed after a signed click and verified. The
// scrape must show exactly what happened (one alert accepted, one incident, one backend_down
// classification, one approval waiting and then none, one verified remediation, step and job
// durations), the log lines of that incident must share its ids from the webhook to the Slack post,
// and no token the service holds may appear in any log line.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab } from '../../../src/lab/index.js';
import { freeLoopbackPort } from '../../../src/testing/redis-server.js';
import {
  ALERT_TOKEN,
  ALICE,
  CHANNEL,
  SIGNING_SECRET,
  alertmanagerBody,
  buttonsOf,
  click,
  postAlert,
  slashCommand,
  startHarness,
  threadTexts,
  waitFor,
  type Harness,
} from '../slack/harness.js';

let lab: Lab;
let harness: Harness;

beforeAll(async () => {
  lab = await Lab.create();
  await lab.addHost({ name: 'ob-down', fault: 'backend_down' });
  // ob-ghost is ob-down's entry pointed at a loopback port nobody listens on: its SSH connect is refused.
  const hosts = lab.inventory();
  hosts['ob-ghost'] = { ...hosts['ob-down']!, address: '127.0.0.1', port: await freeLoopbackPort() };
  harness = await startHarness({ hosts });
}, 300_000);

afterAll(async () => {
  await harness?.close();
  await lab?.destroy();
});

async function scrape(): Promise<string> {
  const response = await fetch(`${harness.base}/metrics`);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return response.text();
}

/** The value of one series in the exposition text; undefined when the series is absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

type LogLine = Record<string, unknown> & { msg: string };
const logLines = (): LogLine[] => harness.logs.join('').split('\n').filter(Boolean).map((line) => JSON.parse(line) as LogLine);

describe('observability of one real incident', () => {
  let parentTs: string;
  let restart: ReturnType<typeof buttonsOf>[number];

  it('is ready: Redis, Slack and the workers', async () => {
    const response = await fetch(`${harness.base}/readyz`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ready', checks: { redis: 'ok', slack: 'ok', workers: 'ok' } });
  });

  it('counts the alert, the incident, the diagnosis and the approval waiting', async () => {
    const before = await scrape();
    expect(sample(before, 'oo_approvals_waiting')).toBe(0);
    expect(sample(before, 'oo_incidents_open')).toBe(0);

    const host = lab.host('ob-down');
    const unauthorized = await postAlert(harness, 'alertmanager', alertmanagerBody([{ alertname: 'OnlyofficeDown', instance: `${host.address}:9100` }]), 'wrong-token-0123456789');
    expect(unauthorized.status).toBe(401);
    const accepted = await postAlert(harness, 'alertmanager', alertmanagerBody([{ alertname: 'OnlyofficeDown', instance: `${host.address}:9100` }]));
    expect(accepted.status).toBe(202);
    parentTs = (await waitFor('the parent message', () => harness.standin.messages(CHANNEL)[0])).ts;
    const findings = await waitFor(
      'the findings with a restart button',
      () => harness.standin.thread(CHANNEL, parentTs).replies.find((reply) => buttonsOf(reply).length > 0),
      90_000,
    );
    restart = buttonsOf(findings).find((button) => button.text === 'Restart docservice')!;
    expect(restart).toBeDefined();

    // The job completes just after it posted the findings (the post runs inside it).
    const text = await waitFor('the diagnosis job completed', async () => {
      const scraped = await scrape();
      return sample(scraped, 'oo_queue_jobs{queue="diagnosis",state="completed"}') === 1 ? scraped : undefined;
    });
    expect(sample(text, 'oo_alerts_received_total{source="alertmanager"}')).toBe(1);
    expect(sample(text, 'oo_alert_requests_total{source="alertmanager",outcome="accepted"}')).toBe(1);
    expect(sample(text, 'oo_alert_requests_total{source="alertmanager",outcome="unauthorized"}')).toBe(1);
    expect(sample(text, 'oo_incidents_opened_total')).toBe(1);
    expect(sample(text, 'oo_incidents_open')).toBe(1);
    expect(sample(text, 'oo_diagnoses_total{verdict="fault"}')).toBe(1);
    expect(sample(text, 'oo_classifications_total{cause="backend_down"}')).toBe(1);
    expect(text).not.toMatch(/^oo_classifications_total\{cause="(?!backend_down)/m);
    // Every offered fix (one button each) is one pending action; none has been clicked yet.
    expect(sample(text, 'oo_approvals_waiting')).toBe(buttonsOf(findings).length);
    expect(sample(text, 'oo_approval_oldest_wait_seconds')).toBeGreaterThan(0);
    expect(sample(text, 'oo_alert_to_finding_seconds_count')).toBe(1);
    expect(sample(text, 'oo_alert_to_finding_seconds_sum')).toBeGreaterThan(0);
    expect(sample(text, 'oo_job_duration_seconds_count{queue="diagnosis",outcome="fault"}')).toBe(1);
    // The runbook's steps were timed on the host: the service status step among them.
    expect(sample(text, 'oo_step_duration_seconds_count{step="service_status"}')).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'oo_queue_jobs{queue="diagnosis",state="failed"}')).toBe(0);
    expect(sample(text, 'oo_remediations_total{status="verified"}')).toBeUndefined();
    expect(sample(text, 'oo_ssh_connect_failures_total{reason="refused"}')).toBeUndefined();
    expect(sample(text, 'oo_metrics_collector_errors')).toBe(0);
  }, 120_000);

  it('counts one verified remediation after the click, and nothing waits any more', async () => {
    const waitingBefore = sample(await scrape(), 'oo_approvals_waiting')!;
    expect((await click(harness, ALICE, restart)).status).toBe(200);
    await waitFor(
      'the verified result in the thread',
      () => threadTexts(harness, parentTs).find((line) => line.includes('verified') && line.includes('Restart docservice')),
      90_000,
    );
    await waitFor('the incident resolved', async () => ((await harness.service.incidents.listOpen()).length === 0 ? true : undefined));
    const text = await scrape();
    expect(sample(text, 'oo_remediations_total{status="verified"}')).toBe(1);
    expect(text).not.toMatch(/^oo_remediations_total\{status="(?!verified)/m);
    expect(sample(text, 'oo_job_duration_seconds_count{queue="remediation",outcome="verified"}')).toBe(1);
    expect(sample(text, 'oo_approval_clicks_total{result="queued"}')).toBe(1);
    expect(sample(text, 'oo_approvals_waiting')).toBe(waitingBefore - 1);
    expect(sample(text, 'oo_incidents_open')).toBe(0);
    // The job completes just after it reported (the report runs inside it).
    const settled = await waitFor('the remediation job completed', async () => {
      const again = await scrape();
      return sample(again, 'oo_queue_jobs{queue="remediation",state="completed"}') === 1 ? again : undefined;
    });
    expect(sample(settled, 'oo_queue_jobs{queue="remediation",state="failed"}')).toBe(0);
    expect(sample(settled, 'oo_queue_jobs{queue="remediation",state="active"}')).toBe(0);
  }, 120_000);

  it('counts a refused SSH connection by its reason', async () => {
    expect((await slashCommand(harness, ALICE, 'diagnose ob-ghost')).status).toBe(200);
    const text = await waitFor('the refused connection counted', async () => {
      const scraped = await scrape();
      return sample(scraped, 'oo_diagnoses_total{verdict="unreachable"}') === 1 ? scraped : undefined;
    }, 30_000, 250);
    expect(sample(text, 'oo_ssh_connect_failures_total{reason="refused"}')).toBe(1);
    expect(sample(text, 'oo_classifications_total{cause="host_unreachable"}')).toBe(1);
    // The alert's diagnosis is still the only backend_down one, and a command is no alert.
    expect(sample(text, 'oo_classifications_total{cause="backend_down"}')).toBe(1);
    expect(sample(text, 'oo_alert_to_finding_seconds_count')).toBe(1);
  }, 60_000);

  it('logs the incident with one request id from the webhook through the job to the Slack post', () => {
    const lines = logLines();
    const accepted = lines.filter((line) => line.msg === 'alerts accepted');
    expect(accepted.length).toBe(1);
    const alertRequestId = accepted[0]!.requestId as string;
    expect(alertRequestId).toMatch(/^[0-9a-f]{24}$/);

    const opened = lines.find((line) => line.msg === 'incident opened; diagnosis queued');
    expect(opened).toMatchObject({ alertRequestId, host: 'ob-down' });
    const incident = opened!.incident as string;
    const requestId = opened!.requestId as string;
    expect(requestId).toMatch(/^[0-9a-f]{24}$/);

    const started = lines.find((line) => line.msg === 'diagnosis started');
    const posted = lines.find((line) => line.msg === 'findings posted to Slack');
    expect(started).toMatchObject({ incident, requestId, host: 'ob-down' });
    expect(posted).toMatchObject({ incident, requestId, verdict: 'fault', cause: 'backend_down' });
    // The Slack post it names is the findings message that carried the button.
    expect(posted!.slackTs).toBe(restart.messageTs);
    // The remediation's lines belong to the same incident.
    const remediation = lines.filter((line) => line.msg === 'remediation started' || line.msg === 'remediation finished');
    expect(remediation.map((line) => line.incident)).toEqual([incident, incident]);
    expect(remediation[1]).toMatchObject({ status: 'verified', remediation: 'restart_docservice' });
  });

  it('never writes a token or secret the service holds into its logs', () => {
    const raw = harness.logs.join('');
    expect(raw.length).toBeGreaterThan(0);
    for (const secret of [harness.standin.botToken, SIGNING_SECRET, ALERT_TOKEN]) expect(raw).not.toContain(secret);
  });

  it('says not ready while Slack fails, ready again after, and not ready once the workers stopped', async () => {
    const readyz = async () => {
      const response = await fetch(`${harness.base}/readyz`);
      return { status: response.status, body: (await response.json()) as { checks: Record<string, string> } };
    };
    harness.standin.injectFault({ kind: 'server_error', status: 503, method: 'auth.test', count: 1000 });
    // The Slack answer is reused for a few seconds, so the change shows within that.
    const failing = await waitFor('readyz to report Slack', async () => {
      const answer = await readyz();
      return answer.status === 503 ? answer : undefined;
    }, 20_000, 250);
    expect(failing.body.checks).toMatchObject({ redis: 'ok', workers: 'ok' });
    expect(failing.body.checks.slack).toMatch(/^unreachable/);
    harness.standin.clearFaults();
    await waitFor('readyz ready again', async () => ((await readyz()).status === 200 ? true : undefined), 20_000, 250);

    await harness.service.workers.close();
    const stopped = await readyz();
    expect(stopped.status).toBe(503);
    expect(stopped.body.checks).toEqual({ redis: 'ok', slack: 'ok', workers: 'stopped' });
  }, 60_000);
});
