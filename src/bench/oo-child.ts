/**
 * oo-responder as the benchmark measures it, in a process of its own so its peak memory is its own:
 * loads the generated oo.yaml, resolves the fleet group and runs diagnoseHosts with the default runbook
 * over SshPool, exactly as `oo diagnose <group>` does.
 *
 *   node oo-child.js fresh CONFIG GROUP    one round on a new pool without reuse; prints one JSON line
 *   node oo-child.js pooled CONFIG GROUP   (forked, with IPC) one pool kept open; a round per message
 */
import { performance } from 'node:perf_hooks';

import { loadConfig, resolveTargets, type Config, type ResolvedHost } from '../config/index.js';
import { diagnoseHosts } from '../diagnosis/diagnose.js';
import { bindRunbook, defaultRunbook } from '../runbooks/index.js';
import { SshPool, type SshConnection, type SshPoolOptions } from '../ssh/index.js';
import { outcomeFromFinding, type HostOutcome } from './outcome.js';

export interface OoRoundProfile {
  /** Per host: how long pool.connect took (near 0 when the pool already held the connection). */
  connectMs: number[];
  /** Per host: from the start of the round until its last step finished. */
  hostDoneMs: number[];
  /** Per host: the steps' own durations added up (channel open to close, queueing excluded). */
  stepSumMs: number[];
  /** Per step id: its duration on each host. */
  stepMs: Record<string, number[]>;
  /** Connections the pool opened in this round. */
  connectionsOpened: number;
  maxSessionsPerConnection: number;
  maxParallelHosts: number;
}

export interface OoRoundResult {
  /** Wall time of the diagnoseHosts call. */
  innerMs: number;
  outcomes: HostOutcome[];
  profile: OoRoundProfile;
}

export type ParentMessage = { type: 'round' } | { type: 'close' };
export type ChildMessage =
  | { type: 'ready' }
  | { type: 'round-result'; result: OoRoundResult }
  | { type: 'round-error'; error: string }
  | { type: 'closed'; maxRssKiB: number };

/** Pool settings taken from oo.yaml's ssh section, as the `oo diagnose` command takes them. */
function poolOptions(config: Config): SshPoolOptions {
  return {
    connectTimeoutMs: config.ssh.connectTimeoutMs,
    keepaliveIntervalMs: config.ssh.keepaliveIntervalMs,
    maxSessionsPerConnection: config.ssh.maxSessionsPerConnection,
  };
}

async function runRound(config: Config, hosts: ResolvedHost[], pool: SshPool, known: Set<SshConnection>): Promise<OoRoundResult> {
  const runbook = bindRunbook(defaultRunbook());
  const expectedIds = runbook.plan({ processManager: 'supervisor', sudo: true }).map((step) => step.id);
  const byName = new Map(hosts.map((host) => [host.name, host]));
  const connectMs = new Map<string, number>();
  const doneAt = new Map<string, number>();
  let opened = 0;
  const started = performance.now();
  const findings = await diagnoseHosts(hosts, {
    runbook,
    maxParallel: config.ssh.maxParallelHosts,
    connect: async (host) => {
      const before = performance.now();
      const connection = await pool.connect(byName.get(host.name)!);
      connectMs.set(host.name, performance.now() - before);
      if (!known.has(connection)) {
        known.add(connection);
        opened += 1;
      }
      return connection;
    },
    onStep: (event) => doneAt.set(event.host, performance.now() - started),
  });
  const innerMs = performance.now() - started;
  const stepMs: Record<string, number[]> = {};
  for (const finding of findings) {
    for (const step of finding.steps) (stepMs[step.id] ??= []).push(step.durationMs);
  }
  return {
    innerMs,
    outcomes: findings.map((finding) => outcomeFromFinding(finding, expectedIds)),
    profile: {
      connectMs: hosts.map((host) => connectMs.get(host.name) ?? -1),
      hostDoneMs: hosts.map((host) => doneAt.get(host.name) ?? -1),
      stepSumMs: findings.map((finding) => finding.steps.reduce((total, step) => total + step.durationMs, 0)),
      stepMs,
      connectionsOpened: opened,
      maxSessionsPerConnection: config.ssh.maxSessionsPerConnection,
      maxParallelHosts: config.ssh.maxParallelHosts,
    },
  };
}

/** What a fresh run prints: the round, where the rest of the process's time went, and its peak memory. */
export interface FreshRunResult extends OoRoundResult {
  /** From process start until main() ran: node start-up and loading the modules. */
  startupMs: number;
  /** Reading and validating oo.yaml. */
  configMs: number;
  /** pool.close(): closing every connection. */
  closeMs: number;
  maxRssKiB: number;
}

async function fresh(config: Config, hosts: ResolvedHost[], startupMs: number, configMs: number): Promise<void> {
  const pool = new SshPool({ ...poolOptions(config), reuse: false });
  const round = await runRound(config, hosts, pool, new Set()).then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
  const closing = performance.now();
  await pool.close();
  const closeMs = performance.now() - closing;
  if (!('value' in round)) throw round.error;
  const result = round.value;
  const output: FreshRunResult = { ...result, startupMs, configMs, closeMs, maxRssKiB: process.resourceUsage().maxRSS };
  process.stdout.write(`${JSON.stringify(output)}\n`);
}

async function pooled(config: Config, hosts: ResolvedHost[]): Promise<void> {
  const send = process.send?.bind(process);
  if (!send) throw new Error('pooled mode needs an IPC channel (start it with child_process.fork)');
  // A service keeps its connections between incidents: no idle sweep between the benchmark's rounds.
  const pool = new SshPool({ ...poolOptions(config), idleTimeoutMs: 0 });
  const known = new Set<SshConnection>();
  let busy: Promise<void> = Promise.resolve();
  process.on('message', (message: ParentMessage) => {
    busy = busy.then(async () => {
      if (message.type === 'round') {
        try {
          send({ type: 'round-result', result: await runRound(config, hosts, pool, known) } satisfies ChildMessage);
        } catch (error) {
          send({ type: 'round-error', error: (error as Error).message } satisfies ChildMessage);
        }
      } else if (message.type === 'close') {
        await pool.close();
        send({ type: 'closed', maxRssKiB: process.resourceUsage().maxRSS } satisfies ChildMessage, () => process.disconnect());
      }
    });
  });
  // The parent going away ends the child too, with its connections.
  process.on('disconnect', () => {
    void pool.close().finally(() => process.exit(0));
  });
  send({ type: 'ready' } satisfies ChildMessage);
}

async function main(argv: string[]): Promise<void> {
  // performance.now() counts from the start of the process: this is start-up plus module loading.
  const startupMs = performance.now();
  const [mode, configFile, group] = argv;
  if ((mode !== 'fresh' && mode !== 'pooled') || !configFile || !group) {
    throw new Error('usage: oo-child.js fresh|pooled CONFIG GROUP');
  }
  const config = await loadConfig(configFile);
  const hosts = resolveTargets(config, group);
  const configMs = performance.now() - startupMs;
  if (mode === 'fresh') await fresh(config, hosts, startupMs, configMs);
  else await pooled(config, hosts);
}

main(process.argv.slice(2)).catch((error: unknown) => {
  process.stderr.write(`oo-child: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
