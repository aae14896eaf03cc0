import { createWriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { once } from 'node:events';
import { Writable } from 'node:stream';
import { Command, CommanderError, Option } from 'commander';
import { resolveRedisConnection, SettingsError, startService, type ServiceMode } from '../app/index.js';
import { keyspace } from '../queue/keys.js';
import { createRedisClient, waitForReady } from '../queue/redis.js';
import { AUDIT_KINDS, AuditLog, type AuditKind } from '../remediation/audit.js';
import { ConfigError, loadConfig, resolveTargets, UnknownTargetError, type Config } from '../config/index.js';
import { classify } from '../diagnosis/classify.js';
import { diagnoseHosts, rankWithRemediations } from '../diagnosis/diagnose.js';
import type { Finding } from '../diagnosis/types.js';
import { bindRunbook, defaultRunbook, loadRunbooks, RunbookError } from '../runbooks/index.js';
import { SshPool } from '../ssh/index.js';
import { EvidenceInputError, parseEvidenceInput } from './classify-input.js';
import { configCheck } from './config-check.js';
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

/** Resolves on SIGINT or SIGTERM (the way a service manager or Kubernetes stops a process). */
function untilStopSignal(): Promise<string> {
  return new Promise((resolve) => {
    const stop = (signal: string) => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      resolve(signal);
    };
    const onInt = () => stop('SIGINT');
    const onTerm = () => stop('SIGTERM');
    process.once('SIGINT', onInt);
    process.once('SIGTERM', onTerm);
  });
}

async function serviceCommand(mode: ServiceMode, options: { config?: string }, io: Io): Promise<number> {
  const config = await loadConfig(options.config);
  const service = await startService({ config, mode });
  const signal = await untilStopSignal();
  io.stderr(`oo ${mode}: ${signal} received, finishing running work\n`);
  await service.close();
  return EXIT.ok;
}

async function auditExportCommand(
  options: { config?: string; since?: string; host?: string; incident?: string; kind?: string; out?: string },
  io: Io,
): Promise<number> {
  const config = await loadConfig(options.config);
  const { connection, problems } = resolveRedisConnection(config, process.env);
  if (!connection) throw new UsageError(problems.join('; '));
  if (options.kind !== undefined && !(AUDIT_KINDS as readonly string[]).includes(options.kind)) {
    throw new UsageError(`--kind must be one of ${AUDIT_KINDS.join(', ')} (got ${JSON.stringify(options.kind)})`);
  }
  if (options.since !== undefined && Number.isNaN(Date.parse(options.since))) {
    throw new UsageError(`--since is not a time: ${JSON.stringify(options.since)} (use ISO 8601, e.g. 2025-01-31T00:00:00Z)`);
  }
  const redis = createRedisClient(connection, 'producer', { lazyConnect: true });
  redis.on('error', () => undefined);
  try {
    await waitForReady(redis, 10_000);
    const log = new AuditLog(redis, keyspace(config.redis.prefix));
    const stream: Writable = options.out
      ? createWriteStream(options.out, { flags: 'w', mode: 0o600 })
      : new Writable({
          write(chunk: Buffer, _encoding, done) {
            io.stdout(chunk.toString('utf8'));
            done();
          },
        });
    const written = await log.exportJsonl(stream, {
      ...(options.since ? { since: options.since } : {}),
      ...(options.host ? { host: options.host } : {}),
      ...(options.incident ? { incidentKey: options.incident } : {}),
      ...(options.kind ? { kind: options.kind as AuditKind } : {}),
    });
    stream.end();
    if (options.out) await once(stream, 'close');
    io.stderr(`oo audit export: ${written} entr${written === 1 ? 'y' : 'ies'}${options.out ? ` written to ${options.out}` : ''}\n`);
    return EXIT.ok;
  } finally {
    redis.disconnect();
  }
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
  program
    .command('serve')
    .description('Slack app + alert webhooks + workers in one process (PORT, default 3000)')
    .addOption(configOption())
    .action((options: { config?: string }) => run(() => serviceCommand('serve', options, io))());
  program
    .command('worker')
    .description('workers only, against the same Redis (scale out diagnoses and remediations)')
    .addOption(configOption())
    .action((options: { config?: string }) => run(() => serviceCommand('worker', options, io))());
  program
    .command('config')
    .description('the configuration file')
    .command('check')
    .description('validate oo.yaml and the runbooks without connecting to anything; print a summary')
    .addOption(configOption())
    .option('--json', 'print the summary as JSON')
    .action((options: { config?: string; json?: boolean }) => run(() => configCheck(options, io))());
  const audit = program.command('audit').description('the audit trail of requests, approvals and commands');
  audit
    .command('export')
    .description('write the audit trail as JSON Lines, oldest first (to stdout or --out)')
    .addOption(configOption())
    .option('--since <time>', 'only entries at or after this ISO 8601 time')
    .option('--host <host>', 'only entries about this host')
    .option('--incident <key>', 'only entries about this incident')
    .option('--kind <kind>', `only entries of this kind (${AUDIT_KINDS.join(', ')})`)
    .option('--out <file>', 'write to this file (mode 0600) instead of stdout')
    .action((options: { config?: string; since?: string; host?: string; incident?: string; kind?: string; out?: string }) =>
      run(() => auditExportCommand(options, io))(),
    );
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
      error instanceof SettingsError ||
      error instanceof UsageError
    ) {
      io.stderr(`oo: ${error.message}\n`);
      return EXIT.usage;
    }
    io.stderr(`oo: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return EXIT.usage;
  }
}
