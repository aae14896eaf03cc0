import { homedir } from 'node:os';
import path from 'node:path';
import { parsePublicKeyLine } from './known-hosts.js';

/** Where and how to reach one host over SSH. */
export interface SshTarget {
  /** Inventory name, used in messages and errors. */
  name: string;
  /** Host name or IP; known_hosts entries are looked up by this (and the port), as OpenSSH does. */
  address: string;
  port: number;
  user: string;
  /** Private key file (OpenSSH or PEM format, no passphrase). */
  identityFile?: string;
  /** Authenticate with the ssh-agent at $SSH_AUTH_SOCK (also used when no identityFile is set). */
  useAgent?: boolean;
  /** Pinned host public keys, "ssh-ed25519 AAAA… [comment]". */
  hostKeys?: string[];
  knownHostsFile?: string;
  /** Reach this host through another one (its key is verified against its own entry). */
  jump?: SshTarget;
}

const MAX_JUMP_DEPTH = 8;

/** `~/x` → the home folder's x, as ssh does for IdentityFile and UserKnownHostsFile. */
export function expandHome(file: string): string {
  if (file === '~') return homedir();
  if (file.startsWith('~/')) return path.join(homedir(), file.slice(2));
  return file;
}

/** Throws an Error naming the target and the field when the target cannot be used. */
export function validateTarget(target: SshTarget, depth = 0): void {
  const where = `ssh target ${JSON.stringify(target?.name ?? '?')}`;
  if (!target || typeof target !== 'object') throw new Error('ssh target must be an object');
  if (typeof target.name !== 'string' || target.name.trim() === '') throw new Error('ssh target name must be a non-empty string');
  if (typeof target.address !== 'string' || !/^[^\s/]+$/.test(target.address)) {
    throw new Error(`${where}: address ${JSON.stringify(target.address)} must be a host name or IP address`);
  }
  if (!Number.isInteger(target.port) || target.port < 1 || target.port > 65_535) {
    throw new Error(`${where}: port ${JSON.stringify(target.port)} must be an integer 1..65535`);
  }
  if (typeof target.user !== 'string' || !/^[A-Za-z0-9._][A-Za-z0-9._-]*$/.test(target.user)) {
    throw new Error(`${where}: user ${JSON.stringify(target.user)} is not a valid user name`);
  }
  if (target.identityFile !== undefined && (typeof target.identityFile !== 'string' || target.identityFile === '')) {
    throw new Error(`${where}: identityFile must be a non-empty path`);
  }
  if (target.knownHostsFile !== undefined && (typeof target.knownHostsFile !== 'string' || target.knownHostsFile === '')) {
    throw new Error(`${where}: knownHostsFile must be a non-empty path`);
  }
  for (const [index, line] of (target.hostKeys ?? []).entries()) {
    try {
      parsePublicKeyLine(line);
    } catch (error) {
      throw new Error(`${where}: hostKeys[${index}]: ${(error as Error).message}`);
    }
  }
  if (target.jump !== undefined) {
    if (depth >= MAX_JUMP_DEPTH) throw new Error(`${where}: more than ${MAX_JUMP_DEPTH} jump hosts (a jump loop?)`);
    validateTarget(target.jump, depth + 1);
  }
}

/** Identity of a target for connection reuse: everything that changes how the connection is made. */
export function targetKey(target: SshTarget): string {
  return JSON.stringify([
    target.name,
    target.address.toLowerCase(),
    target.port,
    target.user,
    target.identityFile ?? null,
    target.useAgent ?? false,
    target.hostKeys ?? [],
    target.knownHostsFile ?? null,
    target.jump ? targetKey(target.jump) : null,
  ]);
}

/** `name (user@address:port)` for messages. */
export function describeTarget(target: SshTarget): string {
  const address = target.address.includes(':') ? `[${target.address}]` : target.address;
  return `${target.name} (${target.user}@${address}:${target.port})`;
}
