import { readFile } from 'node:fs/promises';
import { Command, CommanderError, Option } from 'commander';
import { ConfigError, loadConfig, resolveTargets, UnknownTargetError, type Config } from '../config/index.js';
import { classify } from '../diagnosis/classify.js';
import { diagnoseHosts, rankWithRemediations } from '../diagnosis/diagnose.js';
import type { Finding } from '../diagnosis/types.js';
import { bindRunbook, defaultRunbook, loadRunbooks, RunbookError } from '../runbooks/index.js';
import { SshPool } from '../ssh/index.js';
import { EvidenceInputError, parseEvidenceInput } from './classify-input.js';
import { renderFinding, renderFindings } from './render.js';

/** The contract's exit codes. */
export const EXIT = { ok: 0, fault: 1, usage: 2, unreachable: 3 } as const;

class UsageError extends Error {}

interface Io {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  readStdin: () => Promise<string>;
  color: boolean;
  width: number;
}

async function readAllStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function defaultIo(): Io {
  const tty = process.stdout.isTTY === true;
  return {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    readStdin: readAllStdin,
    color: tty && process.env.NO_COLOR === undefined,
    width: tty ? process.stdout.columns : 160,
  };
}

export function exitCodeFor(findings: Finding[]): number {
  if (findings.some((finding) => finding.verdict === 'unreachable')) return EXIT.unreachable;
  if (findings.some((finding) => finding.verdict === 'fault')) return EXIT.fault;
  return EXIT.ok;
}

async function diagnoseCommand(target: string, options: { config?: string; json?: boolean }, io: Io): Promise<number> {
  const config = await loadConfig(options.config);
  const hosts = resolveTargets(config, target);
  const runbook = bindRunbook(defaultRunbook());
  const pool = new SshPool(sshPoolOptions(config));
  try {
    const findings = await diagnoseHosts(hosts, {
      runbook,
      connect: (host) => pool.connect(hosts.find((candidate) => candidate.name === host.name)!),
      maxParallel: config.ssh.maxParallelHosts,
    });
    io.stdout(options.json ? `${JSON.stringify(findings, null, 2)}\n` : `${renderFindings(findings, io)}\n`);
    return exitCodeFor(findings);
  } finally {
    await pool.close();
  }
}

export function sshPoolOptions(config: Config) {
  return {
    connectTimeoutMs: config.ssh.connectTimeoutMs,
    keepaliveIntervalMs: config.ssh.keepaliveIntervalMs,
    maxSessionsPerConnection: config.ssh.maxSessionsPerConnection,
  };
}

async function classifyCommand(input: string, options: { json?: boolean }, io: Io): Promise<number> {
  const source = input === '-' ? 'standard input' : input;
  const text = input === '-' ? await io.readStdin() : await readFile(input, 'utf8').catch((error: NodeJS.ErrnoException) => {
    throw new UsageError(`cannot read ${input}: ${error.code === 'ENOENT' ? 'no such file' : error.message}`);
  });
  const evidence = parseEvidenceInput(text, source);
  const classification = classify(evidence);
  const runbook = bindRunbook(defaultRunbook());
  const finding = {
    host: input === '-' ? 'stdin' : input,
    verdict: classification.verdict,
    causes: rankWithRemediations(classification.causes, runbook),
    steps: [],
  } satisfies Finding;
  if (options.json) {
    // The contract's classify output is the finding object without a host.
    const { host: _host, ...object } = finding;
    io.stdout(`${JSON.stringify(object, null, 2)}\n`);
  } else {
    io.stdout(`${renderFinding(finding, io)}\n`);
  }
  return EXIT.ok;
}

async function hostsCommand(options: { config?: string; json?: boolean }, io: Io): Promise<number> {
  const config = await loadConfig(options.config);
  if (options.json) {
    io.stdout(`${JSON.stringify({ hosts: config.hosts, groups: config.groups }, null, 2)}\n`);
    return EXIT.ok;
  }
  const rows = Object.entries(config.hosts).map(([name, host]) => {
    const key = host.hostKeys.length > 0 ? 'pinned key' : `known_hosts ${host.knownHostsFile}`;
    const manager = host.processManager ?? 'detect';
    const via = host.jump ? ` via ${host.jump}` : '';
    return `${name}\t${host.user}@${host.address}:${host.port}${via}\t${host.install ?? '?'}/${manager}${host.container ? ` (${host.container})` : ''}\t${key}${host.sudo ? '\tsudo' : ''}`;
  });
  const groups = Object.entries(config.groups).map(([name, members]) => `${name}: ${members.join(', ')}`);
  io.stdout(`${rows.join('\n')}\n${groups.length > 0 ? `\ngroups\n${groups.join('\n')}\n` : ''}`);
  return EXIT.ok;
}

async function runbooksCommand(options: { json?: boolean }, io: Io): Promise<number> {
  const runbooks = await loadRunbooks();
  if (options.json) {
    io.stdout(`${JSON.stringify(runbooks, null, 2)}\n`);
    return EXIT.ok;
  }
  const lines: string[] = [];
  for (const runbook of runbooks) {
    lines.push(`${runbook.id} — ${runbook.title}`);
    lines.push(`  steps: ${runbook.steps.map((step) => step.id).join(', ')}`);
    for (const fix of runbook.remediations) {
      lines.push(`  fix ${fix.id} (${fix.risk}) — ${fix.title}; fixes ${fix.fixes.map((f) => f.cause + (f.subject ? `[${f.subject}]` : '')).join(', ')}`);
    }
  }
  io.stdout(`${lines.join('\n')}\n`);
  return EXIT.ok;
}

function buildProgram(io: Io, setExit: (code: number) => void): Command {
  const program = new Command('oo')
    .description('Finds why ONLYOFFICE Docs answers 502 Bad Gateway, shows the proof, names the fix.')
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .showHelpAfterError();
  const configOption = () => new Option('--config <file>', 'inventory file (default $OO_CONFIG, then ./oo.yaml)');
  const run = (action: () => Promise<number>) => async () => setExit(await action());

  program
    .command('diagnose')
    .description('run the 502 runbook on a host or group over SSH and classify what it shows')
    .argument('<host|group>')
    .addOption(configOption())
    .option('--json', 'print the contract JSON (an array, one object per host)')
    .action((target: string, options: { config?: string; json?: boolean }) => run(() => diagnoseCommand(target, options, io))());
  program
    .command('classify')
    .description('classify evidence already collected (a JSON object of step id → raw text); no SSH')
    .argument('<evidence.json|->')
    .option('--json', 'print the contract JSON object')
    .action((input: string, options: { json?: boolean }) => run(() => classifyCommand(input, options, io))());
  program
    .command('hosts')
    .description('list the inventory after validating it')
    .addOption(configOption())
    .option('--json', 'print JSON')
    .action((options: { config?: string; json?: boolean }) => run(() => hostsCommand(options, io))());
  program
    .command('runbooks')
    .description('list the runbooks after validating them')
    .option('--json', 'print JSON')
    .action((options: { json?: boolean }) => run(() => runbooksCommand(options, io))());
  return program;
}

/** Runs the CLI; returns the exit code instead of exiting, so tests can call it in-process. */
export async function runCli(argv: string[], io: Io = defaultIo()): Promise<number> {
  let exitCode: number = EXIT.ok;
  const program = buildProgram(io, (code) => (exitCode = code));
  try {
    await program.parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version are not errors; everything else commander rejects is bad usage.
      return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    if (
      error instanceof ConfigError ||
      error instanceof RunbookError ||
      error instanceof UnknownTargetError ||
      error instanceof EvidenceInputError ||
      error instanceof UsageError
    ) {
      io.stderr(`oo: ${error.message}\n`);
      return EXIT.usage;
    }
    io.stderr(`oo: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return EXIT.usage;
  }
}
