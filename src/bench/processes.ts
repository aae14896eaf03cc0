/**
 * Running the measured tools: argv arrays (never a shell string), wall time from spawn to exit, a time
 * limit, and a registry of what is still running so a signal can end exactly the processes the
 * benchmark started.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { performance } from 'node:perf_hooks';

const live = new Set<ChildProcess>();

/** Children the benchmark started that have not exited yet. */
export function trackChild(child: ChildProcess): void {
  live.add(child);
  child.once('exit', () => live.delete(child));
}

/** Ends every child still running, by its own pid. */
export function killTrackedChildren(signal: NodeJS.Signals = 'SIGTERM'): number {
  let count = 0;
  for (const child of live) {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      try {
        process.kill(child.pid, signal);
        count += 1;
      } catch {
        // Gone already.
      }
    }
  }
  return count;
}

export interface MeasuredRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  wallMs: number;
  timedOut: boolean;
}

export interface MeasuredOptions {
  env: NodeJS.ProcessEnv;
  timeoutMs: number;
  cwd?: string;
  /** Output beyond this is dropped (and the run reported as failed by its parser). Default 256 MiB. */
  maxOutputBytes?: number;
}

export function runMeasured(argv: readonly string[], options: MeasuredOptions): Promise<MeasuredRun> {
  const [file, ...args] = argv;
  if (!file) return Promise.reject(new Error('runMeasured needs a program'));
  const cap = options.maxOutputBytes ?? 256 * 1024 * 1024;
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(file, args, { env: options.env, cwd: options.cwd ?? '/', stdio: ['ignore', 'pipe', 'pipe'] });
    trackChild(child);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outBytes = 0;
    let errBytes = 0;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => {
      if (outBytes < cap) out.push(chunk);
      outBytes += chunk.length;
    });
    child.stderr.on('data', (chunk: Buffer) => {
      if (errBytes < cap) err.push(chunk);
      errBytes += chunk.length;
    });
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`cannot run ${file}: ${error.message}`));
    });
    // Wall time ends when the tool exits. A daemon it left behind (ssh's ControlPersist master) could
    // hold the output pipes open: they are cut a little after the exit so the result is not held up.
    let exitedAt: number | null = null;
    child.once('exit', () => {
      exitedAt = performance.now();
      setTimeout(() => {
        child.stdout.destroy();
        child.stderr.destroy();
      }, 2_000).unref();
    });
    child.once('close', (code, signal) => {
      const wallMs = (exitedAt ?? performance.now()) - started;
      clearTimeout(timer);
      resolve({
        code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        wallMs,
        timedOut,
      });
    });
  });
}

/** The first line of a tool's complaint, for a failure message. */
export function firstLine(text: string, max = 300): string {
  const line = text.split('\n').find((candidate) => candidate.trim() !== '') ?? '';
  return line.length > max ? `${line.slice(0, max)}…` : line.trim();
}
