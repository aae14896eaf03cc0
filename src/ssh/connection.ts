/**
 * One authenticated SSH connection (possibly through jump hosts) that runs commands.
 *
 * Built on ssh2's Client rather than node-ssh: node-ssh's execCommand buffers unbounded output, decodes
 * each chunk separately (splitting multi-byte characters), trims it, and has no timeout, no channel
 * limit and no host key policy; all of those are needed here.
 */
import { readFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import { Client, type ClientChannel, type ConnectConfig } from 'ssh2';
import { SshError, reasonForSsh2Error } from './errors.js';
import {
  parseKnownHosts,
  parsePublicKeyLine,
  preferredHostKeyAlgorithms,
  verifyHostKey,
  type HostKeyPolicy,
  type HostKeyVerdict,
  type KnownHostsEntry,
} from './known-hosts.js';
import { Semaphore } from './limit.js';
import type { CommandResult, CommandRunner, RunOptions } from './runner.js';
import { describeTarget, expandHome, validateTarget, type SshTarget } from './target.js';

export interface SshConnectOptions {
  /** TCP connect + handshake + authentication, per hop (ssh2 `readyTimeout`). Default 10 s. */
  connectTimeoutMs?: number;
  /** SSH-level keepalive interval; 0 disables. Default 15 s. */
  keepaliveIntervalMs?: number;
  /** Unanswered keepalives before the connection is declared dead. Default 3. */
  keepaliveCountMax?: number;
  /**
   * Commands (session channels) in flight per connection; more are queued. Default 6, below
   * OpenSSH's MaxSessions default of 10.
   */
  maxSessionsPerConnection?: number;
}

/** A connection to a jump host lent to a connection behind it, and how to give it back. */
export interface JumpLease {
  connection: SshConnection;
  release(): Promise<void>;
}
export type JumpOpener = (jump: SshTarget) => Promise<JumpLease>;

export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
export const DEFAULT_KEEPALIVE_INTERVAL_MS = 15_000;
export const DEFAULT_KEEPALIVE_COUNT_MAX = 3;
export const DEFAULT_MAX_SESSIONS_PER_CONNECTION = 6;
/** After a timed-out channel is closed, how long to wait for the server to confirm before reusing its slot. */
const CHANNEL_CLOSE_GRACE_MS = 3_000;
/** How often a refused session channel is retried with a lower limit before giving up. */
const MAX_SESSION_OPEN_RETRIES = 8;
const CLIENT_END_GRACE_MS = 2_000;

function positiveInteger(value: number | undefined, fallback: number, what: string, allowZero = false): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 0 || (!allowZero && value === 0)) {
    throw new Error(`${what} ${value} must be a ${allowZero ? 'non-negative' : 'positive'} integer`);
  }
  return value;
}

function validateRunOptions(options: RunOptions): void {
  if (!options || typeof options !== 'object') throw new Error('run options must be an object');
  if (!Number.isFinite(options.timeoutMs) || options.timeoutMs <= 0) {
    throw new Error(`run option timeoutMs ${options.timeoutMs} must be a positive number of milliseconds`);
  }
  if (!Number.isInteger(options.maxOutputBytes) || options.maxOutputBytes < 0) {
    throw new Error(`run option maxOutputBytes ${options.maxOutputBytes} must be a non-negative integer`);
  }
  if (options.stdin !== undefined && typeof options.stdin !== 'string') throw new Error('run option stdin must be a string');
}

/**
 * Sends a `signal` channel request. OpenSSH answers it with killpg() on the command's process group
 * (session.c session_signal_req), so the whole `sh -c` tree dies. ssh2 1.17's ClientChannel.signal()
 * silently does nothing once stdin got EOF (it requires the channel to be writable; see
 * mscdex/ssh2#1510), and every command here has EOF sent at once, so the request goes through the
 * protocol object the channel itself uses, while the channel is still open or only half-closed.
 */
function sendSignal(channel: ClientChannel, name: 'KILL' | 'TERM'): void {
  const internals = channel as unknown as {
    outgoing?: { id?: number; state?: string };
    _client?: { _protocol?: { signal?: (id: number, signal: string) => void } };
  };
  const state = internals.outgoing?.state;
  const id = internals.outgoing?.id;
  const protocol = internals._client?._protocol;
  if (typeof id === 'number' && (state === 'open' || state === 'eof') && typeof protocol?.signal === 'function') {
    protocol.signal(id, name);
  } else {
    channel.signal(name);
  }
}

type ExecOutcome = { kind: 'result'; result: CommandResult } | { kind: 'open-refused'; error: Error };

export class SshConnection implements CommandRunner {
  private readonly sessions: Semaphore;
  private closedError: SshError | null = null;
  private closing: Promise<void> | null = null;
  private readonly closeListeners = new Set<(error: SshError) => void>();
  private activeRuns = 0;
  private openTunnels = 0;
  private lastActivityAt = Date.now();

  /** Use connectSsh() or SshPool.connect(). */
  constructor(
    readonly target: SshTarget,
    private readonly client: Client,
    /** What trusted the host key: "pinned hostKey" or "file:line". */
    readonly hostKeyTrustedBy: string,
    maxSessions: number,
    private readonly jumpLease: JumpLease | null,
    private readonly connectTimeoutMs: number,
  ) {
    this.sessions = new Semaphore(maxSessions);
    // ssh2 emits 'error' after 'ready' too (keepalive timeout, socket reset); an unheard 'error' would
    // crash the process. The error gives the reason; 'close' follows it.
    let lastError: unknown = null;
    client.on('error', (error) => {
      lastError = error;
    });
    client.on('close', () => {
      const reason = lastError ? reasonForSsh2Error(lastError) : 'closed';
      const detail = lastError instanceof Error ? `: ${lastError.message}` : '';
      this.markClosed(
        new SshError(reason === 'timeout' ? 'timeout' : 'closed', target.name, `ssh ${describeTarget(target)}: connection closed${detail}`, {
          cause: lastError ?? undefined,
        }),
      );
    });
  }

  /** False once the connection has dropped or been closed. */
  get alive(): boolean {
    return this.closedError === null;
  }

  /** Why the connection is closed, when it is. */
  get closeReason(): SshError | null {
    return this.closedError;
  }

  /** Commands running or queued, plus tunnels other connections hold through this one. */
  get busy(): boolean {
    return this.activeRuns > 0 || this.openTunnels > 0;
  }

  get idleForMs(): number {
    return this.busy ? 0 : Date.now() - this.lastActivityAt;
  }

  /** The current per-connection channel limit (it drops when the server refuses sessions). */
  get sessionLimit(): number {
    return this.sessions.limit;
  }

  /** Called once with the reason when the connection closes; returns an unsubscribe function. */
  onClose(listener: (error: SshError) => void): () => void {
    if (this.closedError) {
      listener(this.closedError);
      return () => undefined;
    }
    this.closeListeners.add(listener);
    return () => this.closeListeners.delete(listener);
  }

  /**
   * Runs a command. Resolves with its result — also when it timed out (`timedOut`, channel closed
   * and the remote process sent SIGKILL) — and rejects with SshError('closed') when the connection
   * drops before the command finished.
   */
  async run(command: string, options: RunOptions): Promise<CommandResult> {
    if (typeof command !== 'string' || command.trim() === '') throw new Error('command must be a non-empty string');
    validateRunOptions(options);
    if (this.closedError) throw this.closedError;
    this.activeRuns += 1;
    this.lastActivityAt = Date.now();
    try {
      for (let attempt = 0; ; attempt += 1) {
        await this.sessions.acquire();
        const inFlightBefore = this.sessions.inUse - 1;
        const outcome = await this.execOnce(command, options);
        if (outcome.kind === 'result') return outcome.result;
        // The server refused a session channel: it allows fewer sessions than our limit (a lower
        // MaxSessions). Run with what it allowed and queue the rest, unless nothing else is running.
        if (inFlightBefore < 1 || attempt >= MAX_SESSION_OPEN_RETRIES) {
          throw new SshError(
            'refused',
            this.target.name,
            `ssh ${describeTarget(this.target)}: server refused to open a session channel (${inFlightBefore} others open): ${outcome.error.message}`,
            { cause: outcome.error },
          );
        }
        this.sessions.setLimit(Math.min(this.sessions.limit, inFlightBefore));
      }
    } finally {
      this.activeRuns -= 1;
      this.lastActivityAt = Date.now();
    }
  }

  private execOnce(command: string, options: RunOptions): Promise<ExecOutcome> {
    return new Promise<ExecOutcome>((resolve, reject) => {
      const started = performance.now();
      const cap = options.maxOutputBytes;
      const stdoutChunks: Buffer[] = [];
      const stderrChunks: Buffer[] = [];
      let keptBytes = 0;
      let truncated = false;
      let exitCode: number | null = null;
      let signal: string | undefined;
      let timedOut = false;
      let settled = false;
      let slotReleased = false;
      let channel: ClientChannel | null = null;
      let unsubscribe: () => void = () => undefined;

      const releaseSlot = () => {
        if (slotReleased) return;
        slotReleased = true;
        this.sessions.release();
      };
      // Past the cap the data is still read (and dropped) so the channel window keeps moving and
      // the remote command is not blocked writing.
      const keep = (into: Buffer[], data: Buffer) => {
        const room = cap - keptBytes;
        if (data.length === 0) return;
        if (room <= 0) {
          truncated = true;
          return;
        }
        const part = data.length > room ? data.subarray(0, room) : data;
        if (part.length < data.length) truncated = true;
        into.push(Buffer.from(part));
        keptBytes += part.length;
      };
      const result = (): CommandResult => {
        const value: CommandResult = {
          exitCode,
          // Buffer#toString replaces invalid UTF-8 with U+FFFD instead of throwing.
          stdout: Buffer.concat(stdoutChunks).toString('utf8'),
          stderr: Buffer.concat(stderrChunks).toString('utf8'),
          durationMs: Math.round(performance.now() - started),
          timedOut,
          truncated,
        };
        if (signal !== undefined) value.signal = signal;
        return value;
      };
      const settle = (outcome: { ok: ExecOutcome } | { error: Error }) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        unsubscribe();
        if ('ok' in outcome) resolve(outcome.ok);
        else reject(outcome.error);
      };
      const closeChannel = (target: ClientChannel) => {
        target.once('close', releaseSlot);
        setTimeout(releaseSlot, CHANNEL_CLOSE_GRACE_MS).unref();
        try {
          // ssh2 has no command timeout: ask sshd to kill the command, then close the channel.
          sendSignal(target, 'KILL');
        } catch {
          // the channel may already be closing; closing below is what matters
        }
        try {
          target.close();
        } catch {
          releaseSlot();
        }
      };

      const timer = setTimeout(() => {
        timedOut = true;
        if (channel) closeChannel(channel);
        else setTimeout(releaseSlot, CHANNEL_CLOSE_GRACE_MS).unref();
        settle({ ok: { kind: 'result', result: result() } });
      }, options.timeoutMs);

      unsubscribe = this.onClose((error) => {
        releaseSlot();
        if (settled) return;
        if (exitCode !== null || signal !== undefined) {
          // The command finished; only the channel close was lost with the connection.
          settle({ ok: { kind: 'result', result: result() } });
          return;
        }
        settle({
          error: new SshError(
            error.reason === 'timeout' ? 'timeout' : 'closed',
            this.target.name,
            `ssh ${describeTarget(this.target)}: connection lost while running a command after ${Math.round(performance.now() - started)} ms (${error.message})`,
            { cause: error },
          ),
        });
      });

      const onChannel = (error: Error | undefined, stream: ClientChannel) => {
        if (error) {
          releaseSlot();
          if (settled) return;
          if (/Channel open failure/i.test(error.message) && !this.closedError) {
            settle({ ok: { kind: 'open-refused', error } });
          } else {
            settle({
              error: new SshError('closed', this.target.name, `ssh ${describeTarget(this.target)}: could not open a session: ${error.message}`, {
                cause: error,
              }),
            });
          }
          return;
        }
        stream.on('error', () => undefined);
        stream.stderr.on('error', () => undefined);
        if (settled) {
          // Timed out (or the connection died) while the channel was being opened.
          closeChannel(stream);
          stream.resume();
          stream.stderr.resume();
          return;
        }
        channel = stream;
        stream.on('data', (data: Buffer) => keep(stdoutChunks, data));
        stream.stderr.on('data', (data: Buffer) => keep(stderrChunks, data));
        stream.on('exit', (code: number | null, signalName?: string) => {
          if (typeof code === 'number') exitCode = code;
          if (typeof signalName === 'string' && signalName !== '') signal = signalName.startsWith('SIG') ? signalName : `SIG${signalName}`;
        });
        stream.on('close', () => {
          releaseSlot();
          settle({ ok: { kind: 'result', result: result() } });
        });
        // Always send EOF so a command that reads stdin does not wait forever.
        if (options.stdin !== undefined && options.stdin !== '') stream.end(options.stdin);
        else stream.end();
      };

      try {
        this.client.exec(command, onChannel);
      } catch (error) {
        releaseSlot();
        settle({
          error: new SshError('closed', this.target.name, `ssh ${describeTarget(this.target)}: could not start a command: ${(error as Error).message}`, {
            cause: error,
          }),
        });
      }
    });
  }

  /**
   * Opens a TCP tunnel from this host to host:port (a `direct-tcpip` channel), for the next hop of a
   * jump chain. The tunnel keeps this connection busy until it closes.
   */
  forwardOut(host: string, port: number, timeoutMs = this.connectTimeoutMs): Promise<Duplex> {
    if (this.closedError) return Promise.reject(this.closedError);
    return new Promise<Duplex>((resolve, reject) => {
      let done = false;
      const fail = (message: string, cause?: unknown) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        reject(new SshError('jump', this.target.name, `jump host ${describeTarget(this.target)} could not open a tunnel to ${host}:${port}: ${message}`, { cause }));
      };
      const timer = setTimeout(() => fail(`no answer within ${timeoutMs} ms`), timeoutMs);
      try {
        this.client.forwardOut('127.0.0.1', 0, host, port, (error, stream) => {
          if (error) {
            fail(error.message, error);
            return;
          }
          if (done) {
            stream.destroy();
            return;
          }
          done = true;
          clearTimeout(timer);
          this.openTunnels += 1;
          this.lastActivityAt = Date.now();
          stream.once('close', () => {
            this.openTunnels -= 1;
            this.lastActivityAt = Date.now();
          });
          resolve(stream);
        });
      } catch (error) {
        fail((error as Error).message, error);
      }
    });
  }

  /** Closes the connection (running commands fail with SshError 'closed') and gives back its jump host. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      if (!this.closedError) {
        const closed = new Promise<void>((resolve) => this.onClose(() => resolve()));
        this.client.end();
        const timer = setTimeout(() => this.client.destroy(), CLIENT_END_GRACE_MS);
        await closed;
        clearTimeout(timer);
      }
      await this.releaseJump();
    })();
    return this.closing;
  }

  private jumpReleased = false;
  private async releaseJump(): Promise<void> {
    if (this.jumpReleased || !this.jumpLease) return;
    this.jumpReleased = true;
    await this.jumpLease.release();
  }

  private markClosed(error: SshError): void {
    if (this.closedError) return;
    this.closedError = error;
    this.sessions.fail(error);
    for (const listener of [...this.closeListeners]) listener(error);
    this.closeListeners.clear();
    void this.releaseJump().catch(() => undefined);
  }
}

async function loadKnownHosts(file: string | undefined): Promise<{ entries: KnownHostsEntry[]; note: string }> {
  if (!file) return { entries: [], note: '' };
  const expanded = expandHome(file);
  let text: string;
  try {
    text = await readFile(expanded, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // Like OpenSSH, a missing file is an empty one; the refusal message says why nothing matched.
    return { entries: [], note: ` (known_hosts file ${expanded} could not be read: ${code ?? (error as Error).message})` };
  }
  return { entries: parseKnownHosts(text).entries, note: '' };
}

function hostKeyError(target: SshTarget, verdict: Extract<HostKeyVerdict, { trusted: false }>, note: string): SshError {
  const where = `${target.address}:${target.port}`;
  const presented = `${verdict.presentedType} ${verdict.presentedFingerprint}`;
  const expected = verdict.expected.map((e) => `${e.type} ${e.fingerprint} (${e.source})`).join(', ');
  let message: string;
  switch (verdict.reason) {
    case 'host_key_revoked':
      message = `host key ${presented} of ${where} is revoked (${verdict.revokedBy}); refusing to connect`;
      break;
    case 'host_key_mismatch':
      message =
        `host key of ${where} has CHANGED: it presented ${presented} but ${expected} is expected; ` +
        'refusing to connect (the host may have been reinstalled, or someone is intercepting the connection)';
      break;
    default:
      message =
        `host key ${presented} of ${where} is unknown: it is neither pinned (hostKey) nor in a known_hosts file${note}; ` +
        'refusing to connect (verify the fingerprint out of band, then pin the key)';
  }
  return new SshError(verdict.reason, target.name, `ssh ${describeTarget(target)}: ${message}`);
}

async function loadCredentials(target: SshTarget): Promise<Pick<ConnectConfig, 'privateKey' | 'agent'>> {
  const credentials: Pick<ConnectConfig, 'privateKey' | 'agent'> = {};
  if (target.identityFile) {
    const file = expandHome(target.identityFile);
    try {
      credentials.privateKey = await readFile(file);
    } catch (error) {
      throw new SshError('auth', target.name, `ssh ${describeTarget(target)}: cannot read identityFile ${file}: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }
  if (target.useAgent || !target.identityFile) {
    const socket = process.env.SSH_AUTH_SOCK;
    if (socket) credentials.agent = socket;
    else if (target.useAgent || !credentials.privateKey) {
      throw new SshError(
        'auth',
        target.name,
        `ssh ${describeTarget(target)}: ${target.useAgent ? 'useAgent is set' : 'no identityFile is set'} but SSH_AUTH_SOCK is not (no ssh-agent to authenticate with)`,
      );
    }
  }
  return credentials;
}

function jumpError(target: SshTarget, error: unknown): unknown {
  if (!(error instanceof SshError) || error.host === target.name) return error;
  return new SshError(error.reason, error.host, `ssh ${describeTarget(target)} via jump host: ${error.message}`, { cause: error });
}

/**
 * Connects and authenticates to `target`, through its jump hosts when it has any, verifying every
 * hop's host key against that hop's own pins and known_hosts. Failures are SshErrors whose `host` names
 * the hop that failed.
 */
export async function connectSsh(target: SshTarget, options: SshConnectOptions = {}, openJump?: JumpOpener): Promise<SshConnection> {
  validateTarget(target);
  const connectTimeoutMs = positiveInteger(options.connectTimeoutMs, DEFAULT_CONNECT_TIMEOUT_MS, 'connectTimeoutMs');
  const keepaliveIntervalMs = positiveInteger(options.keepaliveIntervalMs, DEFAULT_KEEPALIVE_INTERVAL_MS, 'keepaliveIntervalMs', true);
  const keepaliveCountMax = positiveInteger(options.keepaliveCountMax, DEFAULT_KEEPALIVE_COUNT_MAX, 'keepaliveCountMax');
  const maxSessions = positiveInteger(options.maxSessionsPerConnection, DEFAULT_MAX_SESSIONS_PER_CONNECTION, 'maxSessionsPerConnection');

  const knownHosts = await loadKnownHosts(target.knownHostsFile);
  const policy: HostKeyPolicy = {
    host: target.address,
    port: target.port,
    pinned: (target.hostKeys ?? []).map((line) => parsePublicKeyLine(line)),
    knownHosts: knownHosts.entries,
    knownHostsSource: target.knownHostsFile ? expandHome(target.knownHostsFile) : 'known_hosts',
  };
  const credentials = await loadCredentials(target);

  let lease: JumpLease | null = null;
  let sock: Duplex | undefined;
  if (target.jump) {
    const opener: JumpOpener =
      openJump ??
      (async (jump) => {
        const connection = await connectSsh(jump, options);
        return { connection, release: () => connection.close() };
      });
    try {
      lease = await opener(target.jump);
      sock = await lease.connection.forwardOut(target.address, target.port, connectTimeoutMs);
    } catch (error) {
      await lease?.release().catch(() => undefined);
      throw jumpError(target, error);
    }
  }

  const client = new Client();
  let refusal: SshError | null = null;
  let trustedBy = '';
  const preferred = preferredHostKeyAlgorithms(policy);
  const config: ConnectConfig = {
    host: target.address,
    port: target.port,
    username: target.user,
    ...credentials,
    readyTimeout: connectTimeoutMs,
    keepaliveInterval: keepaliveIntervalMs,
    keepaliveCountMax,
    // Without a hostVerifier ssh2 accepts any host key.
    hostVerifier: (key: Buffer) => {
      const verdict = verifyHostKey(policy, key);
      if (verdict.trusted) {
        trustedBy = verdict.via;
        return true;
      }
      refusal = hostKeyError(target, verdict, knownHosts.note);
      return false;
    },
  };
  if (sock) config.sock = sock;
  if (preferred.length > 0) {
    config.algorithms = {
      serverHostKey: { remove: preferred, prepend: preferred, append: [] } as NonNullable<ConnectConfig['algorithms']>['serverHostKey'],
    };
  }

  const onConnectError = (error: Error) => {
    connectFailure ??=
      refusal ??
      (() => {
        const reason = reasonForSsh2Error(error);
        const detail = reason === 'auth' ? `authentication as ${target.user} failed: ${error.message}` : error.message;
        return new SshError(reason, target.name, `ssh ${describeTarget(target)}: ${detail}`, { cause: error });
      })();
    failConnect(connectFailure);
  };
  const onConnectClose = () => {
    failConnect(refusal ?? new SshError('closed', target.name, `ssh ${describeTarget(target)}: connection closed during the handshake`));
  };
  let connectFailure: SshError | null = null;
  let failConnect: (error: SshError) => void = () => undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      let finished = false;
      const fail = (error: SshError) => {
        if (finished) return;
        finished = true;
        client.removeListener('ready', onReady);
        client.destroy();
        reject(error);
      };
      failConnect = fail;
      const onReady = () => {
        if (finished) return;
        finished = true;
        resolve();
      };
      client.once('ready', onReady);
      client.on('error', onConnectError);
      client.on('close', onConnectClose);
      try {
        client.connect(config);
      } catch (error) {
        // ssh2 throws synchronously for a private key it cannot parse (or one with a passphrase).
        const file = target.identityFile ? expandHome(target.identityFile) : '';
        fail(new SshError('auth', target.name, `ssh ${describeTarget(target)}: cannot use identityFile ${file}: ${(error as Error).message}`, { cause: error }));
      }
    });
  } catch (error) {
    sock?.destroy();
    await lease?.release().catch(() => undefined);
    throw error;
  }
  client.removeListener('error', onConnectError);
  client.removeListener('close', onConnectClose);
  return new SshConnection(target, client, trustedBy, maxSessions, lease, connectTimeoutMs);
}
