// A small deployment on one machine for the scale-out tests: `oo serve` replicas (HTTP mode) and
// `oo worker` processes spawned from bin/oo.js exactly as an operator runs them, one oo.yaml, one Redis
// (append-only file on, fsync always, so it can be stopped and started again on the same port and
// keep every accepted write), and the Slack stand-in. Requests to the serves are spread round-robin
// over their ports as a load balancer would. Every process here is ours and is ended by its pid.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { stringify } from 'yaml';
import { freeLoopbackPort, startRedisOnPort, type TestRedisServer } from '../../../src/testing/redis-server.js';
import { SlackStandin } from '../../../src/testing/slack-standin.js';
import * as requests from '../../../src/testing/slack-requests.js';
import { clickPayload, type ButtonRef } from '../../../src/testing/slack-requests.js';

export const CHANNEL = 'C0OPS';
export const ALICE = 'U0ALICE';
export const SIGNING_SECRET = 'standin-signing-secret-0123456789';
export const ALERT_TOKEN = 'alert-token-0123456789abcdef';
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const BIN = join(ROOT, 'bin', 'oo.js');

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

function waitForExit(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (exited(child)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** A redis-server with its data kept in `dir` across stop() and start() on the same port. */
export class PersistentRedis {
  private server: TestRedisServer | undefined;
  readonly dir = mkdtempSync(join(tmpdir(), 'oo-scale-redis-'));

  private constructor(readonly port: number) {}

  static async start(): Promise<PersistentRedis> {
    const redis = new PersistentRedis(await freeLoopbackPort());
    await redis.start();
    return redis;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.server = await startRedisOnPort(this.port, { dir: this.dir });
  }

  /** Stops the server (SIGTERM: it finishes writing the AOF); the data stays for the next start(). */
  async stop(): Promise<void> {
    await this.server?.stop(10_000);
    this.server = undefined;
  }

  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface OoProcess {
  mode: 'serve' | 'worker';
  name: string;
  child: ChildProcess;
  /** The HTTP port it bound (serve and worker both serve /healthz, /readyz, /metrics). */
  port: number;
  base: string;
  /** Everything it wrote to stderr and stdout so far. */
  output(): string;
  /** Its JSON log lines so far (lines that are not JSON are skipped). */
  logs(): { msg: string; [key: string]: unknown }[];
  exit(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface ClusterOptions {
  hosts: Record<string, unknown>;
  serves: number;
  workers: number;
  workerSettings?: Record<string, unknown>;
}

export class Cluster {
  readonly processes: OoProcess[] = [];
  private turn = 0;

  private constructor(
    readonly redis: PersistentRedis,
    readonly standin: SlackStandin,
    readonly prefix: string,
    private readonly dir: string,
    readonly configFile: string,
  ) {}

  static async start(options: ClusterOptions): Promise<Cluster> {
    const redis = await PersistentRedis.start();
    const standin = await SlackStandin.start({
      channels: [{ id: CHANNEL, name: 'ops' }],
      users: [{ id: ALICE, name: 'alice', real_name: 'Alice Admin' }],
      // Fast enough that a storm's messages are not what the test waits for.
      postMessageRate: false,
    });
    const dir = mkdtempSync(join(tmpdir(), 'oo-scale-'));
    const prefix = `s${randomBytes(3).toString('hex')}`;
    const configFile = join(dir, 'oo.yaml');
    writeFileSync(
      configFile,
      stringify({
        hosts: options.hosts,
        slack: { channel: CHANNEL, progressEveryMs: 250, postEveryMs: 50 },
        policy: { approvers: { low: [ALICE], medium: [ALICE], high: [ALICE, 'U0CAROL'] }, channels: [CHANNEL] },
        workers: { diagnosisAttempts: 2, diagnosisBackoffMs: 500, ...(options.workerSettings ?? {}) },
        redis: { prefix },
      }),
    );
    const cluster = new Cluster(redis, standin, prefix, dir, configFile);
    try {
      const started = [
        ...Array.from({ length: options.serves }, (_, i) => cluster.spawn('serve', `serve-${i + 1}`)),
        ...Array.from({ length: options.workers }, (_, i) => cluster.spawn('worker', `worker-${i + 1}`)),
      ];
      for (const process of await Promise.all(started)) cluster.processes.push(process);
    } catch (error) {
      await cluster.close();
      throw error;
    }
    return cluster;
  }

  async spawn(mode: 'serve' | 'worker', name: string): Promise<OoProcess> {
    const child = spawn(process.execPath, [BIN, mode, '--config', this.configFile], {
      cwd: this.dir,
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: process.env.HOME ?? '/root',
        SLACK_BOT_TOKEN: this.standin.botToken,
        SLACK_SIGNING_SECRET: SIGNING_SECRET,
        SLACK_API_URL: this.standin.apiUrl,
        REDIS_URL: this.redis.url,
        PORT: '0',
        OO_ALERT_TOKEN: ALERT_TOKEN,
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal })),
    );
    const logs = () =>
      output.split('\n').flatMap((line) => {
        if (!line.startsWith('{')) return [];
        try {
          return [JSON.parse(line) as { msg: string; [key: string]: unknown }];
        } catch {
          return [];
        }
      });
    // The composition root logs "oo <mode> listening on *:<port>" once everything is started.
    const deadline = Date.now() + 30_000;
    let port: number | undefined;
    for (let poll = 0; poll < 600 && port === undefined; poll++) {
      const match = /oo (?:serve|worker) listening on \S+?:(\d+)/.exec(output);
      if (match) port = Number(match[1]);
      else if (exited(child)) throw new Error(`${name} exited before it listened:\n${output.slice(-3000)}`);
      else if (Date.now() > deadline) break;
      else await requests.sleep(50);
    }
    if (port === undefined) {
      child.kill('SIGKILL');
      throw new Error(`${name} did not start within 30 s:\n${output.slice(-3000)}`);
    }
    return { mode, name, child, port, base: `http://127.0.0.1:${port}`, output: () => output, logs, exit: () => exit };
  }

  /** The serves still running, in a fixed order. */
  serves(): OoProcess[] {
    return this.processes.filter((p) => p.mode === 'serve' && !exited(p.child));
  }

  /** The next serve in round-robin order: what a load balancer in front of them would pick. */
  next(): OoProcess {
    const serves = this.serves();
    if (serves.length === 0) throw new Error('no serve is running');
    return serves[this.turn++ % serves.length]!;
  }

  postAlert(body: unknown, token: string = ALERT_TOKEN) {
    return requests.postAlert(this.next().base, 'alertmanager', body, token);
  }

  click(user: string, button: ButtonRef) {
    const payload = clickPayload(user, button, CHANNEL, { botUser: this.standin.botUser, triggerId: this.standin.issueTriggerId() });
    return requests.postSlack({ base: this.next().base, signingSecret: SIGNING_SECRET }, { payload: JSON.stringify(payload) });
  }

  /** A plain client on the shared Redis (reads only, for assertions). */
  client(): Redis {
    const client = new Redis(this.redis.url, { maxRetriesPerRequest: 3 });
    client.on('error', () => undefined);
    return client;
  }

  async close(): Promise<void> {
    // SIGTERM first (the graceful path), SIGKILL for anything still running after 20 s.
    await Promise.all(
      this.processes.map(async (p) => {
        if (exited(p.child)) return;
        p.child.kill('SIGTERM');
        if (!(await waitForExit(p.child, 20_000))) {
          p.child.kill('SIGKILL');
          await waitForExit(p.child, 5_000);
        }
      }),
    );
    await this.standin.close();
    await this.redis.destroy();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
