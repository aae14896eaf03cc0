/**
 * OpenSSH known_hosts and public-key lines, as sshd(8) "SSH_KNOWN_HOSTS FILE FORMAT" describes them.
 * Hand-written because no maintained npm parser exists (the few packages on the registry are abandoned
 * and skip hashed names, markers or negation). Pure: text in, data out.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export interface PublicKey {
  /** The type named inside the key blob, e.g. `ssh-ed25519`. */
  type: string;
  /** The SSH wire-format key blob: what the server presents and what ssh2 hands to hostVerifier. */
  blob: Buffer;
}

export type HostMatcher =
  | { kind: 'patterns'; patterns: { pattern: string; negated: boolean }[] }
  | { kind: 'hashed'; salt: Buffer; hash: Buffer };

export interface KnownHostsEntry {
  /** 1-based line number in the file, for messages. */
  line: number;
  marker?: 'revoked' | 'cert-authority';
  hosts: HostMatcher;
  key: PublicKey;
  comment?: string;
}

export interface KnownHostsProblem {
  line: number;
  message: string;
}

export interface ParsedKnownHosts {
  entries: KnownHostsEntry[];
  /** Lines that could not be read; like OpenSSH, they are skipped rather than failing the whole file. */
  problems: KnownHostsProblem[];
}

const BASE64_PATTERN = /^[A-Za-z0-9+/]+={0,2}$/;

/** The string at the start of an SSH key blob (uint32 length, then the type name). */
function blobType(blob: Buffer): string | null {
  if (blob.length < 4) return null;
  const length = blob.readUInt32BE(0);
  if (length === 0 || length > 64 || blob.length < 4 + length) return null;
  const type = blob.subarray(4, 4 + length).toString('latin1');
  return /^[\x21-\x7e]+$/.test(type) ? type : null;
}

/**
 * Decodes the `type base64` pair of a public key line, checking that the blob names the same type as the
 * text (a mismatch means a corrupted or hand-edited line).
 */
export function decodePublicKey(type: string, base64: string): PublicKey {
  if (!BASE64_PATTERN.test(base64)) throw new Error(`key data for ${type} is not base64`);
  const blob = Buffer.from(base64, 'base64');
  const inner = blobType(blob);
  if (inner === null) throw new Error(`key data for ${type} is not an SSH public key blob`);
  if (inner !== type) throw new Error(`key type ${type} does not match the type inside the key data (${inner})`);
  return { type, blob };
}

/** Parses a public key line such as `ssh-ed25519 AAAAC3Nza… comment` (a pinned host key). */
export function parsePublicKeyLine(line: string): PublicKey & { comment?: string } {
  const fields = line.trim().split(/\s+/);
  const [type, base64, ...rest] = fields;
  if (!type || !base64) {
    throw new Error(`public key line ${JSON.stringify(line.slice(0, 80))} needs "<type> <base64 key> [comment]"`);
  }
  const key = decodePublicKey(type, base64);
  return rest.length > 0 ? { ...key, comment: rest.join(' ') } : key;
}

/** The key blob's type, or null when the bytes are not a key blob. */
export function publicKeyType(blob: Buffer): string | null {
  return blobType(blob);
}

/** OpenSSH's default fingerprint: `SHA256:` + unpadded base64 of SHA-256 over the key blob. */
export function fingerprintSha256(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** `type base64`, the form a key is pinned in. */
export function formatPublicKey(key: PublicKey): string {
  return `${key.type} ${key.blob.toString('base64')}`;
}

function parseHostField(field: string): HostMatcher {
  if (field.startsWith('|')) {
    const parts = field.split('|');
    // "|1|salt|hash" splits into ['', '1', salt, hash]
    if (parts.length !== 4 || parts[1] !== '1') throw new Error(`hashed host ${field} is not "|1|salt|hash"`);
    const [, , saltText = '', hashText = ''] = parts;
    if (!BASE64_PATTERN.test(saltText) || !BASE64_PATTERN.test(hashText)) {
      throw new Error(`hashed host ${field} has salt or hash that is not base64`);
    }
    const salt = Buffer.from(saltText, 'base64');
    const hash = Buffer.from(hashText, 'base64');
    if (hash.length !== 20) throw new Error(`hashed host ${field} has a hash of ${hash.length} bytes, HMAC-SHA1 gives 20`);
    return { kind: 'hashed', salt, hash };
  }
  const patterns = field
    .split(',')
    .filter((pattern) => pattern.length > 0)
    .map((pattern) =>
      pattern.startsWith('!')
        ? { pattern: pattern.slice(1).toLowerCase(), negated: true }
        : { pattern: pattern.toLowerCase(), negated: false },
    );
  if (patterns.length === 0 || patterns.every((p) => p.pattern === '')) throw new Error('host field is empty');
  return { kind: 'patterns', patterns };
}

/** Parses a known_hosts file. Comment and blank lines are skipped; unreadable lines become problems. */
export function parseKnownHosts(text: string): ParsedKnownHosts {
  const entries: KnownHostsEntry[] = [];
  const problems: KnownHostsProblem[] = [];
  const lines = text.split(/\r?\n/);
  for (let index = 0; index < lines.length; index += 1) {
    const lineNumber = index + 1;
    const trimmed = (lines[index] ?? '').trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    let fields = trimmed.split(/\s+/);
    let marker: KnownHostsEntry['marker'];
    if (fields[0]?.startsWith('@')) {
      if (fields[0] === '@revoked') marker = 'revoked';
      else if (fields[0] === '@cert-authority') marker = 'cert-authority';
      else {
        problems.push({ line: lineNumber, message: `unknown marker ${fields[0]}` });
        continue;
      }
      fields = fields.slice(1);
    }
    const [hostField, type, base64, ...commentParts] = fields;
    if (!hostField || !type || !base64) {
      problems.push({ line: lineNumber, message: 'expected "[marker] hosts keytype base64-key [comment]"' });
      continue;
    }
    if (/^\d+$/.test(type)) {
      problems.push({ line: lineNumber, message: 'SSH protocol 1 RSA keys are not supported' });
      continue;
    }
    try {
      const hosts = parseHostField(hostField);
      const key = decodePublicKey(type, base64);
      const entry: KnownHostsEntry = { line: lineNumber, hosts, key };
      if (marker) entry.marker = marker;
      if (commentParts.length > 0) entry.comment = commentParts.join(' ');
      entries.push(entry);
    } catch (error) {
      problems.push({ line: lineNumber, message: (error as Error).message });
    }
  }
  return { entries, problems };
}

/**
 * The name OpenSSH looks a host up by: the lowercased host for port 22, `[host]:port` otherwise.
 * Hashed entries are HMACs of exactly this string.
 */
export function knownHostsLookupName(host: string, port: number): string {
  const lower = host.toLowerCase();
  return port === 22 ? lower : `[${lower}]:${port}`;
}

function globToRegExp(pattern: string): RegExp {
  let source = '';
  for (const char of pattern) {
    if (char === '*') source += '.*';
    else if (char === '?') source += '.';
    else source += char.replace(/[\\^$.|+()[\]{}]/g, '\\$&');
  }
  return new RegExp(`^${source}$`, 's');
}

/** OpenSSH match_pattern: `*` any run of characters, `?` exactly one, whole string, case already folded. */
export function matchesHostPattern(pattern: string, name: string): boolean {
  return globToRegExp(pattern).test(name);
}

/** Whether a known_hosts host field covers host:port (negated patterns veto, as in match_hostname). */
export function hostMatcherMatches(matcher: HostMatcher, host: string, port: number): boolean {
  const name = knownHostsLookupName(host, port);
  if (matcher.kind === 'hashed') {
    const digest = createHmac('sha1', matcher.salt).update(name).digest();
    return digest.length === matcher.hash.length && timingSafeEqual(digest, matcher.hash);
  }
  let matched = false;
  for (const { pattern, negated } of matcher.patterns) {
    if (!matchesHostPattern(pattern, name)) continue;
    if (negated) return false;
    matched = true;
  }
  return matched;
}

export type HostKeyVerdict =
  | { trusted: true; via: string }
  | {
      trusted: false;
      reason: 'host_key_unknown' | 'host_key_mismatch' | 'host_key_revoked';
      presentedFingerprint: string;
      presentedType: string;
      /** Fingerprints the host is expected to present, with where each came from. */
      expected: { fingerprint: string; type: string; source: string }[];
      /** Where the revocation came from, when revoked. */
      revokedBy?: string;
    };

export interface HostKeyPolicy {
  host: string;
  port: number;
  /** Keys pinned for this host (inventory `hostKey`), already parsed. */
  pinned: PublicKey[];
  /** Entries of the known_hosts file named for this host, if any. */
  knownHosts: KnownHostsEntry[];
  /** How to name the known_hosts file in messages. */
  knownHostsSource?: string;
}

/**
 * Decides whether a presented host key is trusted. Order matters: a revoked key is refused even when
 * pinned; then a pinned or known key is accepted; otherwise the host is "changed" when anything is
 * expected for it and "unknown" when nothing is. `@cert-authority` lines never trust a plain key.
 * `@revoked` keys are refused for every host, not only the hosts on their line, because the man page
 * says such a key "must not ever be accepted".
 */
export function verifyHostKey(policy: HostKeyPolicy, presented: Buffer): HostKeyVerdict {
  const source = policy.knownHostsSource ?? 'known_hosts';
  const presentedType = publicKeyType(presented) ?? 'unknown-type';
  const presentedFingerprint = fingerprintSha256(presented);
  const revoked = policy.knownHosts.find((entry) => entry.marker === 'revoked' && entry.key.blob.equals(presented));
  const expected: { fingerprint: string; type: string; source: string }[] = [];
  for (const pin of policy.pinned) {
    expected.push({ fingerprint: fingerprintSha256(pin.blob), type: pin.type, source: 'pinned hostKey' });
  }
  const hostEntries = policy.knownHosts.filter(
    (entry) => entry.marker === undefined && hostMatcherMatches(entry.hosts, policy.host, policy.port),
  );
  for (const entry of hostEntries) {
    expected.push({ fingerprint: fingerprintSha256(entry.key.blob), type: entry.key.type, source: `${source}:${entry.line}` });
  }
  if (revoked) {
    return {
      trusted: false,
      reason: 'host_key_revoked',
      presentedFingerprint,
      presentedType,
      expected,
      revokedBy: `${source}:${revoked.line}`,
    };
  }
  if (policy.pinned.some((pin) => pin.blob.equals(presented))) return { trusted: true, via: 'pinned hostKey' };
  const known = hostEntries.find((entry) => entry.key.blob.equals(presented));
  if (known) return { trusted: true, via: `${source}:${known.line}` };
  return {
    trusted: false,
    reason: expected.length > 0 ? 'host_key_mismatch' : 'host_key_unknown',
    presentedFingerprint,
    presentedType,
    expected,
  };
}

const HOST_KEY_ALGORITHMS: Record<string, string[]> = {
  'ssh-ed25519': ['ssh-ed25519'],
  'ecdsa-sha2-nistp256': ['ecdsa-sha2-nistp256'],
  'ecdsa-sha2-nistp384': ['ecdsa-sha2-nistp384'],
  'ecdsa-sha2-nistp521': ['ecdsa-sha2-nistp521'],
  'ssh-rsa': ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'],
};

/**
 * Host key algorithms to ask for first, so a server with several host keys presents one we know
 * (OpenSSH orders HostKeyAlgorithms by known_hosts the same way). Unknown types add nothing.
 */
export function preferredHostKeyAlgorithms(policy: HostKeyPolicy): string[] {
  const types = [
    ...policy.pinned.map((pin) => pin.type),
    ...policy.knownHosts
      .filter((entry) => entry.marker === undefined && hostMatcherMatches(entry.hosts, policy.host, policy.port))
      .map((entry) => entry.key.type),
  ];
  const algorithms: string[] = [];
  for (const type of types) {
    for (const algorithm of HOST_KEY_ALGORITHMS[type] ?? []) {
      if (!algorithms.includes(algorithm)) algorithms.push(algorithm);
    }
  }
  return algorithms;
}
