/** The lab's real sshd helpers: the lab user, and sshd start/stop with clear failures. */
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureLabUser, generateKeyPair, prepareSshd, startLabSshd, startSshd } from '../../../src/lab/sshd.js';

const execFileAsync = promisify(execFile);
let base: string;

beforeAll(async () => {
  base = await mkdtemp(path.join(tmpdir(), 'oo-lab-sshd-'));
  await chmod(base, 0o755);
});

afterAll(async () => {
  if (base) await rm(base, { recursive: true, force: true });
});

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

describe('ensureLabUser', () => {
  it('is idempotent under concurrent calls and gives passwordless sudo and a quiet bashrc', async () => {
    const results = await Promise.all([ensureLabUser(), ensureLabUser(), ensureLabUser()]);
    expect(results).toEqual([results[0], results[0], results[0]]);
    expect(results[0]).toEqual({ user: 'oolab', home: '/home/oolab' });
    expect((await stat('/etc/sudoers.d/oolab')).mode & 0o777).toBe(0o440);
    const { stdout } = await execFileAsync('runuser', ['-u', 'oolab', '--', 'sudo', '-n', 'id', '-un']);
    expect(stdout.trim()).toBe('root');
    const shadow = await execFileAsync('getent', ['shadow', 'oolab']);
    expect(shadow.stdout.split(':')[1]).toBe('*');
    expect(await readFile('/home/oolab/.bashrc', 'utf8')).not.toMatch(/^[^#\n]/m);
  });

  it('rejects a name that is not a user name', async () => {
    await expect(ensureLabUser('bad name;rm')).rejects.toThrow(/not a valid user name/);
  });
});

describe('sshd', () => {
  it('starts, accepts logins with the authorized key, and stops', async () => {
    const key = await generateKeyPair(base, 'login');
    const sshd = await startLabSshd({ dir: path.join(base, 'ok'), listenAddress: '127.0.0.1', authorizedKeys: [key.publicKeyLine], user: 'oolab' });
    try {
      expect(sshd.hostPublicKeyLine).toMatch(/^ssh-ed25519 [A-Za-z0-9+/=]+$/);
      const { stdout } = await execFileAsync('ssh', [
        '-i', key.privateKeyPath,
        '-p', String(sshd.port),
        '-o', 'BatchMode=yes',
        '-o', `UserKnownHostsFile=${path.join(base, 'ok-known')}`,
        '-o', 'StrictHostKeyChecking=accept-new',
        'oolab@127.0.0.1',
        'echo $USER',
      ]);
      expect(stdout).toBe('oolab\n');
    } finally {
      await sshd.stop();
    }
    expect(await accepts(sshd.port)).toBe(false);
  });

  it('fails with sshd log lines when its port is taken', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      const prepared = await prepareSshd({ dir: path.join(base, 'taken'), listenAddress: '127.0.0.1', port, authorizedKeys: [], user: 'oolab' });
      const started = Date.now();
      // The blocker accepts TCP, so only sshd's own "Server listening" line can tell it is not up.
      const outcome = await startSshd(prepared.configPath).then(
        async (running) => {
          await running.stop();
          return new Error('sshd started on a taken port');
        },
        (error: Error) => error,
      );
      expect(outcome.message).toMatch(/exited[\s\S]*Address already in use/);
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      blocker.close();
    }
  });

  it('rejects bad options before touching anything', async () => {
    await expect(
      prepareSshd({ dir: path.join(base, 'bad'), listenAddress: 'localhost', port: 22, authorizedKeys: [], user: 'oolab' }),
    ).rejects.toThrow(/not an IP address/);
    await expect(
      prepareSshd({ dir: path.join(base, 'bad'), listenAddress: '127.0.0.1', port: 70_000, authorizedKeys: [], user: 'oolab' }),
    ).rejects.toThrow(/not a TCP port/);
    await expect(
      prepareSshd({ dir: path.join(base, 'bad'), listenAddress: '127.0.0.1', port: 2222, authorizedKeys: ['hello\nworld'], user: 'oolab' }),
    ).rejects.toThrow(/not a single OpenSSH public key line/);
  });
});
