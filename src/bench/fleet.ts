/**
 * The fleet benchmark (`npm run bench:fleet`): N light lab hosts, the runbook's diagnosis commands for
 * a supervisor host with sudo, run by oo-responder (fresh and pooled connections), by Ansible's raw
 * module (a playbook of one raw task per command, and one raw task running the joined script), by
 * parallel-ssh, and directly inside the hosts without SSH (the floor). Same hosts, same commands,
 * host-key checking on everywhere; every run is checked to have finished on every host, otherwise its
 * numbers are void. Prints a table and the targets, writes bench/results/fleet-<N>.json
 * and .md. See bench/README.md.
 */
import { execFile, fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { stringify } from 'yaml';

import { loadConfig } from '../config/index.js';
import { Lab, type LabHost } from '../lab/index.js';
import { bindRunbook, defaultRunbook } from '../runbooks/index.js';
import { killMarked, MarkedProcessSampler } from './memory.js';
import type { ChildMessage, FreshRunResult, OoRoundProfile, OoRoundResult, ParentMessage } from './oo-child.js';
import { compareWithReference, failuresOf, type HostOutcome } from './outcome.js';
import { firstLine, killTrackedChildren, runMeasured, trackChild } from './processes.js';
import {
  evaluateTargets,
  FLEET_USAGE,
  median,
  overheadOverFloor,
  parseFleetArgs,
  renderMarkdownTable,
  renderTargets,
  renderTextTable,
  summarizeVariant,
  tableRows,
  UsageError,
  VARIANT_IDS,
  type FleetArgs,
  type MemoryRecord,
  type OverheadReport,
  type RoundRecord,
  type TargetReport,
  type VariantId,
  type VariantReport,
} from './report.js';
import { buildStepsScript } from './script.js';
import {
  missingBenchTools,
  runAnsible,
  runAnsiblePlaybook,
  runFloor,
  runPssh,
  writeAnsibleSetup,
  writePsshHosts,
  type FleetContext,
  type ToolRun,
} from './tools.js';

const execFileAsync = promisify(execFile);
/** USER_HZ: /proc/stat counts in these; 100 on every Linux architecture the lab runs on. */
const CLOCK_TICKS_PER_SECOND = 100;
const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = path.resolve(HERE, '..', '..');
const CHILD_SCRIPT = path.join(HERE, 'oo-child.js');
const GROUP = 'fleet';
const MARKER_NAME = 'OO_BENCH_PROC';
/** How long one oo-responder round may take before the run is abandoned. */
const OO_ROUND_TIMEOUT_MS = 600_000;

export interface FleetReport {
  benchmark: 'oo-responder fleet';
  startedAt: string;
  finishedAt: string;
  hosts: number;
  rounds: number;
  machine: Record<string, string | number>;
  commands: { planFor: string; stepIds: string[]; sudoSteps: number; scriptBytes: number };
  settings: Record<string, string | number | boolean>;
  labStartupMs: number;
  variants: VariantReport[];
  targets: TargetReport[];
  overhead: OverheadReport;
  valid: boolean;
  profile: Record<string, OoProfileSummary>;
}

export interface OoProfileSummary {
  connectMsMedian: number | null;
  connectMsMax: number | null;
  hostDoneMsMedian: number | null;
  hostDoneMsMax: number | null;
  /** A host's steps' own durations added up; compare with hostDone to see queueing on the session limit. */
  stepSumMsMedian: number | null;
  stepMsMedian: Record<string, number | null>;
  connectionsOpenedPerRound: number[];
  innerMsPerRound: number[];
  /** Fresh runs only: node start-up and module loading, reading oo.yaml, and pool.close(). */
  startupMsMedian?: number | null;
  configMsMedian?: number | null;
  poolCloseMsMedian?: number | null;
}

interface Variant {
  id: VariantId;
  label: string;
  how: string;
  run(round: number): Promise<RoundRecord>;
  memory(): MemoryRecord | null;
}

type Log = (line: string) => void;

function marker(label: string): string {
  return `${MARKER_NAME}=${label}-${randomBytes(6).toString('hex')}`;
}

function roundRecord(round: number, wallMs: number, outcomes: HostOutcome[], hosts: string[], reference: ReadonlyMap<string, HostOutcome>, error?: string, detail?: Record<string, number>): RoundRecord {
  const failures = failuresOf(compareWithReference(outcomes, reference), hosts);
  if (error !== undefined) failures.unshift(`(whole run): ${error}`);
  return { round, wallMs: Math.round(wallMs * 10) / 10, failures, ...(detail ? { detail } : {}) };
}

function summarizeProfile(results: (OoRoundResult | FreshRunResult)[]): OoProfileSummary {
  const all = (pick: (profile: OoRoundProfile) => number[]) => results.flatMap((result) => pick(result.profile)).filter((value) => value >= 0);
  const max = (values: number[]) => (values.length === 0 ? null : Math.max(...values));
  const round1 = (value: number | null) => (value === null ? null : Math.round(value * 10) / 10);
  const stepIds = [...new Set(results.flatMap((result) => Object.keys(result.profile.stepMs)))];
  return {
    connectMsMedian: round1(median(all((profile) => profile.connectMs))),
    connectMsMax: round1(max(all((profile) => profile.connectMs))),
    hostDoneMsMedian: round1(median(all((profile) => profile.hostDoneMs))),
    hostDoneMsMax: round1(max(all((profile) => profile.hostDoneMs))),
    stepSumMsMedian: round1(median(all((profile) => profile.stepSumMs))),
    stepMsMedian: Object.fromEntries(stepIds.map((id) => [id, round1(median(results.flatMap((result) => result.profile.stepMs[id] ?? [])))])),
    connectionsOpenedPerRound: results.map((result) => result.profile.connectionsOpened),
    innerMsPerRound: results.map((result) => Math.round(result.innerMs * 10) / 10),
    ...(results.length > 0 && results.every((result) => 'startupMs' in result)
      ? {
          startupMsMedian: round1(median((results as FreshRunResult[]).map((result) => result.startupMs))),
          configMsMedian: round1(median((results as FreshRunResult[]).map((result) => result.configMs))),
          poolCloseMsMedian: round1(median((results as FreshRunResult[]).map((result) => result.closeMs))),
        }
      : {}),
  };
}

/** Waits for the next message of the given type from a forked child, or fails on exit or timeout. */
function nextMessage<T extends ChildMessage['type']>(child: ChildProcess, types: T[], timeoutMs: number): Promise<Extract<ChildMessage, { type: T }>> {
  return new Promise((resolve, reject) => {
    const cleanup = () => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    const onMessage = (message: ChildMessage) => {
      if (!(types as string[]).includes(message.type)) return;
      cleanup();
      resolve(message as Extract<ChildMessage, { type: T }>);
    };
    const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
      cleanup();
      reject(new Error(`the oo-responder child exited (${code ?? signal}) while the benchmark waited for ${types.join('/')}`));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`the oo-responder child sent no ${types.join('/')} within ${timeoutMs} ms`));
    }, timeoutMs);
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

/** Busy CPU time of the whole machine so far (all CPUs, every process, the lab hosts included), in ms. */
function machineBusyMs(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const fields = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal: everything but idle and iowait is work.
  const busy = [0, 1, 2, 5, 6, 7].reduce((total, index) => total + (fields[index] ?? 0), 0);
  return (busy * 1000) / CLOCK_TICKS_PER_SECOND;
}

function sendTo(child: ChildProcess, message: ParentMessage): Promise<void> {
  return new Promise((resolve, reject) => {
    child.send(message, (error) => (error ? reject(new Error(`cannot reach the oo-responder child: ${error.message}`)) : resolve()));
  });
}

async function toolVersion(argv: string[]): Promise<string> {
  try {
    const { stdout, stderr } = await execFileAsync(argv[0]!, argv.slice(1), { timeout: 30_000 });
    return firstLine(`${stdout}\n${stderr}`);
  } catch (error) {
    const failed = error as { stdout?: string; stderr?: string; message: string };
    return firstLine(`${failed.stdout ?? ''}\n${failed.stderr ?? ''}`) || `unavailable (${failed.message})`;
  }
}

export interface FleetRunOptions extends Omit<FleetArgs, 'help'> {
  log: Log;
  /** Aborting stops the run between two measurements (cleanup still runs). */
  signal?: AbortSignal;
  /** Called with a function that cleans up, so a signal handler can run it. */
  onCleanup?(cleanup: () => Promise<void>): void;
}

export async function runFleetBenchmark(options: FleetRunOptions): Promise<FleetReport> {
  const { log } = options;
  const startedAt = new Date();
  const loadBefore = os.loadavg();
  const missing = await missingBenchTools();
  if (missing.length > 0) throw new Error(`the benchmark needs what is missing: ${missing.join('; ')}`);
  const n = options.hosts;
  const workDir = await mkdtemp(path.join(os.tmpdir(), 'oo-bench-'));
  let lab: Lab | null = null;
  let pooledChild: ChildProcess | null = null;
  /** Finders for what each tool run may have left running (ssh ControlPersist masters). */
  const leftovers: (() => MarkedProcessSampler)[] = [];
  let cleaning: Promise<void> | null = null;
  const cleanup = () =>
    (cleaning ??= (async () => {
      killTrackedChildren();
      for (const find of leftovers.splice(0)) killMarked(find().alive());
      await lab?.destroy().catch((error: unknown) => log(`lab cleanup: ${(error as Error).message}`));
      await rm(workDir, { recursive: true, force: true });
    })());
  options.onCleanup?.(cleanup);
  const checkAborted = () => {
    if (options.signal?.aborted) throw new Error(`interrupted (${String(options.signal.reason)})`);
  };

  try {
    lab = await Lab.create();
    log(`starting ${n} light lab hosts …`);
    const labStarted = Date.now();
    const labHosts: LabHost[] = await lab.addHosts(n, { light: true, namePrefix: 'fleet-', concurrency: 8 });
    const labStartupMs = Date.now() - labStarted;
    log(`lab ready in ${labStartupMs} ms`);
    const inventory = lab.inventory();
    const hostNames = labHosts.map((host) => host.name);

    const runbook = bindRunbook(defaultRunbook());
    const plan = runbook.plan({ processManager: 'supervisor', sudo: true });
    const nonce = randomBytes(12).toString('hex');

    // oo-responder's own configuration: the lab's inventory as oo.yaml, every host in one group.
    const configFile = path.join(workDir, 'oo.yaml');
    await writeFile(
      configFile,
      stringify({
        hosts: inventory,
        groups: { [GROUP]: hostNames },
        ssh: { maxParallelHosts: n, ...(options.maxSessions !== undefined ? { maxSessionsPerConnection: options.maxSessions } : {}) },
      }),
    );
    const sshSettings = (await loadConfig(configFile)).ssh;
    // Every script-based variant runs the steps in the shape oo-responder does: at most this many at once.
    const script = buildStepsScript(plan, nonce, sshSettings.maxSessionsPerConnection);
    const floorScript = buildStepsScript(plan, nonce, sshSettings.maxSessionsPerConnection, { sessionPerStep: true });
    const context: FleetContext = {
      workDir,
      hosts: labHosts.map((host) => ({ name: host.name, address: host.address })),
      user: labHosts[0]!.user,
      identityFile: lab.identityFile,
      knownHostsFile: lab.knownHostsFile,
      script,
      floorScript,
      nonce,
      steps: plan,
      expectedIds: plan.map((step) => step.id),
      runbook,
    };

    const ansibleSetup = await writeAnsibleSetup(context, n);
    const psshHosts = await writePsshHosts(context);

    let reference: ReadonlyMap<string, HostOutcome> = new Map();
    const record = (round: number, run: ToolRun) => roundRecord(round, run.wallMs, run.outcomes, hostNames, reference, run.error);

    // ------------------------------------------------------------ the variants
    const floor: Variant = {
      id: 'floor',
      label: 'floor (no SSH)',
      how:
        `The same step commands in plan order, at most ${sshSettings.maxSessionsPerConnection} at once as oo-responder runs them per connection, ` +
        "run as the lab user inside each host's namespaces via LabHost.exec (nsenter, setsid, setpriv to oolab, /bin/bash), each step by " +
        "`setsid $SHELL -c '<command>'` as sshd runs a channel's command (a new session per command: the kernel's autogroup scheduler shares CPU " +
        "between sessions), all hosts at once: the commands' own time, sudo included, without SSH. " +
        'Memory not sampled (the commands themselves, no orchestrator).',
      run: async (round) => {
        const run = await runFloor(context, labHosts);
        if (round === 0) reference = new Map(run.outcomes.map((outcome) => [outcome.host, outcome]));
        return record(round, run);
      },
      memory: () => null,
    };

    const freshResults: FreshRunResult[] = [];
    let freshPeakKiB = 0;
    const ooFresh: Variant = {
      id: 'oo_fresh',
      label: 'oo-responder, fresh connections',
      how:
        `A new node process per round (wall = spawn to exit, node start-up and module loading included) running diagnoseHosts ` +
        `over a new SshPool({ reuse: false }): one new SSH connection per host, maxParallel ${sshSettings.maxParallelHosts}, ` +
        `the ${plan.length} step commands as separate exec channels, at most ${sshSettings.maxSessionsPerConnection} at once per connection ` +
        "(oo.yaml's ssh.maxSessionsPerConnection). Host keys pinned in oo.yaml (the same keys as the known_hosts file). Peak RSS: the child's maxRSS.",
      run: async (round) => {
        const label = marker(`oo-fresh-${round}`);
        const [name, value] = label.split('=') as [string, string];
        const run = await runMeasured([process.execPath, CHILD_SCRIPT, 'fresh', configFile, GROUP], {
          env: { ...process.env, [name]: value },
          timeoutMs: OO_ROUND_TIMEOUT_MS,
        });
        let result: FreshRunResult | null = null;
        try {
          result = JSON.parse(run.stdout.trim().split('\n').pop() ?? '') as FreshRunResult;
        } catch {
          result = null;
        }
        if (run.code !== 0 || !result) {
          return roundRecord(round, run.wallMs, [], hostNames, reference, `the oo-responder child exited ${run.code ?? run.signal}: ${firstLine(run.stderr)}`);
        }
        if (round > 0) {
          freshResults.push(result);
          freshPeakKiB = Math.max(freshPeakKiB, result.maxRssKiB);
        }
        const tenth = (value: number) => Math.round(value * 10) / 10;
        return roundRecord(round, run.wallMs, result.outcomes, hostNames, reference, undefined, {
          startupMs: tenth(result.startupMs),
          configMs: tenth(result.configMs),
          diagnoseHostsMs: tenth(result.innerMs),
          poolCloseMs: tenth(result.closeMs),
          connectionsOpened: result.profile.connectionsOpened,
        });
      },
      memory: () => (freshPeakKiB > 0 ? { peakRssKiB: freshPeakKiB, method: 'process.resourceUsage().maxRSS of the child, highest of the timed rounds' } : null),
    };

    const pooledResults: OoRoundResult[] = [];
    let pooledPeakKiB = 0;
    const ooPooled: Variant = {
      id: 'oo_pooled',
      label: 'oo-responder, pooled connections',
      how:
        'One long-lived node process holding one SshPool (reuse on, no idle close) warmed by the untimed round 0; ' +
        `each timed round is one diagnoseHosts call over the open connections (wall = that call), maxParallel ${sshSettings.maxParallelHosts}, ` +
        `at most ${sshSettings.maxSessionsPerConnection} channels at once per connection. Peak RSS: the child's maxRSS over all its rounds.`,
      run: async (round) => {
        if (!pooledChild) {
          const label = marker('oo-pooled');
          const [name, value] = label.split('=') as [string, string];
          pooledChild = fork(CHILD_SCRIPT, ['pooled', configFile, GROUP], {
            env: { ...process.env, [name]: value },
            stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
          });
          trackChild(pooledChild);
          // A send to a child that died fails through the callback below; keep it from being unhandled.
          pooledChild.on('error', (error) => log(`oo-responder child: ${error.message}`));
          await nextMessage(pooledChild, ['ready'], 60_000);
        }
        const child = pooledChild;
        const answer = nextMessage(child, ['round-result', 'round-error'], OO_ROUND_TIMEOUT_MS);
        await sendTo(child, { type: 'round' });
        const message = await answer;
        if (message.type === 'round-error') return roundRecord(round, 0, [], hostNames, reference, message.error);
        const result = message.result;
        if (round > 0) pooledResults.push(result);
        return roundRecord(round, result.innerMs, result.outcomes, hostNames, reference, undefined, {
          connectionsOpened: result.profile.connectionsOpened,
        });
      },
      memory: () => (pooledPeakKiB > 0 ? { peakRssKiB: pooledPeakKiB, method: 'process.resourceUsage().maxRSS of the long-lived child' } : null),
    };

    /**
     * A tool made of many processes (ansible's forked workers and their ssh, parallel-ssh's ssh per
     * host), all marked by a variable in their environment (ssh's ControlPersist masters also by the
     * run's control-path folder, which ansible gets fresh per run). Timed runs go unsampled; the one
     * run with `sample` is sampled for memory. Whatever a run leaves running is ended after it, so runs
     * do not overlap.
     */
    const markedTool = (
      name: string,
      memoryMethod: string,
      execute: (label: string, controlPathDir: string) => Promise<ToolRun>,
    ): { run(round: number, sample: boolean): Promise<RoundRecord>; memory(): MemoryRecord | null } => {
      let memory: MemoryRecord | null = null;
      return {
        run: async (round, sample) => {
          const label = marker(`${name}-${round}`);
          const controlPathDir = path.join(workDir, 'cp', `${name}-${round}-${sample ? 'mem' : 'time'}`);
          const find = () => new MarkedProcessSampler(label, { commandLineText: controlPathDir });
          leftovers.push(find);
          const sampler = sample ? find() : null;
          sampler?.start();
          const run = await execute(label, controlPathDir);
          const tree = sampler?.stop();
          // ssh's ControlPersist masters outlive ansible by 60 s: end them so runs do not overlap.
          killMarked(find().alive());
          if (tree) {
            memory = {
              peakRssKiB: tree.peakRssKiB,
              peakPssKiB: tree.peakPssKiB,
              method: `${memoryMethod}, sampled every 20 ms in a separate untimed run`,
              processesAtPeak: tree.processesAtPeak,
              processesSeen: tree.processesSeen,
            };
          }
          return record(round, run);
        },
        memory: () => memory,
      };
    };

    const ansibleMemoryMethod = (program: string) =>
      `sum of the RSS of ${program} and every process it started (marked by an environment variable; ssh ControlPersist masters by their control path)`;
    const ansibleCommon =
      "Host key checking on (host_key_checking=True, ansible_ssh_common_args '-o UserKnownHostsFile=<lab known_hosts> -o StrictHostKeyChecking=yes'), " +
      "same user and key; ansible's default ssh args (ControlMaster=auto, ControlPersist=60s, -tt for raw) with a fresh control-path folder per run; " +
      'json stdout callback to check every host. Wall = spawn to exit (python start-up included).';
    const ansibleTasksTool = markedTool('ansible-tasks', ansibleMemoryMethod('ansible-playbook'), (label, controlPathDir) =>
      runAnsiblePlaybook(context, ansibleSetup, n, controlPathDir, label),
    );
    const ansibleTasks: Variant = {
      id: 'ansible_tasks',
      label: 'ansible raw (one task per command)',
      how:
        `ansible-playbook -i <inventory> -f ${n} <playbook>: one play (hosts: all, gather_facts: false, default linear strategy, forks ${n}) ` +
        `of ${plan.length} raw tasks, each one step's exact command in plan order, ignore_errors: true on each so a non-zero step does not stop ` +
        "its host (oo-responder runs every step regardless): `ansible -m raw` as the issue names it, the playbook an operator would write. " +
        'Each task is a round over every host behind a task barrier; ControlPersist keeps one SSH connection per host across the tasks. ' +
        `Each task's stdout (a pseudo-terminal's, \\r stripped) is that step's output. Same inventory and ansible.cfg as the joined-script variant. ${ansibleCommon}`,
      run: (round) => ansibleTasksTool.run(round, false),
      memory: () => ansibleTasksTool.memory(),
    };

    const ansibleTool = markedTool('ansible', ansibleMemoryMethod('ansible'), (label, controlPathDir) => runAnsible(context, ansibleSetup, n, controlPathDir, label));
    const ansible: Variant = {
      id: 'ansible',
      label: 'ansible raw (one task, joined script)',
      how:
        `ansible all -i <inventory> -m raw -a '<script>' -f ${n}: ONE raw task per host whose script runs the same ${plan.length} step commands, ` +
        `at most ${sshSettings.maxSessionsPerConnection} at once like oo-responder (one SSH session per host instead of ${plan.length} tasks, each a separate ` +
        'round and task barrier: the strongest Ansible setup, which no operator would write). ' +
        ansibleCommon,
      run: (round) => ansibleTool.run(round, false),
      memory: () => ansibleTool.memory(),
    };

    const psshTool = markedTool(
      'pssh',
      'sum of the RSS of parallel-ssh and its ssh processes (marked by an environment variable)',
      (label) => runPssh(context, psshHosts, n, label),
    );
    const pssh: Variant = {
      id: 'pssh',
      label: 'parallel-ssh',
      how:
        `parallel-ssh -h <hosts> -l oolab -X -i -X <key> -X -o -X UserKnownHostsFile=<lab known_hosts> -X -o -X StrictHostKeyChecking=yes -p ${n} ` +
        `-t 120 -i '<script>': the same joined script as Ansible, one ssh process per host. Wall = spawn to exit.`,
      run: (round) => psshTool.run(round, false),
      memory: () => psshTool.memory(),
    };

    const variants = [floor, ooFresh, ooPooled, ansibleTasks, ansible, pssh];
    const warmups = new Map<VariantId, RoundRecord>();
    const timed = new Map<VariantId, RoundRecord[]>(variants.map((variant) => [variant.id, []]));
    /**
     * Runs one measurement and notes the machine's busy CPU time over it: with every host on this
     * machine, it is the work of client and hosts together (plus whatever else runs here).
     */
    const measure = async (variant: Variant, round: number): Promise<RoundRecord> => {
      const before = machineBusyMs();
      const result = await variant.run(round);
      result.detail = { ...result.detail, machineCpuMs: Math.round(machineBusyMs() - before) };
      return result;
    };
    const show = (variant: Variant, result: RoundRecord) =>
      log(
        `  ${variant.id.padEnd(13)} round ${result.round}: ${Math.round(result.wallMs)} ms (machine CPU ${result.detail?.machineCpuMs ?? '?'} ms)` +
          (result.failures.length > 0 ? `  FAILED on ${result.failures.length}: ${result.failures.slice(0, 3).join(' | ')}` : ''),
      );

    log('warm-up round (untimed; the floor classifies every host for the reference, the pool opens its connections)');
    for (const variant of variants) {
      checkAborted();
      const result = await measure(variant, 0);
      warmups.set(variant.id, result);
      show(variant, result);
    }
    for (let round = 1; round <= options.rounds; round += 1) {
      log(`round ${round} of ${options.rounds}`);
      // Rotate the order so no variant always runs right after another one's load.
      const order = variants.map((_variant, index) => variants[(index + round - 1) % variants.length]!);
      for (const variant of order) {
        checkAborted();
        const result = await measure(variant, round);
        timed.get(variant.id)!.push(result);
        show(variant, result);
      }
    }
    log('memory runs (untimed, sampled): ansible per command, ansible joined, parallel-ssh');
    const sampledTools = [
      ['ansible_tasks', ansibleTasksTool],
      ['ansible', ansibleTool],
      ['pssh', psshTool],
    ] as const;
    const memoryChecks = new Map<VariantId, RoundRecord>();
    for (const [id, tool] of sampledTools) {
      checkAborted();
      memoryChecks.set(id, await tool.run(options.rounds + 1, true));
    }
    if (pooledChild) {
      const child: ChildProcess = pooledChild;
      const closed = nextMessage(child, ['closed'], 60_000);
      await sendTo(child, { type: 'close' });
      pooledPeakKiB = (await closed).maxRssKiB;
      pooledChild = null;
    }

    const reports = VARIANT_IDS.map((id) => {
      const variant = variants.find((candidate) => candidate.id === id)!;
      return summarizeVariant({ id, label: variant.label, how: variant.how }, warmups.get(id) ?? null, timed.get(id) ?? [], variant.memory());
    });
    // A memory run that failed somewhere voids its variant like a timed round would.
    for (const [id, check] of memoryChecks) {
      const report = reports.find((candidate) => candidate.id === id)!;
      if (check.failures.length > 0) {
        report.valid = false;
        report.rounds.push({ ...check, round: -1 });
      }
    }
    const machine = {
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model ?? 'unknown',
      memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
      kernel: os.release(),
      node: process.version,
      ansible: await toolVersion(['ansible', '--version']),
      pssh: `parallel-ssh ${await toolVersion(['parallel-ssh', '--version'])}`,
      openssh: await toolVersion(['ssh', '-V']),
      // Other work on the machine slows every variant; a load above the CPU count makes the run noisy.
      loadAverage1mAtStart: Math.round(loadBefore[0]! * 100) / 100,
      loadAverage1mAtEnd: Math.round(os.loadavg()[0]! * 100) / 100,
    };
    return {
      benchmark: 'oo-responder fleet',
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      hosts: n,
      rounds: options.rounds,
      machine,
      commands: {
        planFor: 'processManager supervisor, sudo true (the lab inventory)',
        stepIds: plan.map((step) => step.id),
        sudoSteps: plan.filter((step) => step.command.startsWith('sudo -n ')).length,
        scriptBytes: Buffer.byteLength(script),
      },
      settings: {
        maxParallelHosts: sshSettings.maxParallelHosts,
        maxSessionsPerConnection: sshSettings.maxSessionsPerConnection,
        connectTimeoutMs: sshSettings.connectTimeoutMs,
        ansibleForks: n,
        psshParallel: n,
        ansibleTask: 'one raw task running the joined script (steps concurrent inside it)',
        ansibleTasksPlaybook: `ansible-playbook: one play of ${plan.length} raw tasks, one per step command (linear strategy, ignore_errors on each)`,
        hostKeyChecking: 'on everywhere: oo pins the lab keys; ansible and pssh use the lab known_hosts with StrictHostKeyChecking=yes',
      },
      labStartupMs,
      variants: reports,
      targets: evaluateTargets(reports),
      overhead: overheadOverFloor(reports),
      valid: reports.every((report) => report.valid),
      profile: { oo_fresh: summarizeProfile(freshResults), oo_pooled: summarizeProfile(pooledResults) },
    };
  } finally {
    await cleanup();
  }
}

function overheadLine(report: FleetReport): string {
  const over = report.overhead.overMs;
  const part = (id: VariantId, label: string) => (over[id] === undefined ? null : `${label} ${over[id] >= 0 ? '+' : ''}${over[id]} ms`);
  const parts = [
    part('oo_fresh', 'oo fresh'),
    part('oo_pooled', 'oo pooled'),
    part('ansible_tasks', 'ansible per command'),
    part('ansible', 'ansible joined'),
    part('pssh', 'parallel-ssh'),
  ].filter(Boolean);
  const shares = [
    [report.overhead.ooFreshOverAnsibleTasks, 'Ansible per command'],
    [report.overhead.ooFreshOverAnsible, 'Ansible joined'],
  ] as const;
  const shareText = shares.flatMap(([ratio, what]) => (ratio === null || ratio === undefined ? [] : [`${ratio.toFixed(2)}× what ${what} adds`]));
  return (
    `over the floor (what client and transport add; the hosts' own work shares this machine's CPUs): ${parts.join(', ')}` +
    (shareText.length === 0 ? '' : `; oo fresh adds ${shareText.join(', ')}`)
  );
}

export function renderReportText(report: FleetReport): string {
  const lines = [
    `fleet benchmark: ${report.hosts} hosts, median of ${report.rounds} round(s); ${report.machine.cpus} CPUs, ${report.machine.kernel}; ` +
      `load average ${report.machine.loadAverage1mAtStart} at start, ${report.machine.loadAverage1mAtEnd} at end`,
    '',
    renderTextTable(tableRows(report.variants, report.hosts)),
    '',
    renderTargets(report.targets),
    overheadLine(report),
  ];
  const fresh = report.profile.oo_fresh;
  if (fresh && fresh.innerMsPerRound.length > 0) {
    lines.push(
      `oo fresh, inside its process (medians): start-up + module loading ${fresh.startupMsMedian ?? '?'} ms, oo.yaml ${fresh.configMsMedian ?? '?'} ms, ` +
        `diagnoseHosts ${Math.round(median(fresh.innerMsPerRound) ?? 0)} ms, pool.close() ${fresh.poolCloseMsMedian ?? '?'} ms`,
    );
  }
  if (Number(report.machine.loadAverage1mAtStart) > Number(report.machine.cpus)) {
    lines.push(`note: the machine was busy (load ${report.machine.loadAverage1mAtStart} on ${report.machine.cpus} CPUs) when the run started: numbers are noisy`);
  }
  if (!report.valid) {
    lines.push('', 'VOID: some variant did not finish on every host; its numbers do not count:');
    for (const variant of report.variants.filter((candidate) => !candidate.valid)) {
      const failures = [variant.warmup, ...variant.rounds].flatMap((round) => (round ? round.failures.map((failure) => `round ${round.round}: ${failure}`) : []));
      lines.push(`  ${variant.label}: ${failures.slice(0, 5).join(' | ') || 'no timed rounds'}`);
    }
  }
  return lines.join('\n');
}

export function renderReportMarkdown(report: FleetReport): string {
  const fresh = report.profile.oo_fresh;
  const pooled = report.profile.oo_pooled;
  const profileLine = (name: string, profile: OoProfileSummary | undefined) =>
    profile && profile.innerMsPerRound.length > 0
      ? `| ${name} | ${profile.connectMsMedian} / ${profile.connectMsMax} | ${profile.hostDoneMsMedian} / ${profile.hostDoneMsMax} | ${profile.stepSumMsMedian} | ${profile.connectionsOpenedPerRound.join(', ')} |`
      : `| ${name} | — | — | — | — |`;
  return [
    `# Fleet benchmark, ${report.hosts} hosts`,
    '',
    `${report.startedAt} · median of ${report.rounds} timed round(s) after an untimed warm-up · ${report.machine.cpus} CPUs (${report.machine.cpuModel}), ` +
      `${report.machine.memoryGiB} GiB, Linux ${report.machine.kernel}, Node ${report.machine.node}, ${report.machine.ansible}, ${report.machine.pssh}, ${report.machine.openssh} · ` +
      `load average ${report.machine.loadAverage1mAtStart} at start, ${report.machine.loadAverage1mAtEnd} at end`,
    '',
    `Commands: the default runbook's ${report.commands.stepIds.length} diagnosis steps for ${report.commands.planFor} ` +
      `(${report.commands.sudoSteps} of them under \`sudo -n\`), on ${report.hosts} light lab hosts; host-key checking on in every variant.` +
      (report.valid ? '' : ' **VOID: some variant did not finish on every host.**'),
    '',
    renderMarkdownTable(tableRows(report.variants, report.hosts)),
    '',
    '| target | ratio | result |',
    '| --- | ---: | --- |',
    ...report.targets.map((target) => `| ${target.description} | ${target.ratio === null ? '—' : `${target.ratio.toFixed(2)}×`} | ${target.status} |`),
    '',
    `${overheadLine(report)}.`,
    '',
    'oo-responder profile (ms; median / max over hosts and timed rounds):',
    '',
    '| variant | connect | host done | steps\' own time summed | connections opened per round |',
    '| --- | ---: | ---: | ---: | --- |',
    profileLine('oo fresh', fresh),
    profileLine('oo pooled', pooled),
    '',
    ...(fresh?.startupMsMedian != null
      ? [
          `oo fresh, where the rest of the process time goes (median): node start-up and module loading ${fresh.startupMsMedian} ms, ` +
            `reading oo.yaml ${fresh.configMsMedian} ms, diagnoseHosts ${median(fresh.innerMsPerRound)} ms, pool.close() ${fresh.poolCloseMsMedian} ms.`,
          '',
        ]
      : []),
    'Memory:',
    '',
    ...report.variants.map((variant) =>
      variant.memory === null
        ? `- ${variant.label}: not measured`
        : `- ${variant.label}: peak RSS ${(variant.memory.peakRssKiB / 1024).toFixed(1)} MiB` +
          (variant.memory.peakPssKiB !== undefined ? `, peak PSS ${(variant.memory.peakPssKiB / 1024).toFixed(1)} MiB` : '') +
          (variant.memory.processesAtPeak !== undefined ? ` (${variant.memory.processesAtPeak} processes at the peak)` : '') +
          ` — ${variant.memory.method}`,
    ),
    '',
    'What ran:',
    '',
    ...report.variants.map((variant) => `- **${variant.label}**: ${variant.how}`),
    '',
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  let args: FleetArgs;
  try {
    args = parseFleetArgs(argv);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`${error.message}\n${FLEET_USAGE}\n`);
      return 2;
    }
    throw error;
  }
  if (args.help) {
    process.stdout.write(`${FLEET_USAGE}\n`);
    return 0;
  }
  const jsonOut = path.resolve(args.jsonOut ?? path.join(REPO_ROOT, 'bench', 'results', `fleet-${args.hosts}.json`));
  const mdOut = jsonOut.replace(/\.json$/, '.md');
  let cleanup: (() => Promise<void>) | null = null;
  const abort = new AbortController();
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      if (abort.signal.aborted) return;
      process.stderr.write(`\n${signal}: cleaning up the lab …\n`);
      abort.abort(signal);
      const done = cleanup ? cleanup() : Promise.resolve();
      void done.finally(() => process.exit(128 + (os.constants.signals[signal] ?? 1)));
    });
  }
  const log: Log = (line) => process.stderr.write(`${line}\n`);
  const report = await runFleetBenchmark({
    hosts: args.hosts,
    rounds: args.rounds,
    ...(args.maxSessions !== undefined ? { maxSessions: args.maxSessions } : {}),
    log,
    signal: abort.signal,
    onCleanup: (fn) => (cleanup = fn),
  });
  await mkdir(path.dirname(jsonOut), { recursive: true });
  await writeFile(jsonOut, `${JSON.stringify(report, null, 2)}\n`);
  await writeFile(mdOut, renderReportMarkdown(report));
  process.stdout.write(`${renderReportText(report)}\n\nwrote ${path.relative(process.cwd(), jsonOut) || jsonOut} and ${path.relative(process.cwd(), mdOut) || mdOut}\n`);
  return report.valid ? 0 : 1;
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`bench:fleet: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    },
  );
}
