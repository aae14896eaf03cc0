/**
 * Running the lab's own commands (ip, nsenter, supervisorctl …) as argv arrays, never through a shell
 * string, each with a time limit and an output cap.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

export interface CommandOutcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  /** From spawn to the program's exit (not to its pipes closing). */
  wallMs: number;
}

export interface CommandOptions {
  timeoutMs?: number;
  maxOutputBytes?: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  stdin?: string;
  /** Called with the child as soon as it is spawned (e.g. to register it for a cleanup on signal). */
  onSpawn?: (child: ChildProcess) => void;
  /**
   * Close the output pipes this long after the program exits, even if something it started still holds
   * them (a daemon such as ssh's ControlPersist master), so the result is not held up. Default: wait for
   * them, except after a timeout, when they are cut at once.
   */
  releasePipesAfterExitMs?: number;
}

/**
 * Environment for everything started inside a lab host: the variables of the process that builds the
 * lab (vitest's NODE_OPTIONS, a developer's proxies …) must not leak into the host's daemons.
 */
export const HOST_ENV: NodeJS.ProcessEnv = Object.freeze({
  PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  LANG: 'C.UTF-8',
  HOME: '/root',
});

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function describe(argv: readonly string[]): string {
  return argv.map((arg) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : JSON.stringify(arg))).join(' ');
}

/** Runs argv to completion (or until the time limit, then SIGKILL); never throws for a non-zero exit. */
export function runCommand(argv: readonly string[], opts: CommandOptions = {}): Promise<CommandOutcome> {
  const [file, ...args] = argv;
  if (!file) return Promise.reject(new Error('runCommand needs a program to run'));
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const maxOutputBytes = opts.maxOutputBytes ?? 8 * 1024 * 1024;
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(file, args, {
      stdio: [opts.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      env: opts.env ?? process.env,
      cwd: opts.cwd ?? '/',
    });
    opts.onSpawn?.(child);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outBytes = 0;
    let errBytes = 0;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stdout?.on('data', (chunk: Buffer) => {
      if (outBytes < maxOutputBytes) out.push(chunk);
      outBytes += chunk.length;
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      if (errBytes < maxOutputBytes) err.push(chunk);
      errBytes += chunk.length;
    });
    if (opts.stdin !== undefined) {
      child.stdin?.on('error', () => undefined);
      child.stdin?.end(opts.stdin);
    }
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`cannot run ${describe(argv)}: ${error.message}`));
    });
    let settled = false;
    let exitedAt: number | undefined;
    const finish = (code: number | null, signal: NodeJS.Signals | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({
        code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        timedOut,
        wallMs: (exitedAt ?? performance.now()) - started,
      });
    };
    const releasePipes = () => {
      child.stdout?.destroy();
      child.stderr?.destroy();
    };
    child.once('close', finish);
    child.once('exit', (code, signal) => {
      exitedAt = performance.now();
      // A killed nsenter leaves the program it forked holding our pipes: do not wait for them to close.
      if (timedOut) {
        releasePipes();
        finish(code, signal);
      } else if (opts.releasePipesAfterExitMs !== undefined) {
        setTimeout(releasePipes, opts.releasePipesAfterExitMs).unref();
      }
    });
  });
}

/** runCommand that throws, naming the command and its stderr, unless it exits 0. */
export async function runChecked(argv: readonly string[], what: string, opts: CommandOptions = {}): Promise<string> {
  const result = await runCommand(argv, opts);
  if (result.code !== 0) {
    const why = result.timedOut
      ? `timed out after ${opts.timeoutMs ?? 30_000} ms`
      : `exit ${result.code ?? result.signal}: ${(result.stderr || result.stdout).trim().slice(0, 2000)}`;
    throw new Error(`${what} failed (${describe(argv)}): ${why}`);
  }
  return result.stdout;
}

/**
 * Starts a program that daemonizes (forks and lets its first process exit), with its output appended
 * to logFile. Only the first process is awaited: a daemon that keeps inherited pipes open would make a
 * pipe-based wait hang for its whole life.
 */
export async function launchDaemon(
  argv: readonly string[],
  what: string,
  opts: { logFile: string; env?: NodeJS.ProcessEnv; timeoutMs?: number },
): Promise<void> {
  const [file, ...args] = argv;
  if (!file) throw new Error(`${what}: no program to run`);
  const fd = openSync(opts.logFile, 'a', 0o644);
  const timeoutMs = opts.timeoutMs ?? 30_000;
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      const child = spawn(file, args, { stdio: ['ignore', fd, fd], env: opts.env ?? HOST_ENV, cwd: '/', detached: true });
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`${what} did not hand over to its daemon within ${timeoutMs} ms (${describe(argv)})`));
      }, timeoutMs);
      child.once('error', (error) => {
        clearTimeout(timer);
        reject(new Error(`${what}: cannot run ${describe(argv)}: ${error.message}`));
      });
      child.once('exit', (exitCode) => {
        clearTimeout(timer);
        resolve(exitCode);
      });
    });
    if (code !== 0) throw new Error(`${what} failed (${describe(argv)}): exit ${code}; see ${opts.logFile}`);
  } finally {
    closeSync(fd);
  }
}

export function describeArgv(argv: readonly string[]): string {
  return describe(argv);
}
