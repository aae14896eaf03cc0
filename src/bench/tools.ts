/**
 * The comparison variants: Ansible's raw module (one joined-script task, or a playbook of one raw task
 * per step), parallel-ssh, and the floor (the same script run inside each host without SSH). All but
 * the playbook run the one script built from oo-responder's planned commands (see script.ts); the
 * playbook runs the same commands as tasks of their own. Each reports per host whether every step
 * finished with exit 0 and what the steps printed classifies as the floor's run does.
 */
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { stringify } from 'yaml';

import type { DiagnosisRunbook } from '../diagnosis/diagnose.js';
import type { LabHost } from '../lab/index.js';
import { failedOutcome, outcomeFromOutputs, type HostOutcome } from './outcome.js';
import { firstLine, runMeasured, type MeasuredRun } from './processes.js';
import { ansibleRawArgument, buildRawTasksPlaybook, parseStepsOutput, withoutCarriageReturns, type ScriptStep } from './script.js';

/** What every variant needs to know about the fleet and the commands. */
export interface FleetContext {
  workDir: string;
  hosts: { name: string; address: string }[];
  user: string;
  identityFile: string;
  knownHostsFile: string;
  /** The steps joined for ansible and parallel-ssh: one script, one session per host. */
  script: string;
  /** The same steps for the floor, each in a session of its own as sshd runs each of oo-responder's channels. */
  floorScript: string;
  nonce: string;
  /** The planned steps, each with the exact command oo-responder sends (the playbook's raw tasks). */
  steps: readonly ScriptStep[];
  expectedIds: string[];
  runbook: Pick<DiagnosisRunbook, 'remediationsFor'>;
}

export interface ToolRun {
  wallMs: number;
  outcomes: HostOutcome[];
  /** Why the tool as a whole failed (exit status, unparsable output), when it did. */
  error?: string;
}

/** A whole tool run may take this long at most; the longest step allows 40 s. */
const TOOL_TIMEOUT_MS = 600_000;
/** parallel-ssh's per-host limit, in seconds. */
const PSSH_HOST_TIMEOUT_S = 120;

/** Why a tool run as a whole failed (timed out, or exited non-zero), if it did. */
function toolRunError(tool: string, run: MeasuredRun): string | undefined {
  if (run.timedOut) return `${tool} did not finish within ${TOOL_TIMEOUT_MS} ms`;
  if (run.code !== 0) return `${tool} exited ${run.code ?? run.signal}${run.stderr.trim() ? `: ${firstLine(run.stderr)}` : ''}`;
  return undefined;
}

function outcomeFromScript(context: FleetContext, host: string, text: string): HostOutcome {
  const parsed = parseStepsOutput(text, context.nonce, context.expectedIds);
  if (!parsed.ok) return failedOutcome(host, parsed.error);
  return outcomeFromOutputs(host, context.expectedIds, parsed.steps, context.runbook);
}

// ---------------------------------------------------------------- pre-flight

const execFileAsync = promisify(execFile);

/** The programs the comparison variants run, each with the Debian package that provides it. */
const BENCH_PROGRAMS = [
  ['ansible', 'ansible-core'],
  ['ansible-playbook', 'ansible-core'],
  ['ansible-doc', 'ansible-core'],
  ['parallel-ssh', 'pssh'],
  ['ssh', 'openssh-client'],
] as const;

/**
 * The stdout callback both Ansible variants are read through. ansible-core alone has no json callback
 * (its `json` is a redirect to this one); Debian's `ansible` package carries the ansible.posix collection.
 */
export const ANSIBLE_JSON_CALLBACK = 'ansible.posix.json';
const ANSIBLE_JSON_CALLBACK_PACKAGE = 'ansible';

/**
 * Whether `ansible-doc -t callback -j NAME` documented the plugin: it prints `{}` (and exits 0) for a
 * plugin it cannot find, and an object keyed by the plugin's name for one it can.
 */
export function ansibleDocHasPlugin(stdout: string, name: string): boolean {
  try {
    const document = JSON.parse(stdout) as unknown;
    return typeof document === 'object' && document !== null && name in document;
  } catch {
    return false;
  }
}

/**
 * What the benchmark needs and does not find, each named with the package to install (empty when
 * nothing is missing), checked before any lab host is built so a run never fails inside a variant.
 */
export async function missingBenchTools(env: NodeJS.ProcessEnv = process.env): Promise<string[]> {
  const missing: string[] = [];
  const found = new Set<string>();
  for (const [program, pkg] of BENCH_PROGRAMS) {
    try {
      await execFileAsync('sh', ['-c', 'command -v "$1"', 'sh', program], { env, timeout: 10_000 });
      found.add(program);
    } catch {
      missing.push(`the program ${program} (apt-get install ${pkg})`);
    }
  }
  if (found.has('ansible-doc')) {
    const plugin = `ansible's stdout callback ${ANSIBLE_JSON_CALLBACK} (apt-get install ${ANSIBLE_JSON_CALLBACK_PACKAGE})`;
    try {
      const { stdout } = await execFileAsync('ansible-doc', ['-t', 'callback', '-j', ANSIBLE_JSON_CALLBACK], { env, timeout: 120_000 });
      if (!ansibleDocHasPlugin(stdout, ANSIBLE_JSON_CALLBACK)) missing.push(plugin);
    } catch (error) {
      missing.push(`${plugin}: ansible-doc failed: ${firstLine((error as Error).message)}`);
    }
  }
  return missing;
}

// ---------------------------------------------------------------- floor

/**
 * The floor: the script run by the lab user's login shell inside each host's namespaces, all hosts at
 * once, through LabHost.exec (nsenter as root, then setpriv down to the lab user, as sshd would drop
 * to it), so sudo costs here what it costs over SSH. Sessions matter: with the kernel's autogroup
 * scheduling (on by default) CPU time is shared between sessions, and sshd starts a new one for every
 * channel, so each of oo-responder's steps runs in a session of its own. The floor does the same (the
 * host's script in one session, each step in another, see buildStepsScript's sessionPerStep); left in
 * the benchmark's one session, all hosts' commands would share one slice of a busy machine and the
 * floor would come out slower than SSH.
 */
export async function runFloor(context: FleetContext, labHosts: readonly LabHost[]): Promise<ToolRun> {
  const argv = [
    'setsid',
    '--wait',
    'setpriv',
    `--reuid=${context.user}`,
    `--regid=${context.user}`,
    '--init-groups',
    '--reset-env',
    '/bin/bash',
    '-c',
    context.floorScript,
  ];
  const started = performance.now();
  const outcomes = await Promise.all(
    labHosts.map(async (host): Promise<HostOutcome> => {
      try {
        const result = await host.exec(argv, { timeoutMs: TOOL_TIMEOUT_MS });
        if (result.code !== 0) return failedOutcome(host.name, `the script exited ${result.code}: ${firstLine(result.stderr || result.stdout)}`);
        return outcomeFromScript(context, host.name, result.stdout);
      } catch (error) {
        return failedOutcome(host.name, (error as Error).message);
      }
    }),
  );
  return { wallMs: performance.now() - started, outcomes };
}

// ---------------------------------------------------------------- ansible

export interface AnsibleSetup {
  inventory: string;
  config: string;
  home: string;
  /** The playbook of one raw task per step (buildRawTasksPlaybook). */
  playbook: string;
}

/**
 * Inventory, ansible.cfg and the raw-tasks playbook for the fleet; both Ansible variants use the same
 * inventory and configuration. Host key checking stays on and uses the lab's known_hosts; the output
 * goes through the json callback so each host's stdout and rc can be checked.
 */
export async function writeAnsibleSetup(context: FleetContext, forks: number): Promise<AnsibleSetup> {
  const dir = path.join(context.workDir, 'ansible');
  const home = path.join(dir, 'home');
  await mkdir(path.join(home, 'tmp'), { recursive: true });
  const inventory = path.join(dir, 'inventory.yml');
  const config = path.join(dir, 'ansible.cfg');
  const playbook = path.join(dir, 'raw-tasks.yml');
  // No line folding: the commands go in exactly as oo-responder sends them.
  await writeFile(playbook, stringify(buildRawTasksPlaybook(context.steps), { lineWidth: 0 }));
  await writeFile(
    inventory,
    stringify({
      all: {
        hosts: Object.fromEntries(context.hosts.map((host) => [host.name, { ansible_host: host.address }])),
        vars: {
          ansible_user: context.user,
          ansible_port: 22,
          ansible_ssh_private_key_file: context.identityFile,
          ansible_ssh_common_args: `-o UserKnownHostsFile=${context.knownHostsFile} -o StrictHostKeyChecking=yes`,
        },
      },
    }),
  );
  await writeFile(
    config,
    [
      '[defaults]',
      `forks = ${forks}`,
      'host_key_checking = True',
      `stdout_callback = ${ANSIBLE_JSON_CALLBACK}`,
      'bin_ansible_callbacks = True',
      'retry_files_enabled = False',
      'nocolor = True',
      `local_tmp = ${path.join(home, 'tmp')}`,
      '',
    ].join('\n'),
  );
  return { inventory, config, home, playbook };
}

export function ansibleEnvironment(setup: AnsibleSetup, controlPathDir: string, marker: string): NodeJS.ProcessEnv {
  const [name, value] = marker.split('=') as [string, string];
  return {
    ...process.env,
    ANSIBLE_CONFIG: setup.config,
    ANSIBLE_HOME: setup.home,
    // A folder of its own per run: every run starts without ControlPersist masters, as a first run does.
    ANSIBLE_SSH_CONTROL_PATH_DIR: controlPathDir,
    [name]: value,
  };
}

export function ansibleArgv(context: FleetContext, setup: AnsibleSetup, forks: number): string[] {
  return ['ansible', 'all', '-i', setup.inventory, '-m', 'raw', '-a', ansibleRawArgument(context.script), '-f', String(forks)];
}

export function ansiblePlaybookArgv(setup: AnsibleSetup, forks: number): string[] {
  return ['ansible-playbook', '-i', setup.inventory, '-f', String(forks), setup.playbook];
}

/** One host's result of one task in the json callback's document. */
export interface AnsibleHostResult {
  rc?: number;
  stdout?: string;
  msg?: string;
  unreachable?: boolean;
  failed?: boolean;
}

interface AnsibleTaskResults {
  task?: { name?: string };
  hosts?: Record<string, AnsibleHostResult>;
}

type AnsibleOutcomes = { outcomes: HostOutcome[]; error?: string };

/** The json callback's document (anything ansible printed before it is skipped), or why it is unreadable. */
function ansibleTasks(stdout: string): { tasks: AnsibleTaskResults[] } | { error: string } {
  const start = stdout.search(/^\{/m);
  try {
    const document = JSON.parse(start >= 0 ? stdout.slice(start) : stdout) as { plays?: { tasks?: AnsibleTaskResults[] }[] };
    return { tasks: document.plays?.[0]?.tasks ?? [] };
  } catch (error) {
    return { error: `ansible's json output could not be parsed: ${(error as Error).message}` };
  }
}

/** The json callback's document of the joined-script run (one task) → one outcome per host. */
export function ansibleOutcomes(context: FleetContext, stdout: string): AnsibleOutcomes {
  const parsed = ansibleTasks(stdout);
  if ('error' in parsed) return { outcomes: [], error: parsed.error };
  const results = parsed.tasks[0]?.hosts ?? {};
  const outcomes = context.hosts.map((host): HostOutcome => {
    const result = results[host.name];
    if (!result) return failedOutcome(host.name, 'ansible reported nothing for this host');
    if (result.unreachable) return failedOutcome(host.name, `unreachable: ${firstLine(result.msg ?? '')}`);
    if (result.rc !== 0) return failedOutcome(host.name, `raw task failed (rc ${result.rc ?? '?'}): ${firstLine(result.msg ?? result.stdout ?? '')}`);
    return outcomeFromScript(context, host.name, result.stdout ?? '');
  });
  return { outcomes };
}

/**
 * A raw task's stdout as the step printed it: without the pseudo-terminal's carriage returns and
 * without the last line end, as the joined script's markers cut each step's output.
 */
export function rawTaskOutput(stdout: string): string {
  return withoutCarriageReturns(stdout).replace(/\n$/, '');
}

/**
 * The json callback's document of the raw-tasks playbook → one outcome per host. The play must hold
 * exactly the planned tasks, in plan order, named by step id; each host needs a result with an exit
 * status from every one of them. Each task's stdout (a pseudo-terminal's: \r\n line ends) is that
 * step's output, checked and classified exactly as the other variants' step outputs are.
 */
export function ansibleTaskOutcomes(context: FleetContext, stdout: string): AnsibleOutcomes {
  const parsed = ansibleTasks(stdout);
  if ('error' in parsed) return { outcomes: [], error: parsed.error };
  const names = parsed.tasks.map((task) => task.task?.name ?? '?');
  const error =
    names.join(',') === context.expectedIds.join(',') ? undefined : `the play ran tasks [${names.join(', ')}], planned [${context.expectedIds.join(', ')}]`;
  const byName = new Map(parsed.tasks.map((task) => [task.task?.name, task.hosts ?? {}]));
  const outcomes = context.hosts.map((host): HostOutcome => {
    const steps: { id: string; exitCode: number; output: string }[] = [];
    const problems: string[] = [];
    for (const id of context.expectedIds) {
      const result = byName.get(id)?.[host.name];
      if (!result) problems.push(`${id}: ansible reported nothing`);
      else if (result.unreachable) problems.push(`${id}: unreachable: ${firstLine(result.msg ?? '')}`);
      else if (typeof result.rc !== 'number') problems.push(`${id}: no exit status: ${firstLine(result.msg ?? '')}`);
      else steps.push({ id, exitCode: result.rc, output: rawTaskOutput(result.stdout ?? '') });
    }
    if (problems.length > 0) return failedOutcome(host.name, problems.join('; '));
    return outcomeFromOutputs(host.name, context.expectedIds, steps, context.runbook);
  });
  return { outcomes, ...(error !== undefined ? { error } : {}) };
}

/** One ansible or ansible-playbook run with a control-path folder of its own, read through the json callback. */
async function runAnsibleTool(
  argv: string[],
  setup: AnsibleSetup,
  controlPathDir: string,
  marker: string,
  outcomesOf: (stdout: string) => AnsibleOutcomes,
): Promise<ToolRun> {
  await mkdir(controlPathDir, { recursive: true, mode: 0o700 });
  const run = await runMeasured(argv, { env: ansibleEnvironment(setup, controlPathDir, marker), timeoutMs: TOOL_TIMEOUT_MS });
  const parsed = outcomesOf(run.stdout);
  const error = toolRunError(argv[0]!, run) ?? parsed.error;
  return { wallMs: run.wallMs, outcomes: parsed.outcomes, ...(error !== undefined ? { error } : {}) };
}

/** `ansible -m raw` with the joined script: one raw task per host. */
export function runAnsible(context: FleetContext, setup: AnsibleSetup, forks: number, controlPathDir: string, marker: string): Promise<ToolRun> {
  return runAnsibleTool(ansibleArgv(context, setup, forks), setup, controlPathDir, marker, (stdout) => ansibleOutcomes(context, stdout));
}

/** `ansible-playbook` with the raw-tasks playbook: one raw task per step. */
export function runAnsiblePlaybook(context: FleetContext, setup: AnsibleSetup, forks: number, controlPathDir: string, marker: string): Promise<ToolRun> {
  return runAnsibleTool(ansiblePlaybookArgv(setup, forks), setup, controlPathDir, marker, (stdout) => ansibleTaskOutcomes(context, stdout));
}

// ---------------------------------------------------------------- parallel-ssh

export async function writePsshHosts(context: FleetContext): Promise<string> {
  const file = path.join(context.workDir, 'pssh-hosts');
  await writeFile(file, context.hosts.map((host) => `${host.address}\n`).join(''));
  return file;
}

/** The ssh arguments go one by one (-X) rather than as one -x string, so nothing is re-split by shlex. */
export function psshArgv(context: FleetContext, hostsFile: string, parallel: number): string[] {
  const sshArgs = ['-i', context.identityFile, '-o', `UserKnownHostsFile=${context.knownHostsFile}`, '-o', 'StrictHostKeyChecking=yes'];
  return [
    'parallel-ssh',
    '-h',
    hostsFile,
    '-l',
    context.user,
    ...sshArgs.flatMap((arg) => ['-X', arg]),
    '-p',
    String(parallel),
    '-t',
    String(PSSH_HOST_TIMEOUT_S),
    '-i',
    context.script,
  ];
}

/** `-i` output: a "[n] HH:MM:SS [SUCCESS|FAILURE] host [why]" line, then that host's output. */
export function psshOutcomes(context: FleetContext, stdout: string): HostOutcome[] {
  const header = /^\[\d+\] \d\d:\d\d:\d\d \[(SUCCESS|FAILURE)\] (\S+)(?: (.*))?$/gm;
  const blocks = new Map<string, { success: boolean; why: string; text: string }>();
  const matches = [...stdout.matchAll(header)];
  matches.forEach((match, index) => {
    const end = index + 1 < matches.length ? matches[index + 1]!.index : stdout.length;
    blocks.set(match[2]!, {
      success: match[1] === 'SUCCESS',
      why: match[3] ?? '',
      text: stdout.slice(match.index + match[0].length + 1, end),
    });
  });
  return context.hosts.map((host): HostOutcome => {
    const block = blocks.get(host.address);
    if (!block) return failedOutcome(host.name, 'parallel-ssh reported nothing for this host');
    if (!block.success) return failedOutcome(host.name, `parallel-ssh: ${block.why || 'failure'}`);
    return outcomeFromScript(context, host.name, block.text);
  });
}

export async function runPssh(context: FleetContext, hostsFile: string, parallel: number, marker: string): Promise<ToolRun> {
  const [name, value] = marker.split('=') as [string, string];
  const run = await runMeasured(psshArgv(context, hostsFile, parallel), {
    env: { ...process.env, [name]: value },
    timeoutMs: TOOL_TIMEOUT_MS,
  });
  const error = toolRunError('parallel-ssh', run);
  return { wallMs: run.wallMs, outcomes: psshOutcomes(context, run.stdout), ...(error !== undefined ? { error } : {}) };
}
