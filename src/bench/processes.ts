/**
 * Running the measured tools: argv arrays (never a shell string), wall time from spawn to exit, a time
 * limit, and a registry of what is still running so a signal can end exactly the processes the
 * benchmark started.
 */
import type { ChildProcess } from 'node:child_process';
import { runCommand, type CommandOutcome } from '../lab/commands.js';

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

export type MeasuredRun = CommandOutcome;

export interface MeasuredOptions {
  env: NodeJS.ProcessEnv;
  timeoutMs: number;
  cwd?: string;
  /** Output beyond this is dropped (and the run reported as failed by its parser). Default 256 MiB. */
  maxOutputBytes?: number;
}

/**
 * The lab's runCommand, set up for a measured tool: every child is tracked (a signal to the benchmark
 * ends exactly what it started), and wall time ends when the tool exits, its pipes cut 2 s later in
 * case a daemon it left behind (ssh's ControlPersist master) holds them open.
 */
export function runMeasured(argv: readonly string[], options: MeasuredOptions): Promise<MeasuredRun> {
  return runCommand(argv, {
    env: options.env,
    timeoutMs: options.timeoutMs,
    cwd: options.cwd ?? '/',
    maxOutputBytes: options.maxOutputBytes ?? 256 * 1024 * 1024,
    onSpawn: trackChild,
    releasePipesAfterExitMs: 2_000,
  });
}

/** The first line of a tool's complaint, for a failure message. */
export function firstLine(text: string, max = 300): string {
  const line = text.split('\n').find((candidate) => candidate.trim() !== '') ?? '';
  return line.length > max ? `${line.slice(0, max)}…` : line.trim();
}
