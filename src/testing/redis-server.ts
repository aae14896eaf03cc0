// A throw-away redis-server for tests: loopback only, a free port, no persistence, and the eviction
// policy BullMQ requires (an evicted job key would silently lose work). The process is ours; stop()
// ends it by its pid, and an exit hook ends any a crashed test left running.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
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
}

export interface StartRedisOptions {
  /** Path of the redis-server binary (default: `redis-server` on PATH). */
  binary?: string;
  /** How long to wait for "Ready to accept connections" (default 10 s). */
  readyTimeoutMs?: number;
  /** Ports tried before giving up when another process takes the free port first (default 5). */
  maxPortAttempts?: number;
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

async function startOnce(binary: string, port: number, readyTimeoutMs: number, storage?: RedisStorage): Promise<TestRedisServer> {
  const dir = storage?.dir ?? mkdtempSync(join(tmpdir(), 'oo-redis-'));
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
  ];
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  installExitHook();
  let output = '';
  const ready = await new Promise<boolean>((resolve, reject) => {
    const timer = setTimeout(() => resolve(false), readyTimeoutMs);
    const onData = (chunk: Buffer) => {
      output = (output + chunk.toString('utf8')).slice(-8192);
      if (output.includes('Ready to accept connections')) {
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
  if (!ready || child.pid === undefined) {
    await stop(1000);
    const reason = output.trim().split('\n').slice(-3).join(' | ') || 'no output';
    throw new Error(`redis-server on 127.0.0.1:${port} did not become ready: ${reason}`);
  }
  // Keep draining its output so a chatty server never blocks on a full pipe.
  child.stdout?.resume();
  child.stderr?.resume();
  return { host: '127.0.0.1', port, url: `redis://127.0.0.1:${port}`, pid: child.pid, stop };
}

/** Starts `redis-server --port P --save '' --appendonly no --maxmemory-policy noeviction` on 127.0.0.1. */
export async function startRedisServer(options: StartRedisOptions = {}): Promise<TestRedisServer> {
  const binary = options.binary ?? 'redis-server';
  const attempts = Math.max(1, options.maxPortAttempts ?? 5);
  let lastError: unknown;
  for (let attempt = 0; attempt < attempts; attempt++) {
    const port = await freeLoopbackPort();
    try {
      return await startOnce(binary, port, options.readyTimeoutMs ?? 10_000);
    } catch (error) {
      lastError = error;
      if (error instanceof Error && error.message.startsWith('could not start')) break;
    }
  }
  throw lastError instanceof Error ? lastError : new Error(String(lastError));
}

/**
 * Starts redis-server on a given port with its data in `storage.dir` (AOF, fsync on every write), for
 * tests that stop and restart the same server and expect its data back.
 */
export function startRedisOnPort(port: number, storage: RedisStorage, options: Pick<StartRedisOptions, 'binary' | 'readyTimeoutMs'> = {}): Promise<TestRedisServer> {
  return startOnce(options.binary ?? 'redis-server', port, options.readyTimeoutMs ?? 10_000, storage);
}
