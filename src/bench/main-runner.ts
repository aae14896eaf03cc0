/**
 * The shared outside of the service benchmarks' commands: usage errors exit 2, a signal cleans up what
 * the run started (lab hosts, the service, Redis) before exiting, results are written as JSON and
 * Markdown next to each other.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { killTrackedChildren } from './processes.js';
import { UsageError } from './report.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.resolve(HERE, '..', '..');
export const RESULTS_DIR = path.join(REPO_ROOT, 'bench', 'results');

export type Log = (line: string) => void;
export const log: Log = (line) => process.stderr.write(`${line}\n`);

export interface BenchContext {
  signal: AbortSignal;
  /** Registers what a signal must clean up; called in reverse order. */
  onCleanup(cleanup: () => Promise<unknown>): void;
}

export async function writeResults(jsonOut: string, report: unknown, markdown: string): Promise<string> {
  const file = path.resolve(jsonOut);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, `${JSON.stringify(report, null, 2)}\n`);
  const mdFile = file.replace(/\.json$/, '.md');
  await writeFile(mdFile, markdown.endsWith('\n') ? markdown : `${markdown}\n`);
  return `wrote ${path.relative(process.cwd(), file) || file} and ${path.relative(process.cwd(), mdFile) || mdFile}`;
}

/**
 * Runs a benchmark's main: `run` returns the exit code. Usage errors print the usage and exit 2; any
 * other error exits 1; SIGINT/SIGTERM/SIGHUP run the registered cleanups and exit 128+n.
 */
export function runMain(name: string, usage: string, run: (argv: string[], context: BenchContext) => Promise<number>): void {
  const cleanups: (() => Promise<unknown>)[] = [];
  const abort = new AbortController();
  const cleanAll = async () => {
    killTrackedChildren();
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch((error: unknown) => log(`cleanup: ${(error as Error).message}`));
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      if (abort.signal.aborted) return;
      process.stderr.write(`\n${signal}: cleaning up …\n`);
      abort.abort(signal);
      void cleanAll().finally(() => process.exit(128 + (os.constants.signals[signal] ?? 1)));
    });
  }
  run(process.argv.slice(2), { signal: abort.signal, onCleanup: (cleanup) => cleanups.push(cleanup) })
    .then(
      async (code) => {
        await cleanAll();
        process.exit(code);
      },
      async (error: unknown) => {
        await cleanAll();
        if (error instanceof UsageError) {
          process.stderr.write(`${error.message}\n${usage}\n`);
          process.exit(2);
        }
        process.stderr.write(`${name}: ${error instanceof Error ? error.message : String(error)}\n`);
        process.exit(1);
      },
    );
}

export function isMain(moduleUrl: string): boolean {
  return process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(moduleUrl);
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `check` every `everyMs` until it returns something, at most `timeoutMs`; null on timeout. */
export async function pollFor<T>(check: () => T | undefined | Promise<T | undefined>, timeoutMs: number, everyMs = 5): Promise<T | null> {
  const deadline = Date.now() + timeoutMs;
  const maxPolls = Math.ceil(timeoutMs / everyMs) + 1;
  for (let poll = 0; poll < maxPolls; poll += 1) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() >= deadline) break;
    await sleep(everyMs);
  }
  return null;
}
