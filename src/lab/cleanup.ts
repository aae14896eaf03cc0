/**
 * Removes what dead lab processes left behind: oo-lab-* network namespaces (with every process in
 * them), their veth pairs, their host folders and their slot locks. A slot whose owning process is
 * alive is left alone unless `all` is set. Runs by itself as `node dist/lab/cleanup.js [--all]`.
 */
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

import { netnsExists, teardownSync } from './namespace.js';
import {
  LAB_RUN_DIR,
  SLOT_COUNT,
  processStartTime,
  readLockState,
  reclaimIfStale,
  slotNames,
  slotOfNamespace,
  type SlotOwner,
} from './slots.js';

/** In a lab folder that Lab.create made: which process made it. */
export const LAB_ROOT_MARKER = '.oo-lab-root';
/** mkdtemp's names for lab folders: `oo-lab-` and six characters. */
const LAB_ROOT_NAME = /^oo-lab-[A-Za-z0-9]{6}$/;

export interface CleanupReport {
  /** Namespaces removed, e.g. "oo-lab-3". */
  removedNamespaces: string[];
  /** Slots whose stale lock was removed. */
  releasedSlots: number[];
  /** Namespaces left alone because their owner is alive. */
  liveNamespaces: string[];
  /** Lab folders in the temporary directory whose process is gone. */
  removedRoots: string[];
}

function labNamespaces(): number[] {
  if (!existsSync('/run/netns')) return [];
  return readdirSync('/run/netns')
    .map(slotOfNamespace)
    .filter((slot): slot is number => slot !== null);
}

function lockedSlots(): number[] {
  if (!existsSync(LAB_RUN_DIR)) return [];
  return readdirSync(LAB_RUN_DIR)
    .map((file) => /^slot-(\d+)\.lock$/.exec(file)?.[1])
    .filter((slot): slot is string => slot !== undefined)
    .map(Number)
    .filter((slot) => slot < SLOT_COUNT);
}

/** Orphaned veth ends in the machine's namespace (a host that died between creating and moving them). */
function orphanVethSlots(): number[] {
  if (!existsSync('/sys/class/net')) return [];
  return readdirSync('/sys/class/net')
    .map((name) => /^oolab(\d+)[hg]$/.exec(name)?.[1])
    .filter((slot): slot is string => slot !== undefined)
    .map(Number)
    .filter((slot) => slot < SLOT_COUNT);
}

export async function cleanupStaleLabs(opts: { all?: boolean } = {}): Promise<CleanupReport> {
  const report: CleanupReport = { removedNamespaces: [], releasedSlots: [], liveNamespaces: [], removedRoots: [] };
  const slots = [...new Set([...labNamespaces(), ...lockedSlots(), ...orphanVethSlots()])].sort((a, b) => a - b);
  for (const slot of slots) {
    const names = slotNames(slot);
    const hadNamespace = netnsExists(names.namespace);
    const hadLock = existsSync(names.lockPath);
    const reclaim = (_names: typeof names, owner: SlotOwner | null) => teardownSync(names, owner?.hostDir ?? '');
    let removed: boolean;
    if (opts.all) {
      const state = readLockState(names.lockPath);
      teardownSync(names, state.kind === 'free' ? '' : (state.owner?.hostDir ?? ''));
      if (hadLock) rmSync(names.lockPath, { force: true });
      removed = true;
    } else {
      removed = reclaimIfStale(slot, reclaim);
    }
    if (removed) {
      if (hadNamespace) report.removedNamespaces.push(names.namespace);
      if (hadLock) report.releasedSlots.push(slot);
    } else if (hadNamespace) {
      report.liveNamespaces.push(names.namespace);
    }
  }
  report.removedRoots = removeStaleRoots(tmpdir(), opts.all ?? false);
  return report;
}

/** Lab folders (they hold the lab's private key) whose making process is gone, or all with `all`. */
function removeStaleRoots(dir: string, all: boolean): string[] {
  const removed: string[] = [];
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return removed;
  }
  for (const entry of entries) {
    if (!LAB_ROOT_NAME.test(entry)) continue;
    const root = path.join(dir, entry);
    let owner: { pid?: unknown; startTime?: unknown };
    try {
      owner = JSON.parse(readFileSync(path.join(root, LAB_ROOT_MARKER), 'utf8')) as typeof owner;
    } catch {
      continue;
    }
    const alive = typeof owner.pid === 'number' && processStartTime(owner.pid) === owner.startTime;
    if (all || !alive) {
      rmSync(root, { recursive: true, force: true });
      removed.push(root);
    }
  }
  return removed;
}

/** The command line: `cleanup [--all]`; returns the exit code. */
export async function cleanupCli(args: readonly string[], write: (text: string) => void): Promise<number> {
  const unknown = args.filter((arg) => arg !== '--all');
  if (unknown.length > 0) {
    write(`usage: node dist/lab/cleanup.js [--all]\nunknown argument(s): ${unknown.join(' ')}\n`);
    return 2;
  }
  const report = await cleanupStaleLabs({ all: args.includes('--all') });
  write(
    [
      `removed namespaces: ${report.removedNamespaces.join(' ') || '(none)'}`,
      `released slots: ${report.releasedSlots.join(' ') || '(none)'}`,
      `left alone (owner alive): ${report.liveNamespaces.join(' ') || '(none)'}`,
      `removed lab folders: ${report.removedRoots.join(' ') || '(none)'}`,
      '',
    ].join('\n'),
  );
  return 0;
}

const invokedDirectly = process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href;
if (invokedDirectly) {
  cleanupCli(process.argv.slice(2), (text) => process.stdout.write(text)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: Error) => {
      process.stderr.write(`cleanup failed: ${error.message}\n`);
      process.exitCode = 1;
    },
  );
}
