// A throw-away redis-server for tests: loopback only, a free port, no persistence, and the eviction
// policy BullMQ requires (an evicted job key would silently lose work). The process is ours; stop()
// ends it by its pid, and an exit hook ends any a crashed test left running. The same binary also
// runs the sentinels of a Sentinel set and the nodes of a Redis Cluster (redis-topologies.ts).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestRedisServer {
  host: '127.0.0.1';
  port: number;
  /** `redis://127.0.0.1:<port>` */
  url: string;
  pid: number;
  /** Ends the server (SIGTERM, then SIGKILL after `graceMs`) and removes its working folder. */
  stop(graceMs?: number): Promise<void>;
  /** Kills the server at once (SIGKILL), as a crash or a lost machine would; the folder stays until stop(). */
  crash(): Promise<void>;
}

export interface StartRedisOptions {
  /** Path of the redis-server binary (default: `redis-server` on PATH). */
  binary?: string;
  /** How long to wait for "Ready to accept connections" (default 10 s). */
  readyTimeoutMs?: number;
  /** Ports tried before giving up when another process takes the free port first (default 5). */
  maxPortAttempts?: number;
  /** More redis-server arguments (`--requirepass`, `--replicaof`, `--cluster-enabled`…). */
  args?: string[];
}

/** How one process is started: a data server with `args` after the defaults, or a sentinel. */
interface Launch {
  binary: string;
  port: number;
  readyTimeoutMs: number;
  storage?: RedisStorage;
  args?: string[];
  /** Sentinel mode: the lines of its sentinel.conf after `port`, `bind` and `dir`. */
  sentinel?: string[];
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of live) {
      try {
        child.kill('SIGKILL');
      } catch {
        // Already gone.
      }
    }
  });
}

/** A port nobody listens on right now; another process may still take it before redis binds it. */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('could not read the free port'))));
    });
  });
}

function waitForExit(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** Where a server keeps its data: a throw-away folder by default, or one kept across restarts with AOF. */
export interface RedisStorage {
  /** Folder for the append-only file; it is left in place when the server stops. */
  dir: string;
}

function argumentsFor(launch: Launch, dir: string): { args: string[]; readyLine: string } {
  const { port, storage } = launch;
  if (launch.sentinel) {
    // A sentinel rewrites its configuration file as it learns the set, so it needs one of its own.
    const file = join(dir, 'sentinel.conf');
    writeFileSync(file, [`port ${port}`, 'bind 127.0.0.1', `dir ${dir}`, ...launch.sentinel, ''].join('\n'), { mode: 0o600 });
    return { args: [file, '--sentinel'], readyLine: '+monitor master' };
  }
  // With storage, every write is on disk before it is acknowledged, so a restart loses nothing accepted.
  const persistence = storage ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no'];
  const args = [
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--save', '',
    ...persistence,
    '--maxmemory-policy', 'noeviction',
    '--dir', dir,
    '--protected-mode', 'yes',
    ...(launch.args ?? []),
  ];
  return { args, readyLine: 'Ready to accept connections' };
}

async function startOnce(launch: Launch): Promise<TestRedisServer> {
  const { binary, port, readyTimeoutMs, storage } = launch;
  const dir = storage?.dir ?? mkdtempSync(join(tmpdir(), 'oo-redis-'));
  const { args, readyLine } = argumentsFor(launch, dir);
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  installExitHook();
  let output = '';
  const ready = await new Promise<boolean>((resolve, reject) => {
    const timer = setTimeout(() => resolve(false), readyTimeoutMs);
    const onData = (chunk: Buffer) => {
      output = (output + chunk.toString('utf8')).slice(-8192);
      if (output.includes(readyLine)) {
        clearTimeout(timer);
        resolve(true);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`could not start ${binary}: ${error.message}`));
    });
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(false);
    });
  });
  const stop = async (graceMs = 5000): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      if (!(await waitForExit(child, graceMs))) {
        child.kill('SIGKILL');
        await waitForExit(child, graceMs);
      }
    }
    live.delete(child);
    if (!storage) rmSync(dir, { recursive: true, force: true });
  };
  const crash = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await waitForExit(child, 5000);
    }
  };
  if (!ready || child.pid === undefined) {
    await stop(1000);
    const reason = output.trim().split('\n').slice(-3).join(' | ') || 'no output';
    throw new Error(`redis-server${launch.sentinel ? ' --sentinel' : ''} on 127.0.0.1:${port} did not become ready: ${reason}`);
  }
  // Keep draining its output so a chatty server never blocks on a full pipe.
  child.stdout?.resume();
  child.stderr?.resume();
  return { host: '127.0.0.1', port, url: `redis://127.0.0.1:${port}`, pid: child.pid, stop, crash };
}

/**
 * Starts a process on a free port, trying another port when something else took the first one before
 * the server bound it. `launch` is given the port; a binary that cannot start at all is not retried.
 */
export async function onFreePort(launch: (port: number) => Promise<TestRedisServer>, attempts = 5): Promise<TestRedisServer> {
  let lastError: unknown;
  for (let attempt = 0; attempt < Math.max(1, attempts); attempt++) {
    try {
      return await launch(await freeLoopbackPort());
    } catch (error) {
      lastError = error;
      if (error instanceof Error && error.message.startsWith('could not start')) break;
    }
  }
  throw lastError instanceof Error ? lastError : new Error(String(lastError));
}

/** Starts `redis-server --port P --save '' --appendonly no --maxmemory-policy noeviction` on 127.0.0.1. */
export function startRedisServer(options: StartRedisOptions = {}): Promise<TestRedisServer> {
  const binary = options.binary ?? 'redis-server';
  const readyTimeoutMs = options.readyTimeoutMs ?? 10_000;
  return onFreePort((port) => startOnce({ binary, port, readyTimeoutMs, ...(options.args ? { args: options.args } : {}) }), options.maxPortAttempts);
}

/** Starts `redis-server <conf> --sentinel` on a free loopback port; `lines` are its sentinel.conf. */
export function startSentinel(lines: string[], options: Pick<StartRedisOptions, 'binary' | 'readyTimeoutMs'> = {}): Promise<TestRedisServer> {
  const binary = options.binary ?? 'redis-server';
  return onFreePort((port) => startOnce({ binary, port, readyTimeoutMs: options.readyTimeoutMs ?? 10_000, sentinel: lines }));
}

/**
 * Starts redis-server on a given port with its data in `storage.dir` (AOF, fsync on every write), for
 * tests that stop and restart the same server and expect its data back.
 */
export function startRedisOnPort(port: number, storage: RedisStorage, options: Pick<StartRedisOptions, 'binary' | 'readyTimeoutMs'> = {}): Promise<TestRedisServer> {
  return startOnce({ binary: options.binary ?? 'redis-server', port, readyTimeoutMs: options.readyTimeoutMs ?? 10_000, storage });
}
