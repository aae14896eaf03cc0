/**
 * The lab: real ONLYOFFICE-Docs-like hosts on this machine, each in its own network and mount
 * namespaces, reached over real SSH and broken for real. Used by the end-to-end tests, `npm run demo`
 * and the fleet benchmark. Needs root and Debian's nginx, supervisor, redis-server, openssh-server,
 * iptables, iproute2, util-linux and curl (see /work/shared/lab.md).
 */
import { constants as fsConstants } from 'node:fs';
import { access, chmod, mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { ensureServiceAccount, requireAccount } from './accounts.js';
import { LAB_ROOT_MARKER, cleanupStaleLabs } from './cleanup.js';
import { runChecked } from './commands.js';
import { FAULTS_NEEDING_FULL_HOST, isLabFault, type LabFault } from './faults.js';
import { LAB_USER, LabHostImpl, type HostContext, type LabHost } from './host.js';
import { SERVICE_PROGRAM_FILE, SERVICE_PROGRAM_SOURCE } from './service-program.js';
import { registerOwnedRoot, unregisterOwnedRoot } from './exit-cleanup.js';
import { LAB_SUBNET, processStartTime } from './slots.js';
import { ensureLabUser, generateKeyPair } from './sshd.js';

export { FAULT_CAUSE, FAULTS_NEEDING_FULL_HOST, LAB_FAULTS, isLabFault, type LabFault } from './faults.js';
export type { ExecResult, HostMemory, LabHost, ProbeResult } from './host.js';
export { ON_HOST } from './layout.js';
export { cleanupStaleLabs, type CleanupReport } from './cleanup.js';

const HOST_NAME_PATTERN = /^[a-z][a-z0-9-]{0,30}$/;

/** Programs the lab runs, with the Debian package that brings each. */
const REQUIRED_PROGRAMS: ReadonlyArray<[string, string]> = [
  ['/usr/sbin/ip', 'iproute2'],
  ['/usr/bin/nsenter', 'util-linux'],
  ['/usr/bin/unshare', 'util-linux'],
  ['/usr/bin/setpriv', 'util-linux'],
  ['/usr/sbin/nginx', 'nginx-light'],
  ['/usr/bin/supervisord', 'supervisor'],
  ['/usr/bin/supervisorctl', 'supervisor'],
  ['/usr/bin/redis-server', 'redis-server'],
  ['/usr/sbin/sshd', 'openssh-server'],
  ['/usr/bin/ssh-keygen', 'openssh-client'],
  ['/usr/sbin/iptables', 'iptables'],
  ['/usr/bin/curl', 'curl'],
  ['/usr/bin/sudo', 'sudo'],
];

export interface AddHostOptions {
  name: string;
  fault?: LabFault;
  /** No example and no Redis: for fleets of many hosts (the benchmark). Healthy otherwise. */
  light?: boolean;
}

export interface AddHostsOptions {
  /** Hosts are named `${namePrefix}${i}`, i from 1; default "docs-". */
  namePrefix?: string;
  fault?: LabFault;
  light?: boolean;
  /** How many hosts start at once; default 6. */
  concurrency?: number;
}

/** A host as the contract's oo.yaml `hosts:` section describes it. */
export interface InventoryEntry {
  address: string;
  port: number;
  user: string;
  identityFile: string;
  hostKey: string;
  install: 'deb';
  processManager: 'supervisor';
  sudo: true;
}

async function checkMachine(): Promise<void> {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new Error('the lab needs root: it creates network namespaces, mounts and system accounts');
  }
  const missing: string[] = [];
  for (const [program, pkg] of REQUIRED_PROGRAMS) {
    try {
      await access(program, fsConstants.X_OK);
    } catch {
      missing.push(`${program} (apt-get install ${pkg})`);
    }
  }
  if (missing.length > 0) throw new Error(`the lab needs programs that are missing: ${missing.join(', ')}`);
}

/**
 * The lab's folder is seen by the hosts at its own path. It must not lie under a tree the hosts
 * overlay (their view of it would be a frozen lower layer) and must not hold characters that the
 * overlay mount options would read as separators.
 */
function checkRoot(root: string): void {
  if (!path.isAbsolute(root)) throw new Error(`lab root ${JSON.stringify(root)} must be an absolute path`);
  if (!/^[A-Za-z0-9._/-]+$/.test(root)) {
    throw new Error(`lab root ${JSON.stringify(root)} may only contain letters, digits and . _ - /`);
  }
  const resolved = path.resolve(root);
  for (const tree of ['/etc', '/var', '/home', '/root', '/run', '/proc', '/sys', '/dev']) {
    if (resolved === tree || resolved.startsWith(`${tree}/`)) {
      throw new Error(`lab root ${resolved} is under ${tree}, which the lab hosts see through their own mounts: use e.g. /tmp`);
    }
  }
}

export class Lab {
  readonly root: string;
  /** Private key that logs in as `oolab` on every host of this lab. */
  readonly identityFile: string;
  /** known_hosts with every live host's pinned key, for `ssh -o UserKnownHostsFile=…`. */
  readonly knownHostsFile: string;
  private readonly live = new Map<string, LabHostImpl>();
  private readonly pending = new Set<string>();
  private readonly ownsRoot: boolean;
  private destroyed = false;
  private knownHostsWrite: Promise<void> = Promise.resolve();

  private constructor(
    root: string,
    ownsRoot: boolean,
    private readonly context: Omit<HostContext, 'onDestroyed'>,
  ) {
    this.root = root;
    this.ownsRoot = ownsRoot;
    this.identityFile = context.identityFile;
    this.knownHostsFile = path.join(root, 'known_hosts');
  }

  static async create(opts: { root?: string } = {}): Promise<Lab> {
    await checkMachine();
    let root: string;
    let ownsRoot: boolean;
    if (opts.root !== undefined) {
      checkRoot(opts.root);
      root = path.resolve(opts.root);
      ownsRoot = false;
      await mkdir(root, { recursive: true });
    } else {
      root = await mkdtemp(path.join(tmpdir(), 'oo-lab-'));
      ownsRoot = true;
      registerOwnedRoot(root);
      const owner = { pid: process.pid, startTime: processStartTime(process.pid) };
      await writeFile(path.join(root, LAB_ROOT_MARKER), `${JSON.stringify(owner)}\n`);
      checkRoot(root);
    }
    // sshd reads authorized_keys as the lab user and the services run as ds: both must get through.
    await chmod(root, 0o755);
    await cleanupStaleLabs();
    // Traffic for a lab address whose host is gone must not follow the default route off the machine:
    // each live host's /30 is more specific than this.
    await runChecked(['ip', 'route', 'replace', 'blackhole', LAB_SUBNET], `blackholing ${LAB_SUBNET}`);

    await ensureLabUser(LAB_USER);
    const accounts = {
      ds: await ensureServiceAccount('ds'),
      redis: await requireAccount('redis', 'the lab hosts run redis-server as redis'),
    };

    const binDir = path.join(root, 'bin');
    await mkdir(binDir, { recursive: true, mode: 0o755 });
    const programPath = path.join(binDir, SERVICE_PROGRAM_FILE);
    await writeFile(programPath, SERVICE_PROGRAM_SOURCE, { mode: 0o644 });

    const clientDir = path.join(root, 'client');
    await mkdir(clientDir, { recursive: true, mode: 0o700 });
    const client = await generateKeyPair(clientDir, 'id_ed25519');

    const lab = new Lab(root, ownsRoot, {
      root,
      nodePath: process.execPath,
      programPath,
      identityFile: client.privateKeyPath,
      clientPublicKey: client.publicKeyLine,
      accounts,
    });
    await lab.writeKnownHosts();
    return lab;
  }

  hosts(): LabHost[] {
    return [...this.live.values()];
  }

  host(name: string): LabHost {
    const host = this.live.get(name);
    if (!host) throw new Error(`the lab has no host named ${JSON.stringify(name)}`);
    return host;
  }

  async addHost(opts: AddHostOptions): Promise<LabHost> {
    if (this.destroyed) throw new Error('this lab is destroyed');
    const name = opts?.name;
    if (typeof name !== 'string' || !HOST_NAME_PATTERN.test(name)) {
      throw new Error(`lab host name ${JSON.stringify(name)} must match ${HOST_NAME_PATTERN} (it becomes the host name)`);
    }
    if (opts.fault !== undefined && !isLabFault(opts.fault)) throw new Error(`unknown lab fault ${JSON.stringify(opts.fault)}`);
    if (opts.light && opts.fault !== undefined && FAULTS_NEEDING_FULL_HOST.includes(opts.fault)) {
      throw new Error(`fault ${opts.fault} needs the example and Redis, which a light host does not run`);
    }
    if (this.live.has(name) || this.pending.has(name)) throw new Error(`the lab already has a host named ${name}`);
    this.pending.add(name);
    try {
      const host = await LabHostImpl.start(
        {
          ...this.context,
          onDestroyed: (gone) => {
            this.live.delete(gone.name);
            if (!this.destroyed) void this.writeKnownHosts().catch(() => undefined);
          },
        },
        { name, light: opts.light ?? false },
      );
      this.live.set(name, host);
      await this.writeKnownHosts();
      if (opts.fault !== undefined) {
        try {
          await host.breakWith(opts.fault);
        } catch (error) {
          await host.destroy().catch(() => undefined);
          throw new Error(`lab host ${name} started but could not be broken with ${opts.fault}: ${(error as Error).message}`);
        }
      }
      return host;
    } finally {
      this.pending.delete(name);
    }
  }

  /** n hosts, at most `concurrency` starting at once; all of them or, on a failure, none. */
  async addHosts(n: number, opts: AddHostsOptions = {}): Promise<LabHost[]> {
    if (!Number.isInteger(n) || n < 1 || n > 1_000) throw new Error(`addHosts needs a host count from 1 to 1000, got ${n}`);
    const prefix = opts.namePrefix ?? 'docs-';
    const concurrency = opts.concurrency ?? 6;
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new Error(`concurrency must be a positive integer, got ${concurrency}`);
    const results: LabHost[] = new Array<LabHost>(n);
    const failures: Error[] = [];
    let next = 0;
    const worker = async () => {
      while (next < n && failures.length === 0) {
        const index = next;
        next += 1;
        try {
          results[index] = await this.addHost({
            name: `${prefix}${index + 1}`,
            ...(opts.fault !== undefined ? { fault: opts.fault } : {}),
            ...(opts.light !== undefined ? { light: opts.light } : {}),
          });
        } catch (error) {
          failures.push(error as Error);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
    if (failures.length > 0) {
      await Promise.all(results.filter(Boolean).map((host) => host.destroy().catch(() => undefined)));
      throw new Error(`addHosts(${n}) failed: ${failures.map((error) => error.message).join('; ')}`);
    }
    return results;
  }

  /** Every live host as an oo.yaml `hosts:` entry, by name. */
  inventory(): Record<string, InventoryEntry> {
    const entries: Record<string, InventoryEntry> = {};
    for (const host of this.live.values()) {
      entries[host.name] = {
        address: host.address,
        port: host.port,
        user: host.user,
        identityFile: host.identityFile,
        hostKey: host.hostKey,
        install: 'deb',
        processManager: 'supervisor',
        sudo: true,
      };
    }
    return entries;
  }

  /** Rewrites known_hosts from the live hosts; writes are queued so concurrent adds cannot interleave. */
  private writeKnownHosts(): Promise<void> {
    const write = async () => {
      const lines = [...this.live.values()].map((host) => `${host.knownHostsLine}\n`).join('');
      const temporary = `${this.knownHostsFile}.tmp`;
      await writeFile(temporary, lines, { mode: 0o644 });
      await rename(temporary, this.knownHostsFile);
    };
    const next = this.knownHostsWrite.then(write, write);
    this.knownHostsWrite = next.catch(() => undefined);
    return next;
  }

  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    const results = await Promise.allSettled([...this.live.values()].map((host) => host.destroy()));
    const failed = results.filter((result): result is PromiseRejectedResult => result.status === 'rejected');
    await this.knownHostsWrite;
    if (this.ownsRoot) {
      await rm(this.root, { recursive: true, force: true });
      unregisterOwnedRoot(this.root);
    }
    else await rm(this.knownHostsFile, { force: true });
    if (failed.length > 0) {
      throw new Error(`destroying the lab left errors: ${failed.map((result) => String(result.reason)).join('; ')}`);
    }
  }
}
