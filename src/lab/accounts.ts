/**
 * System accounts the lab hosts' services run as: `ds` (ONLYOFFICE's packages create it for their
 * services) and Debian's `redis`. Accounts are machine-wide, so creating one is serialised across
 * processes: useradd run twice at once fails on the /etc/passwd lock.
 */
import { tmpdir } from 'node:os';
import path from 'node:path';

import { runCommand, runChecked, sleep } from './commands.js';
import { withDirectoryLock } from './sshd.js';

export interface Account {
  uid: number;
  gid: number;
}

async function lookup(name: string): Promise<Account | null> {
  const uid = await runCommand(['id', '-u', name], { timeoutMs: 10_000 });
  const gid = await runCommand(['id', '-g', name], { timeoutMs: 10_000 });
  if (uid.code !== 0 || gid.code !== 0) return null;
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

/** The account ONLYOFFICE's services run as, created like the package's postinst does when missing. */
export async function ensureServiceAccount(name = 'ds', home = '/var/www/onlyoffice'): Promise<Account> {
  const existing = await lookup(name);
  if (existing) return existing;
  return withDirectoryLock(path.join(tmpdir(), `oo-lab-account-${name}.lock`), async () => {
    const again = await lookup(name);
    if (again) return again;
    for (let attempt = 0; attempt < 20; attempt += 1) {
      const result = await runCommand(
        ['useradd', '--system', '--user-group', '--no-create-home', '--home-dir', home, '--shell', '/usr/sbin/nologin', name],
        { timeoutMs: 30_000 },
      );
      if (result.code === 0 || result.code === 9 /* already exists */) break;
      // Exit 10: /etc/passwd is locked by someone else's useradd (e.g. the lab's operator account).
      if (result.code !== 10) {
        throw new Error(`creating account ${name} failed (useradd exit ${result.code}): ${result.stderr.trim()}`);
      }
      await sleep(100 + Math.floor(Math.random() * 200));
    }
    const created = await lookup(name);
    if (!created) throw new Error(`account ${name} does not exist after useradd`);
    return created;
  });
}

export async function requireAccount(name: string, why: string): Promise<Account> {
  const account = await lookup(name);
  if (!account) {
    await runChecked(['id', name], `looking up account ${name} (${why})`);
    throw new Error(`account ${name} is missing (${why})`);
  }
  return account;
}
