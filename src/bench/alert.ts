/**
 * Alert to finding (`npm run bench:alert`): Alertmanager's webhook (bearer token, as the endpoint
 * requires) reaches the running service; the time is measured until the findings message — the thread
 * reply naming the cause — is stored by the Slack stand-in. Real lab hosts, each broken for real; the
 * service is one long-lived process whose SSH pool is warmed by one untimed incident per host and kept
 * between incidents (its idle timeout is 120 s). Every incident is a new one (a new alert rule name),
 * so it opens its own thread; it is resolved by Alertmanager's "resolved" once its findings are in,
 * and the next one starts when the service's Slack outbox is idle again.
 *
 * Two modes: "paced" is the product's defaults against a Slack that allows one message a second per
 * channel (the outbox sends bursts of 2, then one post per 1.1 s; a quick diagnosis posts no status
 * message, so parent and findings go out back to back); "unpaced" turns the spacing
 * and the stand-in's limit off, leaving the service's own latency. See bench/README.md.
 */
import os from 'node:os';
import path from 'node:path';

import { FAULT_CAUSE, Lab, type LabFault, type LabHost } from '../lab/index.js';
import { alertmanagerBody } from '../testing/slack-requests.js';
import { isMain, log, pollFor, sleep, RESULTS_DIR, runMain, writeResults, type BenchContext } from './main-runner.js';
import { CHANNEL, findingsReply, startServiceRig, type ServiceRig } from './service-rig.js';
import { distribution, intOption, jsonOutOption, machineInfo, markdownTable, parseStringOptions, type Distribution } from './stats.js';
import { UsageError } from './report.js';

export const ALERT_USAGE = `usage: node dist/bench/alert.js [--incidents N] [--hosts H] [--mode paced|unpaced|both] [--json-out FILE]
  --incidents N   timed incidents per mode (1..1000, default 50)
  --hosts H       lab hosts, each broken with one of ${'backend_down, wrong_upstream_port, nginx_config_invalid'} in turn (1..12, default 3)
  --mode M        paced (Slack's pacing), unpaced (the service's own latency) or both (default both)
  --json-out FILE default bench/results/alert.json; the Markdown table goes next to it (.md)
Needs root and the lab's Debian packages. Exit 0: measured (every incident got findings naming its cause);
1: some incident did not, or the run failed; 2: bad usage.`;

/** Faults a light lab host can have whose diagnosis finishes without waiting for a timeout. */
const FAULTS: readonly LabFault[] = ['backend_down', 'wrong_upstream_port', 'nginx_config_invalid'];
const FINDINGS_TIMEOUT_MS = 60_000;
const TARGET_P50_MS = 1000;

export type AlertMode = 'paced' | 'unpaced';

export interface AlertArgs {
  incidents: number;
  hosts: number;
  modes: AlertMode[];
  jsonOut: string;
  help: boolean;
}

export function parseAlertArgs(argv: readonly string[]): AlertArgs {
  const { values, help } = parseStringOptions(argv, ['incidents', 'hosts', 'mode', 'json-out']);
  const mode = values.mode ?? 'both';
  if (!['paced', 'unpaced', 'both'].includes(mode)) throw new UsageError(`--mode must be paced, unpaced or both, got ${JSON.stringify(mode)}`);
  return {
    incidents: intOption('incidents', values.incidents, 1, 1000, 50),
    hosts: intOption('hosts', values.hosts, 1, 12, 3),
    modes: mode === 'both' ? ['paced', 'unpaced'] : [mode as AlertMode],
    jsonOut: jsonOutOption(values['json-out'], path.join(RESULTS_DIR, 'alert.json')),
    help,
  };
}

export interface IncidentRecord {
  index: number;
  host: string;
  fault: LabFault;
  alertname: string;
  /** Webhook answered 202 (ms from sending). */
  acceptedMs: number;
  /** The parent message stored by the stand-in. */
  parentMs: number | null;
  /** The findings reply stored by the stand-in. */
  findingsMs: number | null;
  /** The cause the findings name first (from the message's fallback text). */
  findingsText: string | null;
  causeExpected: string;
  causeNamed: boolean;
  /** SSH connections the service opened during this incident (sockets to port 22 not seen before). */
  sshConnectionsOpened: number;
  error?: string;
}

export interface AlertModeReport {
  mode: AlertMode;
  settings: Record<string, unknown>;
  warmup: IncidentRecord[];
  incidents: IncidentRecord[];
  findingsMs: Distribution;
  parentMs: Distribution;
  acceptedMs: Distribution;
  /** Connections opened over all timed incidents: 0 when the pool kept them. */
  sshConnectionsOpenedTimed: number;
  serviceMaxRssKiB: number | null;
  allFindingsWithCause: boolean;
  target: { description: string; status: 'PASS' | 'FAIL' | 'VOID' };
}

export interface AlertReport {
  benchmark: 'alert to findings';
  startedAt: string;
  finishedAt: string;
  machine: Record<string, string | number>;
  hosts: { name: string; fault: LabFault; cause: string }[];
  incidentsPerMode: number;
  labStartupMs: number;
  modes: AlertModeReport[];
  valid: boolean;
}

/**
 * A lone alert finds its channel at rest: the outbox's burst allowance (2 posts, refilled at one per
 * 1.1 s) is whole again this long after the previous incident's last post. Incidents that come faster
 * than that share the channel's budget; the storm benchmark measures that case.
 */
const CHANNEL_AT_REST_MS = 2500;

function modeSettings(mode: AlertMode) {
  return mode === 'paced'
    ? { slack: {}, postMessageRate: undefined, gapMs: CHANNEL_AT_REST_MS, describe: { outboxPostEveryMs: 1100, outboxPostBurst: 2, standinPostMessageRate: '1/s per channel, burst 3 (Slack: 1/s, short bursts allowed)', gapBetweenIncidentsMs: CHANNEL_AT_REST_MS } }
    : { slack: { postEveryMs: 0 }, postMessageRate: false as const, gapMs: 0, describe: { outboxPostEveryMs: 0, outboxPostBurst: 2, standinPostMessageRate: 'off', gapBetweenIncidentsMs: 0 } };
}

async function runIncident(
  rig: ServiceRig,
  index: number,
  alertname: string,
  host: LabHost,
  fault: LabFault,
  seenSockets: Set<string>,
  gapMs: number,
): Promise<IncidentRecord> {
  const instance = `${host.address}:9100`;
  const cause = FAULT_CAUSE[fault];
  const record: IncidentRecord = {
    index,
    host: host.name,
    fault,
    alertname,
    acceptedMs: 0,
    parentMs: null,
    findingsMs: null,
    findingsText: null,
    causeExpected: cause,
    causeNamed: false,
    sshConnectionsOpened: 0,
  };
  const sentAt = Date.now();
  const accepted = await rig.alert(alertmanagerBody([{ alertname, instance, startsAt: new Date(sentAt - 1000).toISOString() }]));
  record.acceptedMs = Date.now() - sentAt;
  if (accepted.status !== 202) {
    record.error = `the webhook answered ${accepted.status}: ${JSON.stringify(accepted.body)}`;
    return record;
  }
  const found = await pollFor(() => {
    const parent = rig.standin.messages(CHANNEL).find((message) => message.text.includes(alertname));
    if (!parent) return undefined;
    const findings = findingsReply(rig.standin.thread(CHANNEL, parent.ts).replies, host.name);
    return findings ? { parent, findings } : undefined;
  }, FINDINGS_TIMEOUT_MS);
  for (const socket of rig.sshSockets()) {
    if (!seenSockets.has(socket)) {
      seenSockets.add(socket);
      record.sshConnectionsOpened += 1;
    }
  }
  if (!found) {
    record.error = `no findings within ${FINDINGS_TIMEOUT_MS} ms`;
    return record;
  }
  record.parentMs = found.parent.postedAt - sentAt;
  record.findingsMs = found.findings.postedAt - sentAt;
  record.findingsText = found.findings.text;
  record.causeNamed = JSON.stringify(found.findings.blocks ?? []).includes(`\`${cause}\``);
  // Close the incident as Alertmanager would, and let the service say so before the next one.
  await rig.alert(alertmanagerBody([{ alertname, instance, status: 'resolved', startsAt: new Date(sentAt - 1000).toISOString() }]));
  await pollFor(async () => ((await rig.incidents()).incidents.some((incident) => incident.threadTs === found.parent.ts) ? undefined : true), 30_000, 50);
  await rig.outboxIdle(30_000);
  // The next alert should find the channel at rest, as a lone alert does (see CHANNEL_AT_REST_MS).
  if (gapMs > 0) await sleep(gapMs);
  return record;
}

async function runMode(mode: AlertMode, args: AlertArgs, lab: Lab, hosts: { host: LabHost; fault: LabFault }[], context: BenchContext): Promise<AlertModeReport> {
  const settings = modeSettings(mode);
  const rig = await startServiceRig({
    hosts: lab.inventory(),
    slack: settings.slack,
    ...(settings.postMessageRate !== undefined ? { postMessageRate: settings.postMessageRate } : {}),
  });
  context.onCleanup(() => rig.close());
  try {
    const seen = new Set<string>();
    const tag = mode === 'paced' ? 'P' : 'U';
    const warmup: IncidentRecord[] = [];
    log(`${mode}: warm-up, one untimed incident per host (opens the service's SSH connections)`);
    for (const [index, { host, fault }] of hosts.entries()) {
      if (context.signal.aborted) throw new Error('interrupted');
      warmup.push(await runIncident(rig, index, `Docs502${tag}w${String(index).padStart(4, '0')}`, host, fault, seen, settings.gapMs));
    }
    const incidents: IncidentRecord[] = [];
    for (let index = 0; index < args.incidents; index += 1) {
      if (context.signal.aborted) throw new Error('interrupted');
      const { host, fault } = hosts[index % hosts.length]!;
      const record = await runIncident(rig, index, `Docs502${tag}i${String(index).padStart(4, '0')}`, host, fault, seen, settings.gapMs);
      incidents.push(record);
      if (index % 10 === 9 || record.error) {
        log(`  ${mode} ${index + 1}/${args.incidents}: ${record.host} findings ${record.findingsMs ?? '—'} ms${record.error ? ` (${record.error})` : ''}`);
      }
    }
    const closed = await rig.close();
    const findingsMs = distribution(incidents.flatMap((record) => (record.findingsMs === null ? [] : [record.findingsMs])));
    const allFindingsWithCause = incidents.every((record) => record.findingsMs !== null && record.causeNamed) && warmup.every((record) => record.causeNamed);
    return {
      mode,
      settings: settings.describe,
      warmup,
      incidents,
      findingsMs,
      parentMs: distribution(incidents.flatMap((record) => (record.parentMs === null ? [] : [record.parentMs]))),
      acceptedMs: distribution(incidents.map((record) => record.acceptedMs)),
      sshConnectionsOpenedTimed: incidents.reduce((sum, record) => sum + record.sshConnectionsOpened, 0),
      serviceMaxRssKiB: closed.maxRssKiB,
      allFindingsWithCause,
      target: {
        description: `p50 alert → findings < ${TARGET_P50_MS} ms`,
        status: !allFindingsWithCause || findingsMs.p50 === null ? 'VOID' : findingsMs.p50 < TARGET_P50_MS ? 'PASS' : 'FAIL',
      },
    };
  } finally {
    await rig.close();
  }
}

export async function runAlertBenchmark(args: AlertArgs, context: BenchContext): Promise<AlertReport> {
  const startedAt = new Date();
  const loadAtStart = os.loadavg()[0]!;
  const lab = await Lab.create();
  context.onCleanup(() => lab.destroy());
  try {
    const labStarted = Date.now();
    log(`starting ${args.hosts} broken lab hosts …`);
    const hosts = await Promise.all(
      Array.from({ length: args.hosts }, async (_unused, index) => {
        const fault = FAULTS[index % FAULTS.length]!;
        return { host: await lab.addHost({ name: `alert-${index + 1}`, fault, light: true }), fault };
      }),
    );
    const labStartupMs = Date.now() - labStarted;
    log(`lab ready in ${labStartupMs} ms`);
    const modes: AlertModeReport[] = [];
    for (const mode of args.modes) modes.push(await runMode(mode, args, lab, hosts, context));
    return {
      benchmark: 'alert to findings',
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      machine: machineInfo(loadAtStart),
      hosts: hosts.map(({ host, fault }) => ({ name: host.name, fault, cause: FAULT_CAUSE[fault] })),
      incidentsPerMode: args.incidents,
      labStartupMs,
      modes,
      valid: modes.every((mode) => mode.allFindingsWithCause),
    };
  } finally {
    await lab.destroy();
  }
}

export function renderAlertMarkdown(report: AlertReport): string {
  const rows = report.modes.map((mode) => [
    mode.mode,
    mode.findingsMs.count,
    mode.findingsMs.p50,
    mode.findingsMs.p95,
    mode.findingsMs.max,
    mode.parentMs.p50,
    mode.sshConnectionsOpenedTimed,
    mode.allFindingsWithCause ? 'yes' : 'NO',
    mode.serviceMaxRssKiB === null ? null : (mode.serviceMaxRssKiB / 1024).toFixed(1),
    mode.target.status,
  ]);
  return [
    `# Alert to findings, ${report.incidentsPerMode} incidents per mode`,
    '',
    `${report.startedAt} · ${report.machine.cpus} CPUs (${report.machine.cpuModel}), ${report.machine.memoryGiB} GiB, Node ${report.machine.node}, ` +
      `load average ${report.machine.loadAverage1mAtStart} at start, ${report.machine.loadAverage1mAtEnd} at end · ` +
      `hosts: ${report.hosts.map((host) => `${host.name} (${host.fault})`).join(', ')}`,
    '',
    'From sending the Alertmanager webhook to the Slack stand-in storing the findings reply (the cause); ms.',
    '',
    markdownTable(
      ['mode', 'incidents', 'p50', 'p95', 'max', 'parent p50', 'SSH connections opened (timed)', 'cause named every time', 'service peak RSS MiB', 'target p50 < 1 s'],
      rows,
    ),
    '',
    ...report.modes.map((mode) => `- ${mode.mode}: outbox spacing ${String(mode.settings.outboxPostEveryMs)} ms after bursts of ${String(mode.settings.outboxPostBurst)}, stand-in limit ${String(mode.settings.standinPostMessageRate)}`),
    '',
  ].join('\n');
}

export function renderAlertText(report: AlertReport): string {
  return report.modes
    .map(
      (mode) =>
        `${mode.mode.padEnd(8)} findings p50 ${mode.findingsMs.p50} ms, p95 ${mode.findingsMs.p95} ms (n=${mode.findingsMs.count}); parent p50 ${mode.parentMs.p50} ms; ` +
        `SSH connections opened while timed: ${mode.sshConnectionsOpenedTimed}; cause named every time: ${mode.allFindingsWithCause ? 'yes' : 'NO'}; ` +
        `${mode.target.description}: ${mode.target.status}`,
    )
    .join('\n');
}

if (isMain(import.meta.url)) {
  runMain('bench:alert', ALERT_USAGE, async (argv, context) => {
    const args = parseAlertArgs(argv);
    if (args.help) {
      process.stdout.write(`${ALERT_USAGE}\n`);
      return 0;
    }
    const report = await runAlertBenchmark(args, context);
    const wrote = await writeResults(args.jsonOut, report, renderAlertMarkdown(report));
    process.stdout.write(`${renderAlertText(report)}\n${wrote}\n`);
    return report.valid ? 0 : 1;
  });
}
