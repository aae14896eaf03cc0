import { readFileSync } from 'node:fs';
import { createHmac, randomBytes } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  fingerprintSha256,
  hostMatcherMatches,
  knownHostsLookupName,
  matchesHostPattern,
  parseKnownHosts,
  parsePublicKeyLine,
  preferredHostKeyAlgorithms,
  verifyHostKey,
  type KnownHostsEntry,
} from '../../../src/ssh/known-hosts.js';

// Fixtures were made with real OpenSSH tools: keys with `ssh-keygen -t …`, the hashed file with
// `ssh-keygen -H`, fingerprints with `ssh-keygen -lf`, and the expected matches with `ssh-keygen -F`.
const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');
const fixture = (name: string) => readFileSync(path.join(fixtures, name), 'utf8');
const keys = {
  ed25519: parsePublicKeyLine(fixture('ed25519.pub')),
  ecdsa: parsePublicKeyLine(fixture('ecdsa.pub')),
  rsa: parsePublicKeyLine(fixture('rsa.pub')),
  other: parsePublicKeyLine(fixture('other.pub')),
};

/** Lines of the plain fixture that are host keys (not markers) and match host:port. */
function matchingLines(entries: KnownHostsEntry[], host: string, port = 22): number[] {
  return entries.filter((e) => e.marker === undefined && hostMatcherMatches(e.hosts, host, port)).map((e) => e.line);
}

describe('fingerprintSha256', () => {
  it('equals ssh-keygen -lf for ed25519, ecdsa and rsa keys', () => {
    expect(fingerprintSha256(keys.ed25519.blob)).toBe('SHA256:bMyV4AnnLEeP6sP0jCF2EH3bmhyJyd1SNMPQuboeVYE');
    expect(fingerprintSha256(keys.ecdsa.blob)).toBe('SHA256:NSa4yOPGi6jFSBVplKHF8NMjIEVBk7uF+9IEreBsB88');
    expect(fingerprintSha256(keys.rsa.blob)).toBe('SHA256:+5Uc97o/ggtomvyXoe+3SswRZUrd5WDWzdRE2NSC9Qc');
    expect(fingerprintSha256(keys.other.blob)).toBe('SHA256:xa5OJ51xnQon/cnarUQlznms3GrNNWkCzlxjmouvi8Q');
  });

  it('never has base64 padding', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 200 }), (bytes) => {
        expect(fingerprintSha256(Buffer.from(bytes))).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
      }),
    );
  });
});

describe('parsePublicKeyLine', () => {
  it('reads type, blob and comment', () => {
    expect(keys.ed25519.type).toBe('ssh-ed25519');
    expect(keys.ed25519.comment).toBe('fixture-ed25519');
    expect(keys.rsa.type).toBe('ssh-rsa');
  });

  it('rejects a type that differs from the one inside the key data', () => {
    const base64 = keys.ed25519.blob.toString('base64');
    expect(() => parsePublicKeyLine(`ssh-rsa ${base64}`)).toThrow(/does not match the type inside the key data \(ssh-ed25519\)/);
  });

  it('rejects lines without key data, non-base64 and non-key bytes', () => {
    expect(() => parsePublicKeyLine('ssh-ed25519')).toThrow(/needs "<type> <base64 key>/);
    expect(() => parsePublicKeyLine('ssh-ed25519 not*base64')).toThrow(/not base64/);
    expect(() => parsePublicKeyLine('ssh-ed25519 aGVsbG8=')).toThrow(/not an SSH public key blob/);
  });
});

describe('parseKnownHosts (plain fixture)', () => {
  const parsed = parseKnownHosts(fixture('known_hosts'));

  it('skips comments and blank lines, reports unreadable lines with their numbers', () => {
    expect(parsed.entries.map((e) => e.line)).toEqual([3, 4, 5, 6, 7, 8, 9, 10]);
    expect(parsed.problems).toEqual([
      { line: 11, message: expect.stringContaining('expected "[marker] hosts keytype base64-key') },
      { line: 12, message: 'key data for ssh-ed25519 is not base64' },
    ]);
  });

  it('reads markers and comments', () => {
    expect(parsed.entries.find((e) => e.line === 9)?.marker).toBe('cert-authority');
    expect(parsed.entries.find((e) => e.line === 10)?.marker).toBe('revoked');
    expect(parsed.entries.find((e) => e.line === 5)?.comment).toBe('mixed case and tabs');
  });

  // Expected lines come from `ssh-keygen -F <host> -f known_hosts` on the same file.
  it.each([
    ['docs-1.example.com', 22, [3]],
    ['10.0.0.12', 22, [3]],
    ['10.0.0.13', 22, []],
    ['10.0.0.13', 2222, [4]],
    ['docs-2.example.com', 22, [5]],
    ['a.lab.example.com', 22, [6]],
    ['bad.lab.example.com', 22, []],
    ['10.1.2.3', 22, [7]],
    ['10.1.2.33', 22, []],
    ['x.ports.example.com', 2200, [8]],
    ['x.ports.example.com', 22, []],
    ['DOCS-1.EXAMPLE.COM', 22, [3]],
  ] as const)('%s port %d matches lines %j', (host, port, lines) => {
    expect(matchingLines(parsed.entries, host, port)).toEqual(lines);
  });
});

describe('parseKnownHosts (hashed fixture from ssh-keygen -H)', () => {
  const parsed = parseKnownHosts(fixture('known_hosts_hashed'));

  it('parses every hashed line', () => {
    expect(parsed.problems).toEqual([]);
    expect(parsed.entries.every((e) => e.hosts.kind === 'hashed')).toBe(true);
  });

  it.each([
    ['docs-1.example.com', 22, [1]],
    ['10.0.0.12', 22, [2]],
    ['10.0.0.13', 2222, [3]],
    ['10.0.0.13', 22, []],
    ['docs-2.example.com', 22, [4]],
    ['docs-2.example.com', 2222, []],
  ] as const)('%s port %d matches lines %j', (host, port, lines) => {
    expect(matchingLines(parsed.entries, host, port)).toEqual(lines);
  });

  it('matches any host hashed the OpenSSH way and nothing else', () => {
    fc.assert(
      fc.property(
        fc.domain(),
        fc.integer({ min: 1, max: 65_535 }),
        fc.domain(),
        (host, port, otherHost) => {
          const salt = randomBytes(20);
          const hash = createHmac('sha1', salt).update(knownHostsLookupName(host, port)).digest();
          const line = `|1|${salt.toString('base64')}|${hash.toString('base64')} ${fixture('ed25519.pub').trim()}`;
          const [entry] = parseKnownHosts(line).entries;
          expect(entry).toBeDefined();
          expect(hostMatcherMatches(entry!.hosts, host, port)).toBe(true);
          if (otherHost.toLowerCase() !== host.toLowerCase()) expect(hostMatcherMatches(entry!.hosts, otherHost, port)).toBe(false);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('reports malformed hashed names', () => {
    const key = fixture('ed25519.pub').trim();
    expect(parseKnownHosts(`|2|abc=|def= ${key}`).problems[0]?.message).toMatch(/is not "\|1\|salt\|hash"/);
    expect(parseKnownHosts(`|1|abc=|ZGVm ${key}`).problems[0]?.message).toMatch(/HMAC-SHA1 gives 20/);
  });
});

describe('host patterns', () => {
  it('uses [host]:port for ports other than 22', () => {
    expect(knownHostsLookupName('Example.COM', 22)).toBe('example.com');
    expect(knownHostsLookupName('::1', 2222)).toBe('[::1]:2222');
  });

  it('treats regex metacharacters literally and * / ? as globs', () => {
    expect(matchesHostPattern('10.0.0.1', '10a0b0c1')).toBe(false);
    expect(matchesHostPattern('a+b', 'a+b')).toBe(true);
    expect(matchesHostPattern('*', '[10.0.0.1]:2222')).toBe(true);
    expect(matchesHostPattern('h?st', 'host')).toBe(true);
    expect(matchesHostPattern('h?st', 'hst')).toBe(false);
  });

  it('lets a negated pattern veto the line even when listed after a match', () => {
    const [entry] = parseKnownHosts(`*,!secret.example.com ${fixture('ed25519.pub')}`).entries;
    expect(hostMatcherMatches(entry!.hosts, 'public.example.com', 22)).toBe(true);
    expect(hostMatcherMatches(entry!.hosts, 'secret.example.com', 22)).toBe(false);
  });
});

describe('verifyHostKey', () => {
  const plain = parseKnownHosts(fixture('known_hosts')).entries;

  it('trusts a pinned key', () => {
    const verdict = verifyHostKey({ host: '127.0.0.1', port: 2222, pinned: [keys.ed25519], knownHosts: [] }, keys.ed25519.blob);
    expect(verdict).toEqual({ trusted: true, via: 'pinned hostKey' });
  });

  it('trusts a known_hosts entry for that host and port, naming the line', () => {
    const verdict = verifyHostKey(
      { host: '10.0.0.13', port: 2222, pinned: [], knownHosts: plain, knownHostsSource: 'kh' },
      keys.ecdsa.blob,
    );
    expect(verdict).toEqual({ trusted: true, via: 'kh:4' });
  });

  it('calls a key unknown when nothing is expected for the host, with its fingerprint', () => {
    const verdict = verifyHostKey({ host: '10.9.9.9', port: 22, pinned: [], knownHosts: plain }, keys.rsa.blob);
    expect(verdict).toMatchObject({
      trusted: false,
      reason: 'host_key_unknown',
      presentedType: 'ssh-rsa',
      presentedFingerprint: 'SHA256:+5Uc97o/ggtomvyXoe+3SswRZUrd5WDWzdRE2NSC9Qc',
      expected: [],
    });
  });

  it('calls a key changed when the host has an entry with another key', () => {
    const verdict = verifyHostKey({ host: 'docs-1.example.com', port: 22, pinned: [], knownHosts: plain, knownHostsSource: 'kh' }, keys.rsa.blob);
    expect(verdict).toMatchObject({
      trusted: false,
      reason: 'host_key_mismatch',
      expected: [{ fingerprint: 'SHA256:bMyV4AnnLEeP6sP0jCF2EH3bmhyJyd1SNMPQuboeVYE', type: 'ssh-ed25519', source: 'kh:3' }],
    });
    const pinnedMismatch = verifyHostKey({ host: 'h', port: 22, pinned: [keys.ed25519], knownHosts: [] }, keys.ecdsa.blob);
    expect(pinnedMismatch).toMatchObject({ trusted: false, reason: 'host_key_mismatch' });
  });

  it('refuses a revoked key even when it is pinned', () => {
    const verdict = verifyHostKey(
      { host: 'anything', port: 22, pinned: [keys.other], knownHosts: plain, knownHostsSource: 'kh' },
      keys.other.blob,
    );
    expect(verdict).toMatchObject({ trusted: false, reason: 'host_key_revoked', revokedBy: 'kh:10' });
  });

  it('does not trust a plain key because a @cert-authority line lists it', () => {
    const text = `@cert-authority *.example.com ${fixture('rsa.pub')}`;
    const verdict = verifyHostKey({ host: 'x.example.com', port: 22, pinned: [], knownHosts: parseKnownHosts(text).entries }, keys.rsa.blob);
    expect(verdict).toMatchObject({ trusted: false, reason: 'host_key_unknown' });
  });
});

describe('preferredHostKeyAlgorithms', () => {
  it('asks first for the types expected for the host', () => {
    const entries = parseKnownHosts(fixture('known_hosts')).entries;
    expect(preferredHostKeyAlgorithms({ host: 'docs-2.example.com', port: 22, pinned: [], knownHosts: entries })).toEqual([
      'rsa-sha2-512',
      'rsa-sha2-256',
      'ssh-rsa',
    ]);
    expect(preferredHostKeyAlgorithms({ host: 'h', port: 22, pinned: [keys.ecdsa, keys.ed25519], knownHosts: [] })).toEqual([
      'ecdsa-sha2-nistp256',
      'ssh-ed25519',
    ]);
    expect(preferredHostKeyAlgorithms({ host: 'h', port: 22, pinned: [], knownHosts: [] })).toEqual([]);
  });
});
