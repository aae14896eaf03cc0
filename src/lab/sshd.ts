/**
 * Real OpenSSH servers for tests and the lab: a lab user, key pairs, an sshd_config under a folder the
 * caller owns, and a foreground sshd whose lifetime the caller controls. Everything runs as root on a
 * machine without systemd or Docker (see /work/shared/lab.md); every wait here is bounded.
 */
import { execFile, spawn } from 'node:child_process';
import { constants as fsConstants, openSync, closeSync } from 'node:fs';
import { chmod, mkdir, readFile, rename, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

const SSHD_BINARY = '/usr/sbin/sshd';
const USER_NAME_PATTERN = /^[a-z_][a-z0-9_-]{0,31}$/;
const KEY_TYPES = ['ed25519', 'ecdsa', 'rsa'] as const;
export type LabKeyType = (typeof KEY_TYPES)[number];

async function run(file: string, args: string[], what: string): Promise<string> {
  try {
    const { stdout } = await execFileAsync(file, args, { timeout: 30_000, maxBuffer: 1024 * 1024 });
    return stdout;
  } catch (error) {
    const err = error as { stderr?: string; message: string };
    throw new Error(`${what} failed (${file} ${args.join(' ')}): ${(err.stderr ?? '').trim() || err.message}`);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Cross-process mutex: vitest runs test files in several worker processes that may all create the lab
 * user at once, and useradd/usermod racing each other fail on the /etc/passwd lock.
 * mkdir is atomic; a lock older than `staleMs` is from a crashed process and is broken.
 */
export async function withDirectoryLock<T>(lockDir: string, body: () => Promise<T>): Promise<T> {
  const waitLimitMs = 60_000;
  const staleMs = 90_000;
  const started = Date.now();
  for (let attempt = 0; ; attempt += 1) {
    try {
      await mkdir(lockDir);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const age = await stat(lockDir).then(
        (s) => Date.now() - s.mtimeMs,
        () => 0,
      );
      if (age > staleMs) {
        await rmdir(lockDir).catch(() => undefined);
        continue;
      }
      if (Date.now() - started > waitLimitMs || attempt > 2_000) {
        throw new Error(`timed out after ${waitLimitMs} ms waiting for lock ${lockDir}`);
      }
      await sleep(25 + Math.floor(Math.random() * 50));
    }
  }
  try {
    return await body();
  } finally {
    await rmdir(lockDir).catch(() => undefined);
  }
}

async function userExists(name: string): Promise<boolean> {
  try {
    await execFileAsync('id', ['-u', name], { timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}

/**
 * The lab's operator account: a plain shell, passwordless sudo, and a ~/.bashrc that does nothing
 * (Debian's bash reads ~/.bashrc for every command that arrives over SSH, so anything slow there is
 * paid on every step). `usermod -p '*'` because sshd without PAM refuses a locked ('!') account.
 */
export async function ensureLabUser(name = 'oolab'): Promise<{ user: string; home: string }> {
  if (!USER_NAME_PATTERN.test(name)) {
    throw new Error(`lab user name ${JSON.stringify(name)} is not a valid user name (${USER_NAME_PATTERN})`);
  }
  const lockDir = path.join(tmpdir(), `oo-lab-user-${name}.lock`);
  return withDirectoryLock(lockDir, async () => {
    if (!(await userExists(name))) {
      await run('useradd', ['-m', '-s', '/bin/bash', name], `creating lab user ${name}`);
    }
    await run('usermod', ['-p', '*', name], `unlocking lab user ${name}`);
    const home = (await run('getent', ['passwd', name], `looking up lab user ${name}`)).split(':')[5]?.trim();
    if (!home) throw new Error(`lab user ${name} has no home directory in the passwd database`);
    await mkdir(home, { recursive: true });

    const bashrc = path.join(home, '.bashrc');
    const quietBashrc = '# lab account: intentionally empty so commands over SSH start fast\n';
    const currentBashrc = await readFile(bashrc, 'utf8').catch(() => null);
    if (currentBashrc !== quietBashrc) {
      await writeFile(bashrc, quietBashrc);
      await run('chown', [`${name}:`, bashrc], `giving ${bashrc} to ${name}`);
    }

    // sudo ignores files in sudoers.d whose names contain '.', so the temporary name must not be read
    // half-written: write it under a dotted name, validate, then rename into place.
    const sudoersPath = path.join('/etc/sudoers.d', name);
    const sudoersLine = `${name} ALL=(ALL:ALL) NOPASSWD: ALL\n`;
    const currentSudoers = await readFile(sudoersPath, 'utf8').catch(() => null);
    if (currentSudoers !== sudoersLine) {
      await mkdir('/etc/sudoers.d', { recursive: true });
      const temporary = `${sudoersPath}.tmp`;
      await writeFile(temporary, sudoersLine, { mode: 0o440 });
      await chmod(temporary, 0o440);
      await run('visudo', ['-c', '-q', '-f', temporary], `validating ${temporary}`);
      await rename(temporary, sudoersPath);
    }
    await chmod(sudoersPath, 0o440);
    return { user: name, home };
  });
}

/** A key pair made by ssh-keygen with an empty passphrase; an existing pair at that path is replaced. */
export async function generateKeyPair(
  dir: string,
  name: string,
  type: LabKeyType = 'ed25519',
): Promise<{ privateKeyPath: string; publicKeyLine: string }> {
  if (!KEY_TYPES.includes(type)) throw new Error(`key type ${JSON.stringify(type)} is not one of ${KEY_TYPES.join(', ')}`);
  if (!/^[A-Za-z0-9_.-]+$/.test(name)) throw new Error(`key name ${JSON.stringify(name)} must be a plain file name`);
  await mkdir(dir, { recursive: true });
  const privateKeyPath = path.join(dir, name);
  await rm(privateKeyPath, { force: true });
  await rm(`${privateKeyPath}.pub`, { force: true });
  await run('ssh-keygen', ['-q', '-t', type, '-N', '', '-C', name, '-f', privateKeyPath], `generating ${type} key ${name}`);
  const publicKeyLine = (await readFile(`${privateKeyPath}.pub`, 'utf8')).trim();
  return { privateKeyPath, publicKeyLine };
}

export interface PrepareSshdOptions {
  dir: string;
  listenAddress: string;
  port: number;
  /** Public key lines ("ssh-ed25519 AAAA… comment") allowed to log in as `user`. */
  authorizedKeys: string[];
  user: string;
  maxSessions?: number;
}

export interface PreparedSshd {
  configPath: string;
  hostKeyPath: string;
  /** "ssh-ed25519 AAAA…", without a comment: what an inventory pins. */
  hostPublicKeyLine: string;
  pidFile: string;
  logFile: string;
}

/** The log file startSshd writes to for a config made by prepareSshd. */
function logFileFor(configPath: string): string {
  return path.join(path.dirname(configPath), 'sshd.log');
}

/**
 * Writes an sshd_config and a fresh ed25519 host key under `dir`. Only public-key logins for `user`
 * are allowed. The folder is made world-traversable because sshd reads AuthorizedKeysFile with the
 * user's privileges.
 */
export async function prepareSshd(opts: PrepareSshdOptions): Promise<PreparedSshd> {
  if (!Number.isInteger(opts.port) || opts.port < 1 || opts.port > 65_535) {
    throw new Error(`sshd port ${opts.port} is not a TCP port (1..65535)`);
  }
  if (net.isIP(opts.listenAddress) === 0) {
    throw new Error(`sshd listenAddress ${JSON.stringify(opts.listenAddress)} is not an IP address`);
  }
  if (!USER_NAME_PATTERN.test(opts.user)) throw new Error(`sshd user ${JSON.stringify(opts.user)} is not a valid user name`);
  if (opts.maxSessions !== undefined && (!Number.isInteger(opts.maxSessions) || opts.maxSessions < 1)) {
    throw new Error(`sshd maxSessions ${opts.maxSessions} must be a positive integer`);
  }
  for (const line of opts.authorizedKeys) {
    if (/[\r\n]/.test(line) || !/^(ssh-|ecdsa-|sk-)\S+ [A-Za-z0-9+/=]+/.test(line.trim())) {
      throw new Error(`authorized key ${JSON.stringify(line.slice(0, 60))} is not a single OpenSSH public key line`);
    }
  }

  const dir = path.resolve(opts.dir);
  await mkdir(dir, { recursive: true });
  await chmod(dir, 0o755);
  await mkdir('/run/sshd', { recursive: true, mode: 0o755 });

  const { privateKeyPath: hostKeyPath, publicKeyLine } = await generateKeyPair(dir, 'ssh_host_ed25519_key', 'ed25519');
  const hostPublicKeyLine = publicKeyLine.split(/\s+/).slice(0, 2).join(' ');

  const authorizedKeysPath = path.join(dir, 'authorized_keys');
  await writeFile(authorizedKeysPath, opts.authorizedKeys.map((line) => `${line.trim()}\n`).join(''), { mode: 0o644 });
  await chmod(authorizedKeysPath, 0o644);

  const pidFile = path.join(dir, 'sshd.pid');
  const configPath = path.join(dir, 'sshd_config');
  const logFile = logFileFor(configPath);
  const config = [
    `Port ${opts.port}`,
    `ListenAddress ${opts.listenAddress}`,
    `HostKey ${hostKeyPath}`,
    `PidFile ${pidFile}`,
    `AuthorizedKeysFile ${authorizedKeysPath}`,
    'UsePAM no',
    'StrictModes no',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'PubkeyAuthentication yes',
    'PermitRootLogin no',
    `AllowUsers ${opts.user}`,
    'UseDNS no',
    'PrintMotd no',
    'PrintLastLog no',
    'LogLevel VERBOSE',
    // Tests open many connections at once; the default 10:30:100 drops some of them before auth.
    'MaxStartups 200',
    ...(opts.maxSessions !== undefined ? [`MaxSessions ${opts.maxSessions}`] : []),
    'AllowTcpForwarding yes',
    'Subsystem sftp internal-sftp',
    '',
  ].join('\n');
  await writeFile(configPath, config, { mode: 0o644 });

  try {
    await run('runuser', ['-u', opts.user, '--', 'test', '-r', authorizedKeysPath], 'checking authorized_keys access');
  } catch {
    throw new Error(
      `user ${opts.user} cannot read ${authorizedKeysPath}: every folder above ${dir} must be traversable by that user`,
    );
  }
  try {
    await run(SSHD_BINARY, ['-t', '-f', configPath], 'checking sshd_config');
  } catch (error) {
    throw new Error(`sshd rejects ${configPath}: ${(error as Error).message}`);
  }
  return { configPath, hostKeyPath, hostPublicKeyLine, pidFile, logFile };
}

function readListen(config: string): { address: string; port: number } {
  const address = /^\s*ListenAddress\s+(\S+)/im.exec(config)?.[1];
  const port = Number(/^\s*Port\s+(\d+)/im.exec(config)?.[1] ?? '22');
  if (!address) throw new Error('sshd_config has no ListenAddress');
  return { address, port };
}

/** Whether a TCP connection to address:port opens within the time. */
export function tcpAccepts(address: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: address, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

function isLoopback(address: string): boolean {
  return address.startsWith('127.') || address === '::1';
}

export interface StartSshdOptions {
  /** Run sshd inside this network namespace (`ip netns exec NS …`). */
  netns?: string;
  /** argv prefix that ends by exec'ing the rest of its argv (e.g. `unshare --mount … --`). */
  wrapper?: string[];
  /** Where sshd's stderr log goes; defaults to sshd.log beside the config. */
  logFile?: string;
  /** How long to wait for the port to accept connections. */
  readyTimeoutMs?: number;
}

export interface RunningSshd {
  pid: number;
  stop(): Promise<void>;
}

async function logTail(logFile: string): Promise<string> {
  const text = await readFile(logFile, 'utf8').catch(() => '');
  return text.split('\n').slice(-30).join('\n').trim() || '(empty log)';
}

/**
 * Runs `sshd -D -e -f configPath` in the foreground (so this process owns it; a wrapper must exec
 * sshd so the pid is sshd's) and resolves once sshd has logged that it listens and its port accepts
 * TCP. Inside a namespace whose sshd listens on that namespace's own loopback the port is not
 * reachable from here, so the log line alone decides. stop() ends the listener; sessions already open
 * live on in their own process groups, as they do when a real host's sshd is stopped.
 */
export async function startSshd(configPath: string, opts: StartSshdOptions = {}): Promise<RunningSshd> {
  const config = await readFile(configPath, 'utf8').catch((error: Error) => {
    throw new Error(`cannot read sshd config ${configPath}: ${error.message}`);
  });
  const { address, port } = readListen(config);
  const logFile = opts.logFile ?? logFileFor(configPath);
  const readyTimeoutMs = opts.readyTimeoutMs ?? 15_000;
  await mkdir('/run/sshd', { recursive: true, mode: 0o755 });

  const argv = [
    ...(opts.netns ? ['ip', 'netns', 'exec', opts.netns] : []),
    ...(opts.wrapper ?? []),
    SSHD_BINARY,
    '-D',
    '-e',
    '-f',
    configPath,
  ];
  const logFd = openSync(logFile, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_APPEND, 0o644);
  const logStartSize = (await stat(logFile)).size;
  const [command, ...args] = argv as [string, ...string[]];
  const child = spawn(command, args, { stdio: ['ignore', logFd, logFd] });
  closeSync(logFd);

  // Held in an object so the checks below see updates made by the event handlers.
  const life: { exit: { code: number | null; signal: NodeJS.Signals | null; error?: string } | null } = { exit: null };
  const exitPromise = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      life.exit = { code, signal };
      resolve();
    });
    child.once('error', (error) => {
      life.exit ??= { code: null, signal: null, error: error.message };
      resolve();
    });
  });

  const stop = async (): Promise<void> => {
    if (life.exit) return;
    child.kill('SIGTERM');
    const graceful = await Promise.race([exitPromise.then(() => true), sleep(5_000).then(() => false)]);
    if (!graceful && !life.exit) {
      child.kill('SIGKILL');
      await Promise.race([exitPromise, sleep(5_000)]);
    }
  };

  // A TCP accept alone is no proof: another process may hold the port while sshd fails to bind it.
  // sshd logs "Server listening on ADDR port N." at INFO once bound, so that line is required too,
  // unless the config silences INFO (then only the TCP probe is possible).
  const logLevel = /^\s*LogLevel\s+(\S+)/im.exec(config)?.[1]?.toUpperCase() ?? 'INFO';
  const logsListening = !['QUIET', 'FATAL', 'ERROR'].includes(logLevel);
  const probeFromHere = !(opts.netns && isLoopback(address));
  const listeningLine = `Server listening on ${address} port ${port}`;
  const isReady = async (): Promise<boolean> => {
    if (life.exit) return false;
    if (logsListening) {
      const log = (await readFile(logFile, 'utf8').catch(() => '')).slice(logStartSize);
      if (!log.includes(listeningLine)) return false;
    }
    return probeFromHere ? tcpAccepts(address, port, 500) : logsListening;
  };
  const started = Date.now();
  let ready = false;
  for (let attempt = 0; attempt < 1_000 && !life.exit && Date.now() - started <= readyTimeoutMs; attempt += 1) {
    if (await isReady()) {
      ready = true;
      break;
    }
    await sleep(25);
  }
  if (!ready || life.exit) {
    await stop();
    const state = life.exit
      ? life.exit.error
        ? `could not be started (${life.exit.error})`
        : `exited (code ${life.exit.code}, signal ${life.exit.signal})`
      : `did not accept connections within ${readyTimeoutMs} ms`;
    throw new Error(`sshd (${argv.join(' ')}) ${state} on ${address}:${port}; log ${logFile}:\n${await logTail(logFile)}`);
  }
  if (child.pid === undefined) throw new Error(`sshd (${argv.join(' ')}) has no pid`);
  return { pid: child.pid, stop };
}

/**
 * A port that was free a moment ago. Another process may take it before sshd binds it; callers that
 * start sshd on it should retry on "Address already in use" (startLabSshd does).
 */
export function findFreePort(address = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen({ host: address, port: 0 }, () => {
      const bound = server.address();
      server.close(() => {
        if (bound && typeof bound === 'object') resolve(bound.port);
        else reject(new Error(`could not read the port bound on ${address}`));
      });
    });
  });
}

export interface LabSshd extends PreparedSshd, RunningSshd {
  address: string;
  port: number;
}

/**
 * prepareSshd + startSshd on a free port, retrying with another port when one is taken between
 * choosing it and sshd binding it (other test workers pick ports at the same time).
 */
export async function startLabSshd(opts: Omit<PrepareSshdOptions, 'port'> & StartSshdOptions): Promise<LabSshd> {
  const attempts = 5;
  let lastError: unknown;
  for (let attempt = 0; attempt < attempts; attempt += 1) {
    const port = await findFreePort(opts.netns ? '127.0.0.1' : opts.listenAddress);
    const prepared = await prepareSshd({ ...opts, port });
    await rm(prepared.logFile, { force: true });
    try {
      const running = await startSshd(prepared.configPath, opts);
      return { ...prepared, ...running, address: opts.listenAddress, port };
    } catch (error) {
      lastError = error;
      if (!/Address already in use|Cannot bind any address/.test((error as Error).message)) throw error;
    }
  }
  throw lastError instanceof Error ? lastError : new Error(String(lastError));
}
