/**
 * Alert storm (`npm run bench:storm`): N alerts for H real lab hosts (each broken for real) sent as
 * Alertmanager webhooks spread evenly over S seconds, into the running service with the product's
 * defaults, against a Slack stand-in that allows one message a second per channel as Slack does.
 * Counts, from the service's incidents and the stand-in's records: threads (parent messages), messages
 * per channel per second (max and mean), alerts lost (accepted by the webhook but not counted on an
 * incident), and the time until every incident has its findings in its thread. See bench/README.md.
 */
import os from 'node:os';
import path from 'node:path';

import { FAULT_CAUSE, Lab, type LabFault, type LabHost } from '../lab/index.js';
import { alertmanagerBody } from '../testing/slack-requests.js';
import { isMain, log, pollFor, RESULTS_DIR, runMain, sleep, writeResults, type BenchContext } from './main-runner.js';
import { CHANNEL, findingsReply, startServiceRig } from './service-rig.js';
import { intOption, jsonOutOption, machineInfo, markdownTable, parseStringOptions, perSecond, type RateSummary } from './stats.js';

export const STORM_USAGE = `usage: node dist/bench/storm.js [--alerts N] [--hosts H] [--seconds S] [--per-body B] [--json-out FILE]
  --alerts N      alerts to send (1..20000, default 1000)
  --hosts H       lab hosts the alerts name, each broken for real (1..100, default 20)
  --seconds S     the alerts are spread evenly over this many seconds (0..600, default 10)
  --per-body B    alerts per webhook body, as Alertmanager groups them (1..100, default 5)
  --json-out FILE default bench/results/storm.json; the Markdown table goes next to it (.md)
Needs root and the lab's Debian packages. Exit 0: measured with no alert lost and findings in every
incident; 1: alerts were lost, an incident got no findings, or the run failed; 2: bad usage.`;

const FAULTS: readonly LabFault[] = ['backend_down', 'wrong_upstream_port', 'nginx_config_invalid'];
/** Distinct alerts (fingerprints) per host: a host's probes, each firing again and again in the storm. */
const PROBES_PER_HOST = 10;
const COUNT_TIMEOUT_MS = 600_000;
const FINDINGS_TIMEOUT_MS = 600_000;

export interface StormArgs {
  alerts: number;
  hosts: number;
  seconds: number;
  perBody: number;
  jsonOut: string;
  help: boolean;
}

export function parseStormArgs(argv: readonly string[]): StormArgs {
  const { values, help } = parseStringOptions(argv, ['alerts', 'hosts', 'seconds', 'per-body', 'json-out']);
  return {
    alerts: intOption('alerts', values.alerts, 1, 20_000, 1000),
    hosts: intOption('hosts', values.hosts, 1, 100, 20),
    seconds: intOption('seconds', values.seconds, 0, 600, 10),
    perBody: intOption('per-body', values['per-body'], 1, 100, 5),
    jsonOut: jsonOutOption(values['json-out'], path.join(RESULTS_DIR, 'storm.json')),
    help,
  };
}

export interface StormReport {
  benchmark: 'alert storm';
  startedAt: string;
  finishedAt: string;
  machine: Record<string, string | number>;
  settings: Record<string, string | number>;
  labStartupMs: number;
  sending: { bodies: number; alertsSent: number; alertsAccepted: number; bodiesRefused: number; sendingMs: number; answerMsMax: number };
  incidents: { expected: number; opened: number; threads: number; alertsCounted: number; alertsLost: number; diagnosisJobs: Record<string, number> };
  /** From the first alert sent until every incident's findings were stored; and from the last alert sent. */
  allFindingsMs: number | null;
  allFindingsAfterLastAlertMs: number | null;
  allCountedMs: number | null;
  causesNamed: number;
  slack: {
    postMessage: RateSummary;
    postMessageRateLimited: number;
    update: RateSummary;
    /** Every message the service tried to post was stored (none dropped after 429s). */
    delivered: number;
    stored: number;
  };
  serviceMaxRssKiB: number | null;
  valid: boolean;
}

export async function runStormBenchmark(args: StormArgs, context: BenchContext): Promise<StormReport> {
  const startedAt = new Date();
  const loadAtStart = os.loadavg()[0]!;
  const lab = await Lab.create();
  context.onCleanup(() => lab.destroy());
  try {
    log(`starting ${args.hosts} broken lab hosts …`);
    const labStarted = Date.now();
    const labHosts: { host: LabHost; fault: LabFault }[] = [];
    const made = await lab.addHosts(args.hosts, { light: true, namePrefix: 'storm-', concurrency: 8 });
    for (const [index, host] of made.entries()) {
      const fault = FAULTS[index % FAULTS.length]!;
      await host.breakWith(fault);
      labHosts.push({ host, fault });
    }
    const labStartupMs = Date.now() - labStarted;
    log(`lab ready in ${labStartupMs} ms`);
    const rig = await startServiceRig({ hosts: lab.inventory() });
    context.onCleanup(() => rig.close());
    try {
      // The storm: alert n names host n mod H; each host has PROBES_PER_HOST distinct alerts (fingerprints).
      const bodies: ReturnType<typeof alertmanagerBody>[] = [];
      const startsAt = new Date(Date.now() - 60_000).toISOString();
      for (let first = 0; first < args.alerts; first += args.perBody) {
        const alerts = [];
        for (let n = first; n < Math.min(args.alerts, first + args.perBody); n += 1) {
          const hostIndex = n % args.hosts;
          const probe = Math.floor(n / args.hosts) % PROBES_PER_HOST;
          alerts.push({
            alertname: 'OnlyofficeDown',
            instance: `${labHosts[hostIndex]!.host.address}:9100`,
            startsAt,
            fingerprint: `${hostIndex.toString(16).padStart(8, '0')}${probe.toString(16).padStart(8, '0')}`,
          });
        }
        bodies.push(alertmanagerBody(alerts));
      }
      const everyMs = bodies.length > 1 ? (args.seconds * 1000) / bodies.length : 0;
      log(`sending ${args.alerts} alerts in ${bodies.length} webhook bodies over ${args.seconds} s …`);
      const firstSentAt = Date.now();
      let answerMsMax = 0;
      const answers: Promise<{ status: number; alerts: number }>[] = [];
      for (const [index, body] of bodies.entries()) {
        const due = firstSentAt + index * everyMs;
        const wait = due - Date.now();
        if (wait > 0) await sleep(wait);
        const sent = Date.now();
        answers.push(
          rig.alert(body).then(
            (answer) => {
              answerMsMax = Math.max(answerMsMax, Date.now() - sent);
              return { status: answer.status, alerts: body.alerts.length };
            },
            () => ({ status: 0, alerts: body.alerts.length }),
          ),
        );
      }
      const settled = await Promise.all(answers);
      const lastSentAt = Date.now();
      const accepted = settled.filter((answer) => answer.status === 202).reduce((sum, answer) => sum + answer.alerts, 0);
      log(`sent in ${lastSentAt - firstSentAt} ms; ${accepted} alerts accepted`);

      // Every accepted alert counted on an incident.
      const counted = await pollFor(async () => {
        const { incidents } = await rig.incidents();
        const sum = incidents.reduce((total, incident) => total + incident.alerts, 0);
        return sum >= accepted ? { at: Date.now(), incidents } : undefined;
      }, COUNT_TIMEOUT_MS, 100);
      // Every incident's findings in its thread (the incidents are read again: a thread may be pending).
      const hostFault = new Map(labHosts.map(({ host, fault }) => [host.name, fault]));
      let causesNamed = 0;
      let incidents = counted?.incidents ?? (await rig.incidents()).incidents;
      let lastFindingsAt: number | null = null;
      const allFound = await pollFor(async () => {
        incidents = (await rig.incidents()).incidents;
        let named = 0;
        let last = 0;
        for (const incident of incidents) {
          if (!incident.threadTs || !incident.host) return undefined;
          const findings = findingsReply(rig.standin.thread(CHANNEL, incident.threadTs).replies, incident.host);
          if (!findings) return undefined;
          last = Math.max(last, findings.postedAt);
          if (JSON.stringify(findings.blocks ?? []).includes(`\`${FAULT_CAUSE[hostFault.get(incident.host)!]}\``)) named += 1;
        }
        causesNamed = named;
        // The stored time of the last findings message, rather than when the poll noticed it.
        lastFindingsAt = last;
        return incidents.length > 0 ? true : undefined;
      }, FINDINGS_TIMEOUT_MS, 100);
      const alertsCounted = incidents.reduce((total, incident) => total + incident.alerts, 0);
      log(allFound === null ? 'not every incident got findings in time' : `every incident has findings ${(lastFindingsAt ?? firstSentAt) - firstSentAt} ms after the first alert`);
      await rig.outboxIdle(120_000);
      const { diagnosisJobs } = await rig.incidents();

      const posts = rig.standin.callsTo('chat.postMessage').filter((call) => call.args.channel === CHANNEL);
      const delivered = posts.filter((call) => call.status === 200 && call.error === undefined);
      const parents = rig.standin.messages(CHANNEL);
      const stored = parents.length + parents.reduce((sum, parent) => sum + rig.standin.thread(CHANNEL, parent.ts).replies.length, 0);
      const updates = rig.standin.callsTo('chat.update').filter((call) => call.args.channel === CHANNEL && call.status === 200 && call.error === undefined);
      const closed = await rig.close();
      const report: StormReport = {
        benchmark: 'alert storm',
        startedAt: startedAt.toISOString(),
        finishedAt: new Date().toISOString(),
        machine: machineInfo(loadAtStart),
        settings: {
          alerts: args.alerts,
          hosts: args.hosts,
          seconds: args.seconds,
          alertsPerBody: args.perBody,
          distinctAlertsPerHost: PROBES_PER_HOST,
          faults: FAULTS.join(', '),
          service: 'oo.yaml defaults (workers.diagnosisConcurrency 4, slack.postEveryMs 1100, alerts.repeatWindowMs 60000)',
          standin: 'chat.postMessage 1/s per channel, burst 3 (as Slack: short bursts allowed)',
        },
        labStartupMs,
        sending: {
          bodies: bodies.length,
          alertsSent: args.alerts,
          alertsAccepted: accepted,
          bodiesRefused: settled.filter((answer) => answer.status !== 202).length,
          sendingMs: lastSentAt - firstSentAt,
          answerMsMax,
        },
        incidents: {
          expected: args.hosts,
          opened: incidents.length,
          threads: parents.length,
          alertsCounted,
          alertsLost: Math.max(0, accepted - alertsCounted),
          diagnosisJobs,
        },
        allFindingsMs: lastFindingsAt === null ? null : lastFindingsAt - firstSentAt,
        allFindingsAfterLastAlertMs: lastFindingsAt === null ? null : lastFindingsAt - lastSentAt,
        allCountedMs: counted === null ? null : counted.at - firstSentAt,
        causesNamed,
        slack: {
          postMessage: perSecond(delivered.map((call) => call.at)),
          postMessageRateLimited: posts.filter((call) => call.status === 429).length,
          update: perSecond(updates.map((call) => call.at)),
          delivered: delivered.length,
          stored,
        },
        serviceMaxRssKiB: closed.maxRssKiB,
        valid: false,
      };
      report.valid =
        report.sending.alertsAccepted === args.alerts &&
        report.incidents.alertsLost === 0 &&
        report.incidents.threads === args.hosts &&
        lastFindingsAt !== null &&
        causesNamed === incidents.length;
      return report;
    } finally {
      await rig.close();
    }
  } finally {
    await lab.destroy();
  }
}

export function renderStormMarkdown(report: StormReport): string {
  const post = report.slack.postMessage;
  return [
    `# Alert storm: ${report.settings.alerts} alerts, ${report.settings.hosts} hosts, ${report.settings.seconds} s`,
    '',
    `${report.startedAt} · ${report.machine.cpus} CPUs (${report.machine.cpuModel}), ${report.machine.memoryGiB} GiB, Node ${report.machine.node}, ` +
      `load average ${report.machine.loadAverage1mAtStart} at start, ${report.machine.loadAverage1mAtEnd} at end · ${report.sending.bodies} webhook bodies of ` +
      `${report.settings.alertsPerBody} alerts, sent in ${report.sending.sendingMs} ms · service: ${report.settings.service} · stand-in: ${report.settings.standin}` +
      (report.valid ? '' : ' · **some check failed (see JSON)**'),
    '',
    markdownTable(
      ['measure', 'value'],
      [
        ['alerts accepted (202) / sent', `${report.sending.alertsAccepted} / ${report.sending.alertsSent}`],
        ['alerts lost (accepted, not counted on an incident)', report.incidents.alertsLost],
        ['threads (parent messages) / hosts', `${report.incidents.threads} / ${report.incidents.expected}`],
        ['diagnoses run (completed jobs)', report.incidents.diagnosisJobs.completed ?? 0],
        ['findings naming the host\'s real cause', `${report.causesNamed} / ${report.incidents.opened}`],
        ['chat.postMessage per channel per second, max / mean', `${post.maxPerSecond} / ${post.meanPerSecond} (${post.total} in ${post.seconds} s)`],
        ['chat.postMessage answered 429 (sent again later)', report.slack.postMessageRateLimited],
        ['chat.update per second, max / mean', `${report.slack.update.maxPerSecond} / ${report.slack.update.meanPerSecond}`],
        ['every alert counted, ms after the first alert', report.allCountedMs],
        ['every incident has findings, ms after the first alert', report.allFindingsMs],
        ['… ms after the last alert (negative: before the storm ended)', report.allFindingsAfterLastAlertMs],
        ['slowest webhook answer, ms', report.sending.answerMsMax],
        ['service peak RSS MiB', report.serviceMaxRssKiB === null ? null : (report.serviceMaxRssKiB / 1024).toFixed(1)],
      ],
    ),
    '',
  ].join('\n');
}

if (isMain(import.meta.url)) {
  runMain('bench:storm', STORM_USAGE, async (argv, context) => {
    const args = parseStormArgs(argv);
    if (args.help) {
      process.stdout.write(`${STORM_USAGE}\n`);
      return 0;
    }
    const report = await runStormBenchmark(args, context);
    const wrote = await writeResults(args.jsonOut, report, renderStormMarkdown(report));
    process.stdout.write(`${renderStormMarkdown(report)}\n${wrote}\n`);
    return report.valid ? 0 : 1;
  });
}
