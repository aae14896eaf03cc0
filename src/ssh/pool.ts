import { connectSsh, type JumpLease, type SshConnectOptions, type SshConnection } from './connection.js';
import type { CommandResult, CommandRunner, RunOptions } from './runner.js';
import { targetKey, validateTarget, type SshTarget } from './target.js';

export interface SshPoolOptions extends SshConnectOptions {
  /** Close a connection nobody has used for this long; 0 keeps connections until close(). Default 120 s. */
  idleTimeoutMs?: number;
  /** Share one live connection per target (default true); false opens a new one for every connect(). */
  reuse?: boolean;
}

export const DEFAULT_IDLE_TIMEOUT_MS = 120_000;

/**
 * Connections to many hosts. With reuse on, concurrent connects to the same target share one attempt
 * and one connection; a connection that dropped is replaced on the next connect. Jump hosts are pooled
 * the same way, so many hosts behind one bastion share one connection to it.
 */
export class SshPool {
  private readonly options: SshPoolOptions;
  private readonly reuse: boolean;
  private readonly idleTimeoutMs: number;
  private readonly shared = new Map<string, Promise<SshConnection>>();
  private readonly all = new Set<SshConnection>();
  private readonly pending = new Set<Promise<SshConnection>>();
  private sweeper: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(options: SshPoolOptions = {}) {
    const idle = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
    if (!Number.isFinite(idle) || idle < 0) throw new Error(`idleTimeoutMs ${idle} must be a non-negative number`);
    this.options = options;
    this.reuse = options.reuse ?? true;
    this.idleTimeoutMs = idle;
  }

  /** Connections currently open (for metrics and tests). */
  get size(): number {
    return this.all.size;
  }

  async connect(target: SshTarget): Promise<SshConnection> {
    if (this.closed) throw new Error('SshPool is closed');
    validateTarget(target);
    if (!this.reuse) return this.track(this.open(target));
    const key = targetKey(target);
    for (let attempt = 0; attempt < 3; attempt += 1) {
      let entry = this.shared.get(key);
      if (!entry) {
        entry = this.track(this.open(target));
        this.shared.set(key, entry);
        const current = entry;
        // A failed attempt is forgotten so the next connect tries again.
        current.catch(() => {
          if (this.shared.get(key) === current) this.shared.delete(key);
        });
      }
      const connection = await entry;
      if (connection.alive) return connection;
      if (this.shared.get(key) === entry) this.shared.delete(key);
    }
    throw new Error(`SshPool: connection to ${target.name} kept dropping right after it was made`);
  }

  /**
   * A CommandRunner for one target that connects on first use and reconnects when the connection
   * dropped between commands.
   */
  runner(target: SshTarget): CommandRunner {
    validateTarget(target);
    return {
      run: async (command: string, options: RunOptions): Promise<CommandResult> => (await this.connect(target)).run(command, options),
    };
  }

  /** Closes every connection and refuses new ones. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = null;
    await Promise.allSettled([...this.pending]);
    // Deepest hops first, then the jump hosts they tunnel through (a closed host gives its jump lease
    // back); connections at the same depth close together, so a large fleet does not close one by one.
    const byDepth = new Map<number, SshConnection[]>();
    for (const connection of this.all) {
      const level = depth(connection.target);
      byDepth.set(level, [...(byDepth.get(level) ?? []), connection]);
    }
    for (const level of [...byDepth.keys()].sort((a, b) => b - a)) {
      await Promise.allSettled(byDepth.get(level)!.map((connection) => connection.close()));
    }
    this.all.clear();
    this.shared.clear();
  }

  private open(target: SshTarget): Promise<SshConnection> {
    return connectSsh(target, this.options, (jump) => this.leaseJump(jump));
  }

  private async leaseJump(jump: SshTarget): Promise<JumpLease> {
    const connection = await this.connect(jump);
    // A shared jump connection stays in the pool (its tunnels keep it from going idle); an unshared
    // one belongs to the host behind it.
    return { connection, release: this.reuse ? async () => undefined : () => connection.close() };
  }

  private track(attempt: Promise<SshConnection>): Promise<SshConnection> {
    this.pending.add(attempt);
    const tracked = attempt.then(
      (connection) => {
        this.pending.delete(attempt);
        if (this.closed) {
          void connection.close();
          throw new Error('SshPool is closed');
        }
        this.all.add(connection);
        connection.onClose(() => this.all.delete(connection));
        this.startSweeper();
        return connection;
      },
      (error: unknown) => {
        this.pending.delete(attempt);
        throw error;
      },
    );
    return tracked;
  }

  private startSweeper(): void {
    if (this.sweeper || this.idleTimeoutMs === 0) return;
    const every = Math.max(50, Math.min(5_000, Math.floor(this.idleTimeoutMs / 2)));
    this.sweeper = setInterval(() => {
      for (const connection of this.all) {
        if (!connection.busy && connection.idleForMs >= this.idleTimeoutMs) void connection.close().catch(() => undefined);
      }
      if (this.all.size === 0 && this.sweeper) {
        clearInterval(this.sweeper);
        this.sweeper = null;
      }
    }, every);
    this.sweeper.unref();
  }
}

function depth(target: SshTarget): number {
  return target.jump ? 1 + depth(target.jump) : 0;
}
