/**
 * The machine-level plumbing of a lab host: its network namespace and veth pair, the "anchor" process
 * that holds its private mount and UTS namespaces, entering those namespaces, and tearing it all down.
 */
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';

import { HOST_ENV, runChecked, runCommand, sleep } from './commands.js';
import type { SlotNames } from './slots.js';

/** Present in every host folder: cleanup removes only folders that carry it. */
export const HOST_DIR_MARKER = '.oo-lab-host';

/** A network interface of that name in the machine's namespace. */
export function linkExists(name: string): boolean {
  return existsSync(path.join('/sys/class/net', name));
}

export function netnsExists(namespace: string): boolean {
  return existsSync(path.join('/run/netns', namespace));
}

/** Pids whose network namespace is `namespace` (what `ip netns pids` prints), read from /proc. */
export function pidsInNamespace(namespace: string): number[] {
  let target: { dev: number; ino: number };
  try {
    const stat = statSync(path.join('/run/netns', namespace));
    target = { dev: stat.dev, ino: stat.ino };
  } catch {
    return [];
  }
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = statSync(`/proc/${entry}/ns/net`);
      if (stat.dev === target.dev && stat.ino === target.ino) pids.push(Number(entry));
    } catch {
      // The process ended while we looked, or is a kernel thread without namespaces.
    }
  }
  return pids;
}

function killAll(pids: number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}

/** Creates the namespace and its veth pair, addressed as the slot says, with loopback up. */
export async function createNetwork(names: SlotNames): Promise<void> {
  const cidr = (address: string) => `${address}/${names.prefixLength}`;
  await runChecked(['ip', 'netns', 'add', names.namespace], `creating network namespace ${names.namespace}`);
  await runChecked(
    ['ip', '-batch', '-'],
    `creating veth ${names.vethHost}/${names.vethNs}`,
    {
      stdin: [
        `link add ${names.vethHost} type veth peer name ${names.vethNs}`,
        `link set ${names.vethNs} netns ${names.namespace}`,
        `addr add ${cidr(names.gatewayAddress)} dev ${names.vethHost}`,
        `link set ${names.vethHost} up`,
        '',
      ].join('\n'),
    },
  );
  await runChecked(['ip', '-n', names.namespace, '-batch', '-'], `addressing ${names.vethNs} in ${names.namespace}`, {
    stdin: [`addr add ${cidr(names.address)} dev ${names.vethNs}`, `link set ${names.vethNs} up`, 'link set lo up', ''].join(
      '\n',
    ),
  });
}

/**
 * PID 1 of a host: reaps whatever is reparented to it (daemons whose launcher exited, then exit
 * themselves) so no `<defunct>` nginx or redis lingers in the host's `ps`, and calls itself init.
 */
const REAPER = '$0 = q{/sbin/init}; while (1) { sleep 1 if wait() == -1 }';
const REAPER_COMM = '/sbin/init';

/**
 * Sets the host name, makes the mounts, then becomes PID 1. The constant script gets everything as
 * positional arguments (triples: kind, source, target), never spliced into its text.
 */
const ANCHOR_SCRIPT = [
  'set -e',
  'hostname "$1"',
  'reaper="$2"',
  'shift 2',
  'while [ "$#" -ge 3 ]; do',
  '  case "$1" in',
  '    bind) mount --bind "$2" "$3" ;;',
  '    overlay) mount -t overlay overlay -o "lowerdir=$3,upperdir=$2/upper,workdir=$2/work" "$3" ;;',
  '    *) echo "unknown mount kind $1" >&2; exit 1 ;;',
  '  esac',
  '  shift 3',
  'done',
  'exec /usr/bin/perl -e "$reaper"',
].join('\n');

/**
 * `bind`: source replaces target. `overlay`: the machine's target stays readable underneath and
 * whatever the host writes there lands in `${source}/upper` (so a bot's rollback copies under /var/lib
 * or a drop-in under /etc stay on the host that made them).
 */
export interface HostMount {
  kind: 'bind' | 'overlay';
  source: string;
  target: string;
}

/** Children of a (single-threaded) process, as the machine numbers them. */
export function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

/**
 * Starts the host's PID 1, which owns its mount, UTS and PID namespaces (its own `ps`, its own
 * host name, its own /etc/nginx …). Everything else on the host is started by entering its namespaces
 * (see nsenterPrefix), so the bind mounts are made once, here, and only in the new mount namespace:
 * the script runs after `unshare`, and the anchor is only handed out once it has become init, so
 * nothing can be mounted over the machine's own /etc by mistake. Returns its pid as the machine sees it.
 */
export async function startAnchor(
  names: SlotNames,
  hostname: string,
  mounts: readonly HostMount[],
  logFile: string,
): Promise<number> {
  const argv = [
    'netns',
    'exec',
    names.namespace,
    'unshare',
    '--mount',
    '--uts',
    '--pid',
    '--fork',
    '--mount-proc',
    '--propagation',
    'private',
    '--',
    '/bin/sh',
    '-c',
    ANCHOR_SCRIPT,
    'oo-lab-anchor',
    hostname,
    REAPER,
    ...mounts.flatMap((mount) => [mount.kind, mount.source, mount.target]),
  ];
  const fd = openSync(logFile, 'a', 0o644);
  let exitedWith: string | null = null;
  let pid: number | undefined;
  try {
    const child = spawn('ip', argv, { stdio: ['ignore', fd, fd], detached: true, env: HOST_ENV, cwd: '/' });
    child.once('exit', (code, signal) => {
      exitedWith = `exit ${code ?? signal}`;
    });
    child.once('error', (error) => {
      exitedWith = error.message;
    });
    child.unref();
    pid = child.pid;
  } finally {
    closeSync(fd);
  }
  const ownMountNs = statSync('/proc/self/ns/mnt').ino;
  const started = Date.now();
  for (let attempt = 0; attempt < 500 && Date.now() - started < 10_000; attempt += 1) {
    if (exitedWith !== null || pid === undefined) break;
    // `unshare --fork` stays as the parent; the host's init is its only child.
    const init = childPids(pid)[0];
    try {
      if (
        init !== undefined &&
        readFileSync(`/proc/${init}/comm`, 'utf8').trim() === REAPER_COMM &&
        statSync(`/proc/${init}/ns/mnt`).ino !== ownMountNs
      ) {
        return init;
      }
    } catch {
      // Not there yet or already gone; the exit handler tells which.
    }
    await sleep(10);
  }
  if (pid !== undefined && exitedWith === null) killAll([pid, ...childPids(pid)]);
  const log = readFileSync(logFile, 'utf8').trim().split('\n').slice(-10).join('\n');
  throw new Error(
    `the namespaces of ${names.namespace} could not be set up (${exitedWith ?? 'not ready within 10 s'}): ${log || '(no output)'}`,
  );
}

/**
 * argv prefix that runs the rest inside the host: its network, mount, UTS and PID namespaces.
 * nsenter forks to enter the PID namespace and waits for that child: signals sent to nsenter do not
 * reach the program it runs (see LabHostImpl.stopSshd).
 */
export function nsenterPrefix(anchorPid: number): string[] {
  return ['nsenter', `--target=${anchorPid}`, '--net', '--mount', '--uts', '--pid', '--'];
}

/** True while the anchor still holds a mount namespace other than the machine's. */
export function anchorAlive(anchorPid: number): boolean {
  try {
    return statSync(`/proc/${anchorPid}/ns/mnt`).ino !== statSync('/proc/self/ns/mnt').ino;
  } catch {
    return false;
  }
}

/** The machine's pid of the process a host knows as `hostPid` (from a pid file inside the host). */
export function machinePid(namespace: string, hostPid: number): number | null {
  for (const pid of pidsInNamespace(namespace)) {
    try {
      const nspids = /^NSpid:\s+(.*)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]?.trim().split(/\s+/);
      if (nspids && nspids.length > 1 && Number(nspids[nspids.length - 1]) === hostPid) return pid;
    } catch {
      // Gone while we looked.
    }
  }
  return null;
}

function removeHostDirSync(hostDir: string): void {
  if (hostDir && path.isAbsolute(hostDir) && existsSync(path.join(hostDir, HOST_DIR_MARKER))) {
    rmSync(hostDir, { recursive: true, force: true });
  }
}

/**
 * Everything a host leaves on the machine, removed without awaiting anything: for process exit and for
 * reclaiming a dead owner's slot. Mounts need no unmounting: they live in the host's own mount
 * namespace, which ends with its last process.
 */
export function teardownSync(names: SlotNames, hostDir: string): void {
  for (let round = 0; round < 50; round += 1) {
    const pids = pidsInNamespace(names.namespace);
    if (pids.length === 0) break;
    killAll(pids);
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
  }
  // Deleting either end of a veth pair deletes both; the ns end is only here if the host died
  // before moving it into its namespace.
  for (const link of [names.vethHost, names.vethNs]) {
    if (linkExists(link)) spawnSync('ip', ['link', 'del', link], { stdio: 'ignore', timeout: 10_000 });
  }
  if (netnsExists(names.namespace)) {
    spawnSync('ip', ['netns', 'del', names.namespace], { stdio: 'ignore', timeout: 10_000 });
  }
  removeHostDirSync(hostDir);
}

/** teardownSync's asynchronous twin, for destroy(): many hosts go down at once without blocking. */
export async function teardown(names: SlotNames, hostDir: string): Promise<void> {
  for (let round = 0; round < 100; round += 1) {
    const pids = pidsInNamespace(names.namespace);
    if (pids.length === 0) break;
    killAll(pids);
    await sleep(20);
  }
  const left = pidsInNamespace(names.namespace);
  if (left.length > 0) throw new Error(`processes ${left.join(', ')} in ${names.namespace} survived SIGKILL`);
  for (const link of [names.vethHost, names.vethNs]) {
    if (linkExists(link)) await runCommand(['ip', 'link', 'del', link], { timeoutMs: 10_000 });
  }
  if (netnsExists(names.namespace)) {
    await runChecked(['ip', 'netns', 'del', names.namespace], `deleting network namespace ${names.namespace}`, {
      timeoutMs: 10_000,
    });
  }
  if (hostDir && path.isAbsolute(hostDir) && existsSync(path.join(hostDir, HOST_DIR_MARKER))) {
    await rm(hostDir, { recursive: true, force: true });
  }
}
