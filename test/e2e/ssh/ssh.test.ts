/**
 * The SSH layer against real OpenSSH servers on loopback (and, for jump hosts, inside a network
 * namespace), logging in as the lab user with host-key checking always on.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureLabUser, findFreePort, generateKeyPair, prepareSshd, startLabSshd, startSshd, type LabSshd, type RunningSshd } from '../../../src/lab/sshd.js';
import { SshError, SshPool, connectSsh, type SshConnection, type SshTarget } from '../../../src/ssh/index.js';

const execFileAsync = promisify(execFile);
const USER = 'oolab';
const RUN = { timeoutMs: 10_000, maxOutputBytes: 1_000_000 };

let base: string;
let client: { privateKeyPath: string; publicKeyLine: string };
let stranger: { privateKeyPath: string; publicKeyLine: string };
let sshdA: LabSshd;
let sshdSmall: LabSshd;
const cleanups: (() => Promise<unknown>)[] = [];

/** The fingerprint as OpenSSH prints it, to compare our messages against the real tool. */
async function opensshFingerprint(publicKeyLine: string): Promise<string> {
  const file = path.join(base, `fp-${Math.random().toString(36).slice(2)}.pub`);
  await writeFile(file, `${publicKeyLine}\n`);
  const { stdout } = await execFileAsync('ssh-keygen', ['-l', '-f', file]);
  const fingerprint = stdout.split(/\s+/)[1];
  if (!fingerprint?.startsWith('SHA256:')) throw new Error(`ssh-keygen -l printed ${stdout}`);
  return fingerprint;
}

function targetA(overrides: Partial<SshTarget> = {}): SshTarget {
  return {
    name: 'lab-a',
    address: '127.0.0.1',
    port: sshdA.port,
    user: USER,
    identityFile: client.privateKeyPath,
    hostKeys: [sshdA.hostPublicKeyLine],
    ...overrides,
  };
}

async function expectSshError(promise: Promise<unknown>, reason: SshError['reason']): Promise<SshError> {
  const error = await promise.then(
    () => null,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(SshError);
  expect((error as SshError).reason, (error as Error).message).toBe(reason);
  return error as SshError;
}

async function withConnection<T>(target: SshTarget, body: (connection: SshConnection) => Promise<T>, options = {}): Promise<T> {
  const connection = await connectSsh(target, options);
  try {
    return await body(connection);
  } finally {
    await connection.close();
  }
}

beforeAll(async () => {
  await ensureLabUser(USER);
  base = await mkdtemp(path.join(tmpdir(), 'oo-ssh-e2e-'));
  // sshd reads authorized_keys as the lab user, so the folders above it must be traversable.
  await chmod(base, 0o755);
  client = await generateKeyPair(base, 'client');
  stranger = await generateKeyPair(base, 'stranger');
  sshdA = await startLabSshd({ dir: path.join(base, 'sshd-a'), listenAddress: '127.0.0.1', authorizedKeys: [client.publicKeyLine], user: USER });
  cleanups.push(() => sshdA.stop());
  sshdSmall = await startLabSshd({
    dir: path.join(base, 'sshd-small'),
    listenAddress: '127.0.0.1',
    authorizedKeys: [client.publicKeyLine],
    user: USER,
    maxSessions: 2,
  });
  cleanups.push(() => sshdSmall.stop());
});

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  if (base) await rm(base, { recursive: true, force: true });
});

describe('host key verification', () => {
  it('connects with a pinned key and logs in as the lab user', async () => {
    await withConnection(targetA(), async (connection) => {
      expect(connection.hostKeyTrustedBy).toBe('pinned hostKey');
      const result = await connection.run('id -un', RUN);
      expect(result).toMatchObject({ exitCode: 0, stdout: `${USER}\n`, stderr: '', timedOut: false, truncated: false });
    });
  });

  it('connects with a plain known_hosts entry for [host]:port', async () => {
    const file = path.join(base, 'known_hosts_plain');
    await writeFile(file, `# lab\n[127.0.0.1]:${sshdA.port} ${sshdA.hostPublicKeyLine} lab-a\n`);
    await withConnection(targetA({ hostKeys: undefined, knownHostsFile: file }), async (connection) => {
      expect(connection.hostKeyTrustedBy).toBe(`${file}:2`);
      expect((await connection.run('echo ok', RUN)).stdout).toBe('ok\n');
    });
  });

  it('connects with a known_hosts file hashed by ssh-keygen -H', async () => {
    const file = path.join(base, 'known_hosts_hashed');
    await writeFile(file, `[127.0.0.1]:${sshdA.port} ${sshdA.hostPublicKeyLine}\n`);
    await execFileAsync('ssh-keygen', ['-H', '-f', file]);
    const text = await readFile(file, 'utf8');
    expect(text).toMatch(/^\|1\|/);
    expect(text).not.toContain('127.0.0.1');
    await withConnection(targetA({ hostKeys: undefined, knownHostsFile: file }), async (connection) => {
      expect((await connection.run('echo ok', RUN)).exitCode).toBe(0);
    });
  });

  it('refuses when nothing is pinned, showing the SHA256 fingerprint', async () => {
    const fingerprint = await opensshFingerprint(sshdA.hostPublicKeyLine);
    const error = await expectSshError(connectSsh(targetA({ hostKeys: undefined })), 'host_key_unknown');
    expect(error.host).toBe('lab-a');
    expect(error.message).toContain(fingerprint);
    expect(error.message).toMatch(/unknown/);
  });

  it('refuses a key that is unknown to the known_hosts file (entries only for other hosts)', async () => {
    const file = path.join(base, 'known_hosts_other');
    await writeFile(file, `[127.0.0.1]:${sshdA.port + 1} ${sshdA.hostPublicKeyLine}\nother.example ${stranger.publicKeyLine}\n`);
    const error = await expectSshError(connectSsh(targetA({ hostKeys: undefined, knownHostsFile: file })), 'host_key_unknown');
    expect(error.message).toContain(await opensshFingerprint(sshdA.hostPublicKeyLine));
  });

  it('refuses a changed key, naming presented and expected fingerprints', async () => {
    const error = await expectSshError(connectSsh(targetA({ hostKeys: [stranger.publicKeyLine] })), 'host_key_mismatch');
    expect(error.message).toContain(await opensshFingerprint(sshdA.hostPublicKeyLine));
    expect(error.message).toContain(await opensshFingerprint(stranger.publicKeyLine));
    expect(error.message).toMatch(/CHANGED/);

    const file = path.join(base, 'known_hosts_changed');
    await writeFile(file, `[127.0.0.1]:${sshdA.port} ${stranger.publicKeyLine}\n`);
    await expectSshError(connectSsh(targetA({ hostKeys: undefined, knownHostsFile: file })), 'host_key_mismatch');
  });

  it('refuses a revoked key even when pinned', async () => {
    const file = path.join(base, 'known_hosts_revoked');
    await writeFile(file, `@revoked * ${sshdA.hostPublicKeyLine}\n`);
    const error = await expectSshError(connectSsh(targetA({ knownHostsFile: file })), 'host_key_revoked');
    expect(error.message).toContain(`${file}:1`);
  });
});

describe('connection failures', () => {
  it('connection refused fails fast with reason refused', async () => {
    const port = await findFreePort();
    const started = Date.now();
    const error = await expectSshError(connectSsh(targetA({ port })), 'refused');
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(error.message).toContain(`127.0.0.1:${port}`);
  });

  it('a server that never speaks SSH times out after connectTimeoutMs', async () => {
    const silent = net.createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as net.AddressInfo).port;
    try {
      const started = Date.now();
      await expectSshError(connectSsh(targetA({ port }), { connectTimeoutMs: 400 }), 'timeout');
      expect(Date.now() - started).toBeLessThan(3_000);
    } finally {
      silent.close();
    }
  });

  it('a key the server does not accept fails with reason auth', async () => {
    const error = await expectSshError(connectSsh(targetA({ identityFile: stranger.privateKeyPath })), 'auth');
    expect(error.message).toContain(USER);
  });

  it('an unreadable identity file fails with reason auth naming the file', async () => {
    const missing = path.join(base, 'no-such-key');
    const error = await expectSshError(connectSsh(targetA({ identityFile: missing })), 'auth');
    expect(error.message).toContain(missing);
  });

  it('authenticates through ssh-agent (SSH_AUTH_SOCK)', async () => {
    const socket = path.join(base, 'agent.sock');
    const agent: ChildProcess = spawn('ssh-agent', ['-D', '-a', socket], { stdio: 'ignore' });
    const previous = process.env.SSH_AUTH_SOCK;
    try {
      for (let i = 0; i < 100; i += 1) {
        if (await readFile(socket).then(() => true, (e: NodeJS.ErrnoException) => e.code !== 'ENOENT')) break;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      await execFileAsync('ssh-add', [client.privateKeyPath], { env: { ...process.env, SSH_AUTH_SOCK: socket } });
      process.env.SSH_AUTH_SOCK = socket;
      await withConnection(targetA({ identityFile: undefined, useAgent: true }), async (connection) => {
        expect((await connection.run('id -un', RUN)).stdout).toBe(`${USER}\n`);
      });
    } finally {
      if (previous === undefined) delete process.env.SSH_AUTH_SOCK;
      else process.env.SSH_AUTH_SOCK = previous;
      agent.kill();
    }
  });
});

describe('running commands', () => {
  let pool: SshPool;
  let connection: SshConnection;
  beforeAll(async () => {
    pool = new SshPool();
    connection = await pool.connect(targetA());
  });
  afterAll(async () => {
    await pool.close();
  });

  it('returns exit codes, stderr and signals', async () => {
    expect(await connection.run('echo out; echo err >&2; exit 3', RUN)).toMatchObject({ exitCode: 3, stdout: 'out\n', stderr: 'err\n' });
    const killed = await connection.run('kill -TERM $$', RUN);
    expect(killed.exitCode).toBeNull();
    expect(killed.signal).toBe('SIGTERM');
  });

  it('delivers stdin and closes it; without stdin the command sees EOF at once', async () => {
    const text = 'line one\nline two — ü\n';
    expect(await connection.run('cat', { ...RUN, stdin: text })).toMatchObject({ exitCode: 0, stdout: text });
    expect((await connection.run('wc -c', { ...RUN, stdin: text })).stdout.trim()).toBe(String(Buffer.byteLength(text)));
    const started = Date.now();
    expect(await connection.run('cat', { ...RUN, timeoutMs: 5_000 })).toMatchObject({ exitCode: 0, stdout: '', timedOut: false });
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('times out quickly, closes the channel and kills the remote command', async () => {
    const started = Date.now();
    const result = await connection.run('echo started; sleep 31.25; echo never', { timeoutMs: 400, maxOutputBytes: 1_000 });
    expect(Date.now() - started).toBeLessThan(1_500);
    expect(result).toMatchObject({ timedOut: true, exitCode: null, stdout: 'started\n' });
    let alive = true;
    for (let i = 0; i < 40 && alive; i += 1) {
      alive = await execFileAsync('pgrep', ['-f', 'sleep 31.25']).then(
        () => true,
        () => false,
      );
      if (alive) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(alive).toBe(false);
    expect((await connection.run('echo still usable', RUN)).stdout).toBe('still usable\n');
  });

  it('caps stdout+stderr together and keeps draining so the command finishes', async () => {
    const big = await connection.run('head -c 300000 /dev/zero | tr "\\0" a; echo done >&2', { timeoutMs: 10_000, maxOutputBytes: 1_000 });
    expect(big).toMatchObject({ exitCode: 0, truncated: true, timedOut: false, stdout: 'a'.repeat(1_000), stderr: '' });
    const mixed = await connection.run('printf aaaa; sleep 0.1; printf bbbb >&2', { timeoutMs: 5_000, maxOutputBytes: 6 });
    expect(mixed).toMatchObject({ stdout: 'aaaa', stderr: 'bb', truncated: true });
    const exact = await connection.run('printf 12345', { timeoutMs: 5_000, maxOutputBytes: 5 });
    expect(exact).toMatchObject({ stdout: '12345', truncated: false });
  });

  it('decodes binary and split multi-byte output without crashing', async () => {
    const random = await connection.run('head -c 65536 /dev/urandom', RUN);
    expect(random.exitCode).toBe(0);
    expect(random.stdout).toContain('\uFFFD');
    const invalid = await connection.run("printf '\\377\\376 ok \\342\\202'", RUN);
    expect(invalid.stdout).toBe('\uFFFD\uFFFD ok \uFFFD');
    // 150 kB of two-byte characters crosses many channel chunks; none may be split into U+FFFD.
    const accents = await connection.run('yes é | head -n 50000', RUN);
    expect(accents.stdout).toBe('é\n'.repeat(50_000));
  });

  it('runs 30 concurrent commands over one connection (more than MaxSessions 10)', async () => {
    const started = Date.now();
    const results = await Promise.all(Array.from({ length: 30 }, (_, i) => connection.run(`sleep 0.1; echo ${i}`, RUN)));
    expect(results.map((r) => r.stdout)).toEqual(Array.from({ length: 30 }, (_, i) => `${i}\n`));
    expect(results.every((r) => r.exitCode === 0)).toBe(true);
    // The server never refused a channel (the limit stayed at 6), and commands did run side by side.
    expect(connection.sessionLimit).toBe(6);
    expect(Date.now() - started).toBeLessThan(2_500);
  });

  it('rejects bad run options with a clear error', async () => {
    await expect(connection.run('true', { timeoutMs: 0, maxOutputBytes: 10 })).rejects.toThrow(/timeoutMs 0/);
    await expect(connection.run('true', { timeoutMs: 10, maxOutputBytes: -1 })).rejects.toThrow(/maxOutputBytes -1/);
    await expect(connection.run('  ', RUN)).rejects.toThrow(/non-empty/);
  });
});

describe('session limits, drops and the pool', () => {
  it('adapts to a server that allows fewer sessions than the connection limit', async () => {
    const target = targetA({ name: 'lab-small', port: sshdSmall.port, hostKeys: [sshdSmall.hostPublicKeyLine] });
    await withConnection(target, async (connection) => {
      const results = await Promise.all(Array.from({ length: 12 }, (_, i) => connection.run(`sleep 0.1; echo ${i}`, RUN)));
      expect(results.map((r) => r.stdout)).toEqual(Array.from({ length: 12 }, (_, i) => `${i}\n`));
      expect(connection.sessionLimit).toBeLessThanOrEqual(2);
    });
  });

  it('a connection dropped mid-command rejects with reason closed instead of hanging', async () => {
    await withConnection(targetA(), async (connection) => {
      const started = Date.now();
      // $PPID is the sshd process that carries this connection for the lab user.
      const error = await expectSshError(connection.run('kill -KILL $PPID; sleep 5', { timeoutMs: 15_000, maxOutputBytes: 100 }), 'closed');
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(error.host).toBe('lab-a');
      expect(connection.alive).toBe(false);
      await expectSshError(connection.run('true', RUN), 'closed');
    });
  });

  it('declares a frozen server dead by keepalive', async () => {
    await withConnection(
      targetA(),
      async (connection) => {
        const pid = Number((await connection.run('echo $PPID', RUN)).stdout.trim());
        expect(pid).toBeGreaterThan(1);
        process.kill(pid, 'SIGSTOP');
        try {
          const started = Date.now();
          await expectSshError(connection.run('echo never', { timeoutMs: 20_000, maxOutputBytes: 100 }), 'timeout');
          expect(Date.now() - started).toBeLessThan(5_000);
        } finally {
          process.kill(pid, 'SIGKILL');
        }
      },
      { keepaliveIntervalMs: 200, keepaliveCountMax: 2 },
    );
  });

  it('reuses one connection per target, shares concurrent connects and replaces dead ones', async () => {
    const pool = new SshPool();
    try {
      const [first, second] = await Promise.all([pool.connect(targetA()), pool.connect(targetA())]);
      expect(second).toBe(first);
      expect(await pool.connect(targetA())).toBe(first);
      expect(pool.size).toBe(1);
      const runner = pool.runner(targetA());
      const seen = await Promise.all([first.run('echo $SSH_CONNECTION', RUN), runner.run('echo $SSH_CONNECTION', RUN)]);
      expect(seen[0]?.stdout).toBe(seen[1]?.stdout);

      await first.run('kill -KILL $PPID', RUN).catch(() => undefined);
      for (let i = 0; i < 50 && first.alive; i += 1) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(first.alive).toBe(false);
      const replacement = await pool.connect(targetA());
      expect(replacement).not.toBe(first);
      expect((await runner.run('echo $SSH_CONNECTION', RUN)).stdout).not.toBe(seen[0]?.stdout);
    } finally {
      await pool.close();
    }
    expect(pool.size).toBe(0);
    await expect(pool.connect(targetA())).rejects.toThrow(/closed/);
  });

  it('opens a new connection per connect() when reuse is off', async () => {
    const pool = new SshPool({ reuse: false });
    try {
      const [a, b] = await Promise.all([pool.connect(targetA()), pool.connect(targetA())]);
      expect(a).not.toBe(b);
      const [ra, rb] = await Promise.all([a.run('echo $SSH_CONNECTION', RUN), b.run('echo $SSH_CONNECTION', RUN)]);
      expect(ra.stdout).not.toBe(rb.stdout);
      expect(pool.size).toBe(2);
    } finally {
      await pool.close();
    }
  });

  it('closes idle connections', async () => {
    const pool = new SshPool({ idleTimeoutMs: 200 });
    try {
      const connection = await pool.connect(targetA());
      await connection.run('true', RUN);
      for (let i = 0; i < 100 && connection.alive; i += 1) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(connection.alive).toBe(false);
      expect(pool.size).toBe(0);
    } finally {
      await pool.close();
    }
  });
});

describe('jump hosts (a bastion and a host only it can reach, in a network namespace)', () => {
  const suffix = Math.random().toString(16).slice(2, 6);
  const netns = `oosj-${suffix}`;
  const hostSide = `oosj-${suffix}-h`;
  const nsSide = `oosj-${suffix}-g`;
  const octet = 200 + Math.floor(Math.random() * 50);
  const bastionAddress = `10.231.${octet}.2`;
  let bastion: { hostPublicKeyLine: string; port: number; running: RunningSshd };
  let inner: { hostPublicKeyLine: string; port: number; running: RunningSshd };

  const ip = (...args: string[]) => execFileAsync('ip', args);

  beforeAll(async () => {
    await ip('netns', 'add', netns);
    cleanups.push(async () => {
      await execFileAsync('ip', ['netns', 'pids', netns]).then(
        ({ stdout }) => stdout.split(/\s+/).filter(Boolean).forEach((pid) => process.kill(Number(pid), 'SIGKILL')),
        () => undefined,
      );
      await ip('netns', 'del', netns).catch(() => undefined);
      await ip('link', 'del', hostSide).catch(() => undefined);
    });
    await ip('link', 'add', hostSide, 'type', 'veth', 'peer', 'name', nsSide);
    await ip('link', 'set', nsSide, 'netns', netns);
    await ip('addr', 'add', `10.231.${octet}.1/30`, 'dev', hostSide);
    await ip('link', 'set', hostSide, 'up');
    await ip('netns', 'exec', netns, 'ip', 'addr', 'add', `${bastionAddress}/30`, 'dev', nsSide);
    await ip('netns', 'exec', netns, 'ip', 'link', 'set', nsSide, 'up');
    await ip('netns', 'exec', netns, 'ip', 'link', 'set', 'lo', 'up');

    // The namespace is new, so its ports are free.
    const bastionPrepared = await prepareSshd({
      dir: path.join(base, 'sshd-bastion'),
      listenAddress: bastionAddress,
      port: 2222,
      authorizedKeys: [client.publicKeyLine],
      user: USER,
    });
    const bastionRunning = await startSshd(bastionPrepared.configPath, { netns });
    cleanups.push(() => bastionRunning.stop());
    bastion = { hostPublicKeyLine: bastionPrepared.hostPublicKeyLine, port: 2222, running: bastionRunning };

    // Listens on the namespace's own loopback: unreachable from here, reachable from the bastion.
    const innerPrepared = await prepareSshd({
      dir: path.join(base, 'sshd-inner'),
      listenAddress: '127.0.0.1',
      port: 2200,
      authorizedKeys: [client.publicKeyLine],
      user: USER,
    });
    const innerRunning = await startSshd(innerPrepared.configPath, { netns });
    cleanups.push(() => innerRunning.stop());
    inner = { hostPublicKeyLine: innerPrepared.hostPublicKeyLine, port: 2200, running: innerRunning };
  });

  const bastionTarget = (overrides: Partial<SshTarget> = {}): SshTarget => ({
    name: 'bastion',
    address: bastionAddress,
    port: bastion.port,
    user: USER,
    identityFile: client.privateKeyPath,
    hostKeys: [bastion.hostPublicKeyLine],
    ...overrides,
  });
  const innerTarget = (overrides: Partial<SshTarget> = {}, jump: SshTarget = bastionTarget()): SshTarget => ({
    name: 'inner',
    address: '127.0.0.1',
    port: inner.port,
    user: USER,
    identityFile: client.privateKeyPath,
    hostKeys: [inner.hostPublicKeyLine],
    jump,
    ...overrides,
  });

  it('the inner host is not reachable directly', async () => {
    await expectSshError(connectSsh(innerTarget({ jump: undefined }), { connectTimeoutMs: 2_000 }), 'refused');
  });

  it('reaches the inner host through the bastion, verifying both keys', async () => {
    await withConnection(innerTarget(), async (connection) => {
      expect(connection.hostKeyTrustedBy).toBe('pinned hostKey');
      const result = await connection.run('echo $SSH_CONNECTION', RUN);
      // The inner sshd sees the connection arrive on the namespace's loopback port 2200, from the bastion.
      expect(result.stdout).toMatch(new RegExp(`^127\\.0\\.0\\.1 \\d+ 127\\.0\\.0\\.1 ${inner.port}\\n$`));
    });
  });

  it('refuses a wrong key on the second hop, blaming that hop', async () => {
    const error = await expectSshError(connectSsh(innerTarget({ hostKeys: [stranger.publicKeyLine] })), 'host_key_mismatch');
    expect(error.host).toBe('inner');
    expect(error.message).toContain(await opensshFingerprint(inner.hostPublicKeyLine));
  });

  it('refuses a wrong key on the first hop, blaming the bastion', async () => {
    const error = await expectSshError(connectSsh(innerTarget({}, bastionTarget({ hostKeys: [stranger.publicKeyLine] }))), 'host_key_mismatch');
    expect(error.host).toBe('bastion');
    expect(error.message).toContain('inner');
    expect(error.message).toContain(await opensshFingerprint(bastion.hostPublicKeyLine));
  });

  it('reports a tunnel the bastion cannot open as reason jump', async () => {
    const error = await expectSshError(connectSsh(innerTarget({ port: 2201 })), 'jump');
    expect(error.host).toBe('bastion');
    expect(error.message).toContain('127.0.0.1:2201');
  });

  it('shares one bastion connection among pooled hosts', async () => {
    const pool = new SshPool();
    try {
      const [one, two] = await Promise.all([pool.connect(innerTarget()), pool.connect(innerTarget({ name: 'inner-2' }))]);
      expect(one).not.toBe(two);
      expect(pool.size).toBe(3);
      const results = await Promise.all([one.run('echo one', RUN), two.run('echo two', RUN)]);
      expect(results.map((r) => r.stdout)).toEqual(['one\n', 'two\n']);
    } finally {
      await pool.close();
    }
  });
});
