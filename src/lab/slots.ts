/**
 * Slots: which lab host owns which namespace name, veth names and /30 in 10.231.0.0/16. Several
 * processes build labs at once (vitest workers, a benchmark, a demo), so a slot is claimed with an
 * exclusive lock file under /run/oo-lab/ naming the owning process. A lock whose process is gone (the
 * pid is dead, or reused by a process that started at another time) is stale and may be reclaimed.
 */
import { closeSync, mkdirSync, openSync, readFileSync, rmdirSync, statSync, unlinkSync, writeSync } from 'node:fs';
import path from 'node:path';

export const LAB_RUN_DIR = '/run/oo-lab';
export const NAMESPACE_PREFIX = 'oo-lab-';
export const LAB_SUBNET = '10.231.0.0/16';
/** LAB_SUBNET cut into /30s: one per host. */
export const SLOT_COUNT = 16_384;
const SUBNET_BASE = (10 << 24) | (231 << 16);

export interface SlotNames {
  slot: number;
  namespace: string;
  /** The veth end left in the machine's namespace. */
  vethHost: string;
  /** The veth end moved into the host's namespace. */
  vethNs: string;
  /** Address of vethHost: the machine's side of the /30. */
  gatewayAddress: string;
  /** Address of vethNs: where the lab host's sshd, nginx … are reached. */
  address: string;
  prefixLength: 30;
  lockPath: string;
}

function ipv4(value: number): string {
  return [24, 16, 8, 0].map((shift) => (value >>> shift) & 0xff).join('.');
}

export function slotNames(slot: number): SlotNames {
  if (!Number.isInteger(slot) || slot < 0 || slot >= SLOT_COUNT) {
    throw new Error(`lab slot ${slot} is outside 0..${SLOT_COUNT - 1}`);
  }
  const base = SUBNET_BASE + slot * 4;
  return {
    slot,
    namespace: `${NAMESPACE_PREFIX}${slot}`,
    // Interface names are limited to 15 characters: "oolab16383h" is 11.
    vethHost: `oolab${slot}h`,
    vethNs: `oolab${slot}g`,
    gatewayAddress: ipv4(base + 1),
    address: ipv4(base + 2),
    prefixLength: 30,
    lockPath: path.join(LAB_RUN_DIR, `slot-${slot}.lock`),
  };
}

/** The slot a namespace name belongs to, or null when the name is not one of the lab's. */
export function slotOfNamespace(name: string): number | null {
  const match = /^oo-lab-(\d{1,5})$/.exec(name);
  if (!match?.[1]) return null;
  const slot = Number(match[1]);
  return slot < SLOT_COUNT && String(slot) === match[1] ? slot : null;
}

export interface SlotOwner {
  pid: number;
  /** Field 22 of /proc/<pid>/stat: tells a live owner from a later process that got the same pid. */
  startTime: string;
  hostName: string;
  /** The host's own folder, removed when the slot is reclaimed. */
  hostDir: string;
  createdAt: string;
}

/** Start time of a process in clock ticks since boot, or null when there is no such process. */
export function processStartTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count fields after its last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19] ?? null;
  } catch {
    return null;
  }
}

export function ownerAlive(owner: SlotOwner): boolean {
  return processStartTime(owner.pid) === owner.startTime;
}

function parseOwner(text: string): SlotOwner | null {
  try {
    const value = JSON.parse(text) as Partial<SlotOwner>;
    if (typeof value.pid !== 'number' || typeof value.startTime !== 'string') return null;
    return {
      pid: value.pid,
      startTime: value.startTime,
      hostName: typeof value.hostName === 'string' ? value.hostName : '',
      hostDir: typeof value.hostDir === 'string' ? value.hostDir : '',
      createdAt: typeof value.createdAt === 'string' ? value.createdAt : '',
    };
  } catch {
    return null;
  }
}

export type LockState =
  | { kind: 'free' }
  | { kind: 'live'; owner: SlotOwner }
  | { kind: 'stale'; owner: SlotOwner | null; text: string };

/** A lock being written right now is briefly empty: only one that stays unreadable this long is stale. */
const UNREADABLE_GRACE_MS = 30_000;

export function readLockState(lockPath: string): LockState {
  let text: string;
  let mtimeMs: number;
  try {
    text = readFileSync(lockPath, 'utf8');
    mtimeMs = statSync(lockPath).mtimeMs;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'free' };
    throw error;
  }
  const owner = parseOwner(text);
  if (owner) return ownerAlive(owner) ? { kind: 'live', owner } : { kind: 'stale', owner, text };
  if (Date.now() - mtimeMs < UNREADABLE_GRACE_MS) {
    return { kind: 'live', owner: { pid: 0, startTime: '', hostName: '', hostDir: '', createdAt: '' } };
  }
  return { kind: 'stale', owner: null, text };
}

function ownIdentity(): { pid: number; startTime: string } {
  const startTime = processStartTime(process.pid);
  if (startTime === null) throw new Error('cannot read /proc/self/stat: the lab needs Linux /proc');
  return { pid: process.pid, startTime };
}

function tryCreateLock(lockPath: string, owner: SlotOwner): boolean {
  let fd: number;
  try {
    fd = openSync(lockPath, 'wx', 0o644);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
  try {
    writeSync(fd, `${JSON.stringify(owner)}\n`);
  } finally {
    closeSync(fd);
  }
  return true;
}

/**
 * Runs `reclaim` for a stale slot while holding a short-lived guard (an atomic mkdir), so two
 * processes that both find the same stale lock do not both take the slot over. Returns false when
 * another process is reclaiming it right now.
 */
function reclaimStale(names: SlotNames, staleText: string, reclaim: (owner: SlotOwner | null) => void): boolean {
  const guard = `${names.lockPath}.reclaim`;
  try {
    mkdirSync(guard);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    const age = (() => {
      try {
        return Date.now() - statSync(guard).mtimeMs;
      } catch {
        return 0;
      }
    })();
    // A guard this old belongs to a process that died while reclaiming.
    if (age > 60_000) rmdirSync(guard, { maxRetries: 0 });
    return false;
  }
  try {
    let current: string;
    try {
      current = readFileSync(names.lockPath, 'utf8');
    } catch {
      return true;
    }
    if (current !== staleText) return true;
    reclaim(parseOwner(current));
    try {
      unlinkSync(names.lockPath);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    return true;
  } finally {
    rmdirSync(guard);
  }
}

/**
 * Claims the lowest free slot. `reclaim` tears down what a dead owner left behind (its namespace, veth
 * and folder) before the slot is reused; it is also called for a freshly claimed slot whose namespace
 * still exists, since no live process can own a slot without its lock.
 */
export function acquireSlot(
  host: { hostName: string; hostDir: string },
  reclaim: (names: SlotNames, owner: SlotOwner | null) => void,
): SlotNames {
  mkdirSync(LAB_RUN_DIR, { recursive: true, mode: 0o755 });
  const identity = ownIdentity();
  for (let slot = 0; slot < SLOT_COUNT; slot += 1) {
    const names = slotNames(slot);
    const owner: SlotOwner = { ...identity, ...host, createdAt: new Date().toISOString() };
    if (tryCreateLock(names.lockPath, owner)) {
      reclaim(names, null);
      return names;
    }
    const state = readLockState(names.lockPath);
    if (state.kind === 'live') continue;
    if (state.kind === 'stale') {
      const done = reclaimStale(names, state.text, (staleOwner) => reclaim(names, staleOwner));
      if (done && tryCreateLock(names.lockPath, owner)) {
        reclaim(names, null);
        return names;
      }
    }
  }
  throw new Error(`every one of the ${SLOT_COUNT} lab slots in ${LAB_RUN_DIR} is taken by a live process`);
}

/** Frees a slot this process holds; a lock that now names another owner is left alone. */
export function releaseSlot(names: SlotNames): void {
  let text: string;
  try {
    text = readFileSync(names.lockPath, 'utf8');
  } catch {
    return;
  }
  const owner = parseOwner(text);
  if (owner && owner.pid === process.pid && owner.startTime === processStartTime(process.pid)) {
    try {
      unlinkSync(names.lockPath);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
}

/** Reclaims a stale slot found by a sweep; false when it is live or someone else is reclaiming it. */
export function reclaimIfStale(slot: number, reclaim: (names: SlotNames, owner: SlotOwner | null) => void): boolean {
  mkdirSync(LAB_RUN_DIR, { recursive: true, mode: 0o755 });
  const names = slotNames(slot);
  const state = readLockState(names.lockPath);
  if (state.kind === 'live') return false;
  if (state.kind === 'free') {
    // Hold the slot's lock while tearing down, or a process claiming the slot this very moment could
    // lose the namespace it has just made.
    const sweeper: SlotOwner = { ...ownIdentity(), hostName: '', hostDir: '', createdAt: new Date().toISOString() };
    if (!tryCreateLock(names.lockPath, sweeper)) return false;
    try {
      reclaim(names, null);
    } finally {
      releaseSlot(names);
    }
    return true;
  }
  return reclaimStale(names, state.text, (owner) => reclaim(names, owner));
}
