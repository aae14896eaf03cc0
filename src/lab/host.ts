/**
 * One lab host: its own network, mount, UTS and PID namespaces, running what an ONLYOFFICE Docs deb
 * install runs (nginx, supervisord with ds:docservice/ds:converter/ds:example, Redis) and an
 * sshd the tests and the bot log in to as `oolab`. breakWith() breaks it the way real hosts break.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';

import type { Account } from './accounts.js';
import { HOST_ENV, launchDaemon, runCommand, sleep, type CommandOutcome } from './commands.js';
import { registerLiveHost, unregisterLiveHost } from './exit-cleanup.js';
import { FAULTS_NEEDING_FULL_HOST, isLabFault, type LabFault } from './faults.js';
import {
  ON_HOST,
  hostMounts,
  hostPaths,
  inTree,
  randomSecrets,
  renderBehaviour,
  renderDsConf,
  renderDsDocservice,
  renderHttpCommon,
  renderLocalJson,
  writeHostTree,
  type Behaviour,
  type HostPaths,
  type OnlyofficeSecrets,
} from './layout.js';
import {
  HOST_DIR_MARKER,
  anchorAlive,
  childPids,
  createNetwork,
  machinePid,
  nsenterPrefix,
  pidsInNamespace,
  startAnchor,
  teardown,
  teardownSync,
} from './namespace.js';
import { acquireSlot, releaseSlot, type SlotNames } from './slots.js';
import { prepareSshd, startSshd, tcpAccepts, type RunningSshd } from './sshd.js';

export const LAB_USER = 'oolab';

export interface ExecResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface HostMemory {
  processes: number;
  /** Sum of resident set sizes: counts shared pages (node, python, libc) once per process. */
  rssKiB: number;
  /** Sum of proportional set sizes: shared pages split between their users, what the host really costs. */
  pssKiB: number;
}

export interface ProbeResult {
  path: string;
  /** HTTP status nginx answered with; 0 when nothing answered. */
  status: number;
}

export interface LabHost {
  readonly name: string;
  /** The host's side of its veth pair: where SSH, nginx … are reached from the machine. */
  readonly address: string;
  readonly port: 22;
  readonly user: 'oolab';
  readonly identityFile: string;
  /** Pinned host key, "ssh-ed25519 AAAA…". */
  readonly hostKey: string;
  /** known_hosts line for this host. */
  readonly knownHostsLine: string;
  readonly namespace: string;
  readonly light: boolean;
  /** Faults applied so far, in order. */
  readonly faults: readonly LabFault[];
  /** Wall-clock time addHost took until the host answered healthy. */
  readonly startupMs: number;
  /** What the requests made after the last breakWith got from nginx. */
  readonly lastProbe: readonly ProbeResult[];
  /** Runs argv as root inside the host (its network, mount, UTS and PID namespaces); for tests, not over SSH. */
  exec(argv: string[], opts?: { timeoutMs?: number; stdin?: string }): Promise<ExecResult>;
  breakWith(fault: LabFault): Promise<void>;
  stopSshd(): Promise<void>;
  memory(): Promise<HostMemory>;
  destroy(): Promise<void>;
}

export interface HostContext {
  root: string;
  nodePath: string;
  programPath: string;
  identityFile: string;
  clientPublicKey: string;
  accounts: { ds: Account; redis: Account };
  onDestroyed(host: LabHostImpl): void;
}

export interface HostOptions {
  name: string;
  light: boolean;
}

const STATE_WAIT_MS = 30_000;

function httpGet(address: string, port: number, urlPath: string, timeoutMs: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const request = http.get({ host: address, port, path: urlPath, timeout: timeoutMs, agent: false }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        if (body.length < 4096) body += chunk;
      });
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
      response.on('error', () => resolve({ status: 0, body: '' }));
    });
    request.on('timeout', () => request.destroy());
    request.on('error', () => resolve({ status: 0, body: '' }));
  });
}


/** `supervisorctl status` lines → program name → state. */
export function parseSupervisorStatus(output: string): Map<string, string> {
  const states = new Map<string, string>();
  for (const line of output.split('\n')) {
    const match = /^(\S+)\s+([A-Z]+)\b/.exec(line.trim());
    if (match?.[1] && match[2]) states.set(match[1], match[2]);
  }
  return states;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitFor<T>(what: string, timeoutMs: number, check: () => Promise<T | null | undefined | false>): Promise<T> {
  const started = Date.now();
  for (let attempt = 0; attempt < 10_000; attempt += 1) {
    const value = await check();
    if (value) return value;
    if (Date.now() - started > timeoutMs) break;
    await sleep(Math.min(50 + attempt * 25, 250));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

interface NginxState {
  docserviceServer: string;
  docserviceLocation: string[];
  brokenDsConf: boolean;
}

export class LabHostImpl implements LabHost {
  readonly port = 22 as const;
  readonly user = LAB_USER;
  readonly name: string;
  readonly light: boolean;
  readonly identityFile: string;
  address = '';
  hostKey = '';
  namespace = '';
  startupMs = 0;
  faults: LabFault[] = [];
  lastProbe: ProbeResult[] = [];

  private names: SlotNames | null = null;
  private readonly paths: HostPaths;
  private anchorPid = 0;
  private sshd: RunningSshd | null = null;
  private destroyed = false;
  private behaviour: Behaviour;
  private nginx: NginxState = { docserviceServer: 'localhost:8000', docserviceLocation: [], brokenDsConf: false };
  private readonly secrets: OnlyofficeSecrets = randomSecrets();

  private constructor(
    private readonly ctx: HostContext,
    opts: HostOptions,
  ) {
    this.name = opts.name;
    this.light = opts.light;
    this.identityFile = ctx.identityFile;
    this.paths = hostPaths(path.join(ctx.root, 'hosts', opts.name));
    this.behaviour = { redis: !opts.light, slowMs: 0, bigHeaderBytes: 0 };
  }

  get knownHostsLine(): string {
    return `${this.address} ${this.hostKey}`;
  }

  private get withExample(): boolean {
    return !this.light;
  }

  static async start(ctx: HostContext, opts: HostOptions): Promise<LabHostImpl> {
    const host = new LabHostImpl(ctx, opts);
    const started = Date.now();
    try {
      await host.boot();
    } catch (error) {
      await host.destroy().catch(() => undefined);
      throw new Error(`lab host ${opts.name} did not start: ${(error as Error).message}`);
    }
    host.startupMs = Date.now() - started;
    return host;
  }

  private async boot(): Promise<void> {
    await mkdir(this.paths.hostDir, { recursive: true, mode: 0o755 });
    await writeFile(path.join(this.paths.hostDir, HOST_DIR_MARKER), `${this.name}\n`);
    const names = acquireSlot({ hostName: this.name, hostDir: this.paths.hostDir }, (slot, owner) =>
      teardownSync(slot, owner?.hostDir ?? ''),
    );
    this.names = names;
    registerLiveHost(names, this.paths.hostDir);
    this.namespace = names.namespace;
    this.address = names.address;

    await writeHostTree(this.paths, {
      hostname: this.name,
      withExample: this.withExample,
      withRedis: this.behaviour.redis,
      secrets: this.secrets,
      nodePath: this.ctx.nodePath,
      programPath: this.ctx.programPath,
      ds: this.ctx.accounts.ds,
      redis: this.ctx.accounts.redis,
    });
    const sshd = await prepareSshd({
      dir: this.paths.sshdDir,
      listenAddress: names.address,
      port: 22,
      authorizedKeys: [this.ctx.clientPublicKey],
      user: LAB_USER,
    });
    this.hostKey = sshd.hostPublicKeyLine;

    await createNetwork(names);
    this.anchorPid = await startAnchor(names, this.name, hostMounts(this.paths), this.paths.anchorLog);

    if (this.behaviour.redis) {
      await this.launch(
        ['setpriv', '--reuid=redis', '--regid=redis', '--init-groups', 'redis-server', ON_HOST.redisConf],
        'starting redis-server',
      );
      await waitFor('redis-server to write its pid file', 10_000, async () => existsSync(inTree(this.paths, ON_HOST.redisPid)));
    }
    await this.launch(['supervisord', '-c', ON_HOST.supervisorConf], 'starting supervisord');
    await this.launch(['nginx'], 'starting nginx');
    const [running] = await Promise.all([
      startSshd(sshd.configPath, { wrapper: nsenterPrefix(this.anchorPid) }),
      this.withExample ? this.startExample() : Promise.resolve(),
    ]);
    this.sshd = running;
    await this.waitHealthy();
  }

  private async startExample(): Promise<void> {
    await waitFor('supervisord to accept commands', STATE_WAIT_MS, async () => (await this.supervisorStates()).size > 0);
    await this.exec(['supervisorctl', 'start', 'ds:example']);
  }

  private async waitHealthy(): Promise<void> {
    const programs = ['ds:docservice', 'ds:converter', ...(this.withExample ? ['ds:example'] : [])];
    await waitFor(`${programs.join(', ')} to be RUNNING`, STATE_WAIT_MS, async () => {
      const states = await this.supervisorStates();
      return programs.every((program) => states.get(program) === 'RUNNING');
    });
    await waitFor('/healthcheck through nginx to answer true', STATE_WAIT_MS, async () => {
      const answer = await httpGet(this.address, 80, '/healthcheck', 2_000);
      return answer.status === 200 && answer.body === 'true';
    });
    if (this.withExample) {
      await waitFor('/example/ through nginx to answer 200', STATE_WAIT_MS, async () => {
        return (await httpGet(this.address, 80, '/example/', 2_000)).status === 200;
      });
    }
  }

  private requireRunning(): void {
    if (this.destroyed) throw new Error(`lab host ${this.name} is destroyed`);
    if (!this.anchorPid || !anchorAlive(this.anchorPid)) {
      throw new Error(`lab host ${this.name} has no mount namespace any more (anchor process ${this.anchorPid} is gone)`);
    }
  }

  private async launch(argv: string[], what: string): Promise<void> {
    this.requireRunning();
    await launchDaemon([...nsenterPrefix(this.anchorPid), ...argv], `${what} on ${this.name}`, {
      logFile: this.paths.launchLog,
    });
  }

  async exec(argv: string[], opts: { timeoutMs?: number; stdin?: string } = {}): Promise<ExecResult> {
    if (!Array.isArray(argv) || argv.length === 0 || argv.some((arg) => typeof arg !== 'string')) {
      throw new Error('exec needs a non-empty argv array of strings');
    }
    this.requireRunning();
    const timeoutMs = opts.timeoutMs ?? 30_000;
    // The time limit is enforced inside the host too: killing nsenter would not stop what it runs.
    const limit = ['timeout', '--kill-after=2', `${Math.max(1, Math.ceil(timeoutMs / 1000))}`];
    const result: CommandOutcome = await runCommand([...nsenterPrefix(this.anchorPid), ...limit, ...argv], {
      env: HOST_ENV,
      timeoutMs: timeoutMs + 3_000,
      ...(opts.stdin !== undefined ? { stdin: opts.stdin } : {}),
    });
    return {
      code: result.code,
      stdout: result.stdout,
      stderr: result.timedOut || result.code === 124 ? `${result.stderr}\n(timed out after ${timeoutMs} ms)` : result.stderr,
    };
  }

  private async execChecked(argv: string[], what: string, timeoutMs = 30_000): Promise<string> {
    const result = await this.exec(argv, { timeoutMs });
    if (result.code !== 0) {
      throw new Error(`${what} on ${this.name} failed (${argv.join(' ')}): exit ${result.code}: ${(result.stderr || result.stdout).trim()}`);
    }
    return result.stdout;
  }

  private async supervisorStates(): Promise<Map<string, string>> {
    const result = await this.exec(['supervisorctl', 'status'], { timeoutMs: 10_000 });
    return parseSupervisorStatus(result.stdout);
  }

  private async waitForProgramState(program: string, states: readonly string[], timeoutMs = STATE_WAIT_MS): Promise<string> {
    return waitFor(`${program} to reach ${states.join(' or ')}`, timeoutMs, async () => {
      const state = (await this.supervisorStates()).get(program);
      return state !== undefined && states.includes(state) ? state : null;
    });
  }

  /**
   * supervisorctl start/restart wait for the program to settle, which for a program that keeps dying
   * takes all of its retries: run them without waiting and watch the state instead.
   */
  private startDetached(argv: string[]): void {
    const fd = openSync(this.paths.launchLog, 'a', 0o644);
    try {
      const child = spawn(argv[0] ?? 'true', argv.slice(1), { stdio: ['ignore', fd, fd], env: HOST_ENV, cwd: '/', detached: true });
      child.on('error', () => undefined);
      child.unref();
    } finally {
      closeSync(fd);
    }
  }

  private async writeOnHost(onHost: string, content: string): Promise<void> {
    await writeFile(inTree(this.paths, onHost), content);
  }

  private async setBehaviour(change: Partial<Behaviour>): Promise<void> {
    this.behaviour = { ...this.behaviour, ...change };
    await writeFile(this.paths.behaviourFile, renderBehaviour(this.behaviour));
  }

  private async writeNginxFiles(): Promise<void> {
    await this.writeOnHost(ON_HOST.httpCommon, renderHttpCommon(this.nginx.docserviceServer));
    await this.writeOnHost(ON_HOST.dsDocservice, renderDsDocservice(this.nginx.docserviceLocation));
    const dsConf = renderDsConf();
    // An edit that lost a semicolon: nginx reads the next line as more arguments of `listen`.
    await this.writeOnHost(ON_HOST.dsConf, this.nginx.brokenDsConf ? dsConf.replace('listen 0.0.0.0:80;', 'listen 0.0.0.0:80') : dsConf);
  }

  /** The machine's pid of a daemon whose pid file (inside the host) holds the host's pid for it. */
  private pidFromFile(onHost: string): number | null {
    let hostPid: number;
    try {
      hostPid = Number(readFileSync(inTree(this.paths, onHost), 'utf8').trim());
    } catch {
      return null;
    }
    if (!Number.isInteger(hostPid) || hostPid <= 0 || !this.names) return null;
    return machinePid(this.names.namespace, hostPid);
  }

  private nginxMasterPid(): number | null {
    return this.pidFromFile(ON_HOST.nginxPid);
  }

  /** `nginx -s reload`, then waits until every old worker has been replaced by one on the new config. */
  private async reloadNginx(): Promise<void> {
    const master = this.nginxMasterPid();
    if (master === null) throw new Error(`nginx is not running on ${this.name}`);
    const oldWorkers = new Set(childPids(master));
    await this.execChecked(['nginx', '-s', 'reload'], 'reloading nginx');
    await waitFor('nginx to replace its workers after reload', 10_000, async () => {
      const workers = childPids(master);
      return workers.length > 0 && workers.every((pid) => !oldWorkers.has(pid));
    });
  }

  async breakWith(fault: LabFault): Promise<void> {
    if (typeof fault !== 'string' || !isLabFault(fault)) throw new Error(`unknown lab fault ${JSON.stringify(fault)}`);
    this.requireRunning();
    if (this.light && FAULTS_NEEDING_FULL_HOST.includes(fault)) {
      throw new Error(`fault ${fault} needs the example and Redis, which light host ${this.name} does not run`);
    }
    // Breaking a host the same way twice changes nothing; the request below still shows its state.
    if (!this.faults.includes(fault)) {
      await this.applyFault(fault);
      this.faults.push(fault);
    }
    this.lastProbe = await this.requestThroughNginx();
  }

  private async applyFault(fault: LabFault): Promise<void> {
    switch (fault) {
      case 'backend_down':
        await this.execChecked(['supervisorctl', 'stop', 'ds:docservice'], 'stopping ds:docservice');
        await this.waitForProgramState('ds:docservice', ['STOPPED']);
        return;
      case 'backend_crashloop': {
        // An edit of local.json that left a trailing comma: node-config cannot parse it and the
        // service dies at start, again and again.
        const broken = renderLocalJson(this.secrets).replace(/\n}\n$/, ',\n}\n');
        await this.writeOnHost(ON_HOST.localJson, broken);
        this.startDetached([...nsenterPrefix(this.anchorPid), 'supervisorctl', 'restart', 'ds:docservice']);
        await this.waitForProgramState('ds:docservice', ['FATAL']);
        return;
      }
      case 'wrong_upstream_port':
        this.nginx.docserviceServer = 'localhost:8001';
        await this.writeNginxFiles();
        await this.reloadNginx();
        return;
      case 'port_conflict': {
        await this.execChecked(['supervisorctl', 'stop', 'ds:docservice'], 'stopping ds:docservice');
        this.startDetached([
          ...nsenterPrefix(this.anchorPid),
          'setsid',
          this.ctx.nodePath,
          this.ctx.programPath,
          'squatter',
          '8000',
        ]);
        await waitFor('another program to listen on port 8000', 10_000, () => tcpAccepts(this.address, 8000, 1_000));
        this.startDetached([...nsenterPrefix(this.anchorPid), 'supervisorctl', 'start', 'ds:docservice']);
        await this.waitForProgramState('ds:docservice', ['FATAL']);
        await waitFor('EADDRINUSE in the docservice log', 10_000, async () =>
          (await readFile(inTree(this.paths, ON_HOST.docserviceOut), 'utf8')).includes('EADDRINUSE'),
        );
        return;
      }
      case 'upstream_timeout':
        this.nginx.docserviceLocation = [...this.nginx.docserviceLocation, 'proxy_read_timeout 2s;'];
        await this.writeNginxFiles();
        await this.reloadNginx();
        await this.setBehaviour({ slowMs: 5_000 });
        return;
      case 'header_too_big':
        await this.setBehaviour({ bigHeaderBytes: 64 * 1024 });
        return;
      case 'firewall_drop':
      case 'firewall_reject': {
        // The upstream is addressed over the network, as when docservice runs on another machine, and
        // the firewall on its port drops or rejects what nginx sends.
        this.nginx.docserviceServer = `${this.address}:8000`;
        if (fault === 'firewall_drop') {
          this.nginx.docserviceLocation = [...this.nginx.docserviceLocation, 'proxy_connect_timeout 2s;'];
        }
        await this.writeNginxFiles();
        await this.reloadNginx();
        const target = fault === 'firewall_drop' ? ['-j', 'DROP'] : ['-j', 'REJECT', '--reject-with', 'icmp-host-prohibited'];
        await this.execChecked(['iptables', '-A', 'INPUT', '-p', 'tcp', '--dport', '8000', ...target], 'adding the firewall rule');
        return;
      }
      case 'dependency_redis': {
        const pid = this.pidFromFile(ON_HOST.redisPid);
        if (pid === null) throw new Error(`redis-server is not running on ${this.name}`);
        process.kill(pid, 'SIGTERM');
        await waitFor('redis-server to stop', 10_000, async () => !processAlive(pid));
        await this.waitForProgramState('ds:docservice', ['FATAL']);
        return;
      }
      case 'example_not_started':
        await this.execChecked(['supervisorctl', 'stop', 'ds:example'], 'stopping ds:example');
        await this.waitForProgramState('ds:example', ['STOPPED']);
        return;
      case 'disk_full':
        await this.fillCacheDisk();
        return;
      case 'nginx_config_invalid': {
        this.nginx.brokenDsConf = true;
        await this.writeNginxFiles();
        // A reload signal reaches the running master after the edit (a deploy script's kill -HUP): it
        // fails to read the new configuration, logs why, and keeps serving with the old one.
        const master = this.nginxMasterPid();
        if (master === null) throw new Error(`nginx is not running on ${this.name}`);
        process.kill(master, 'SIGHUP');
        await waitFor('nginx to log the rejected configuration', 10_000, async () =>
          (await readFile(inTree(this.paths, ON_HOST.nginxErrorLog), 'utf8').catch(() => '')).includes('[emerg]'),
        );
        return;
      }
      case 'nginx_down': {
        const master = this.nginxMasterPid();
        await this.execChecked(['nginx', '-s', 'stop'], 'stopping nginx');
        if (master !== null) await waitFor('nginx to stop', 10_000, async () => !processAlive(master));
        return;
      }
      case 'host_unreachable':
        await this.stopSshd();
        return;
    }
  }

  /** A small tmpfs over the cache folder (/var/lib/onlyoffice), filled to the last byte. */
  private async fillCacheDisk(): Promise<void> {
    const { uid, gid } = this.ctx.accounts.ds;
    await this.execChecked(['mount', '-t', 'tmpfs', '-o', 'size=1m,mode=0755', 'tmpfs', ON_HOST.dataRoot], 'mounting a small tmpfs');
    await this.execChecked(['mkdir', '-p', ON_HOST.cacheFiles], 'recreating the cache folder');
    await this.execChecked(['chown', '-R', `${uid}:${gid}`, path.join(ON_HOST.dataRoot, 'documentserver')], 'handing the cache to ds');
    const fill = await this.exec(['dd', 'if=/dev/zero', `of=${path.join(ON_HOST.cacheFiles, 'data.bin')}`, 'bs=64k', 'count=64']);
    if (!/No space left on device/.test(fill.stderr)) {
      throw new Error(`filling ${ON_HOST.dataRoot} on ${this.name} did not run out of space: ${fill.stderr.trim()}`);
    }
  }

  /** One request to the docservice location and one to /example/, as a user's browser would make. */
  private async requestThroughNginx(): Promise<ProbeResult[]> {
    const paths = ['/healthcheck', ...(this.withExample ? ['/example/'] : [])];
    const results: ProbeResult[] = [];
    for (const urlPath of paths) {
      const result = await this.exec(
        ['curl', '-s', '-o', '/dev/null', '-m', '10', '-w', '%{http_code}', `http://127.0.0.1${urlPath}`],
        { timeoutMs: 15_000 },
      );
      results.push({ path: urlPath, status: Number(result.stdout.trim()) || 0 });
    }
    return results;
  }

  async stopSshd(): Promise<void> {
    const sshd = this.sshd;
    this.sshd = null;
    if (!sshd) return;
    // sshd runs as the child of the nsenter that startSshd spawned, and nsenter does not pass signals
    // on: stop sshd itself, after which nsenter exits with it.
    for (const pid of childPids(sshd.pid)) {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        // Already gone.
      }
    }
    await sshd.stop();
  }

  async memory(): Promise<HostMemory> {
    if (!this.names) return { processes: 0, rssKiB: 0, pssKiB: 0 };
    const pids = pidsInNamespace(this.names.namespace);
    let rssKiB = 0;
    let pssKiB = 0;
    let processes = 0;
    for (const pid of pids) {
      try {
        const rollup = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8');
        rssKiB += Number(/^Rss:\s+(\d+)/m.exec(rollup)?.[1] ?? 0);
        pssKiB += Number(/^Pss:\s+(\d+)/m.exec(rollup)?.[1] ?? 0);
        processes += 1;
      } catch {
        // The process ended while we measured, or is a zombie without mappings.
      }
    }
    return { processes, rssKiB, pssKiB };
  }

  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    await this.stopSshd().catch(() => undefined);
    if (this.names) {
      await teardown(this.names, this.paths.hostDir);
      releaseSlot(this.names);
      unregisterLiveHost(this.names);
    } else {
      await rm(this.paths.hostDir, { recursive: true, force: true });
    }
    this.ctx.onDestroyed(this);
  }
}
