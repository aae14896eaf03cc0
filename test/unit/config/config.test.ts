import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ConfigError,
  loadConfig,
  parseConfig,
  resolveTargets,
  UnknownTargetError,
  YamlFileError,
} from '../../../src/config/index.js';

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl';
const FILE = '/etc/oo/oo.yaml';

const VALID = `# a realistic inventory
hosts:
  bastion-1:
    address: bastion.example.org
    user: ops
    knownHostsFile: ~/.ssh/known_hosts
  docs-1:
    address: 10.0.0.12
    port: 2222
    user: ops
    identityFile: ~/.ssh/id_ed25519
    hostKey: "${KEY} docs-1"
    install: deb
    processManager: supervisor
    sudo: true
    jump: bastion-1
  docs-2:
    address: docs-2.internal
    user: ops
    hostKeys:
      - "${KEY}"
    install: docker
    container: onlyoffice
groups:
  docs: [docs-1, docs-2]
ssh:
  maxSessionsPerConnection: 6
slack:
  channel: "#ops"
`;

function configError(text: string): ConfigError {
  try {
    parseConfig(text, FILE);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    expect(error).toBeInstanceOf(YamlFileError);
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

/** One host, valid, with `extra` lines added to it (indented under the host). */
function withHost(extra: string, base = `    address: 10.0.0.12\n    user: ops\n    hostKey: "${KEY}"\n`): string {
  return `hosts:\n  docs-1:\n${base}${extra}`;
}

describe('parseConfig: valid inventories', () => {
  it('parses hosts, groups, defaults and the later sections', () => {
    const config = parseConfig(VALID, FILE, { homeDir: '/home/ops' });
    expect(config.file).toBe(FILE);
    expect(config.hosts['docs-1']).toEqual({
      address: '10.0.0.12',
      port: 2222,
      user: 'ops',
      identityFile: '/home/ops/.ssh/id_ed25519',
      hostKeys: [`${KEY} docs-1`],
      install: 'deb',
      processManager: 'supervisor',
      sudo: true,
      jump: 'bastion-1',
    });
    expect(config.hosts['bastion-1']).toMatchObject({
      port: 22,
      sudo: false,
      hostKeys: [],
      knownHostsFile: '/home/ops/.ssh/known_hosts',
    });
    expect(config.hosts['bastion-1']!.identityFile).toBeUndefined();
    expect(config.hosts['docs-2']).toMatchObject({ hostKeys: [KEY], install: 'docker', container: 'onlyoffice' });
    expect(config.groups).toEqual({ docs: ['docs-1', 'docs-2'] });
    expect(config.ssh).toEqual({
      connectTimeoutMs: 10_000,
      commandTimeoutMs: 60_000,
      keepaliveIntervalMs: 15_000,
      maxSessionsPerConnection: 6,
      maxParallelHosts: 16,
    });
    expect(config.slack).toEqual({ channel: '#ops' });
  });

  it('reads relative key paths from the config file folder', () => {
    const config = parseConfig(withHost('    identityFile: keys/id\n'), '/srv/oo/oo.yaml');
    expect(config.hosts['docs-1']!.identityFile).toBe('/srv/oo/keys/id');
  });

  it('accepts YAML merge keys for shared host defaults, kept under an x- key', () => {
    const text = `x-defaults: &defaults
  user: ops
  sudo: true
  hostKey: "${KEY}"
hosts:
  docs-1:
    <<: *defaults
    address: 10.0.0.12
`;
    const config = parseConfig(text, FILE);
    expect(config.hosts['docs-1']).toMatchObject({ user: 'ops', sudo: true, hostKeys: [KEY], address: '10.0.0.12' });
    expect(Object.keys(config)).not.toContain('x-defaults');
  });

  it('accepts an IPv6 address and a known_hosts file instead of a pinned key', () => {
    const config = parseConfig(
      withHost('', '    address: "fe80::1"\n    user: ops\n    knownHostsFile: /etc/ssh/ssh_known_hosts\n'),
      FILE,
    );
    expect(config.hosts['docs-1']).toMatchObject({ address: 'fe80::1', knownHostsFile: '/etc/ssh/ssh_known_hosts' });
  });
});

describe('parseConfig: every mistake names file, line, column and field', () => {
  it('a port of the wrong type', () => {
    const error = configError(withHost('    port: twenty-two\n'));
    expect(error).toMatchObject({ file: FILE, line: 6, column: 11, field: 'hosts.docs-1.port' });
    expect(error.message).toBe(`${FILE}:6:11 hosts.docs-1.port: expected number, got string "twenty-two"`);
  });

  it('a port out of range', () => {
    const error = configError(withHost('    port: 70000\n'));
    expect(error).toMatchObject({ line: 6, field: 'hosts.docs-1.port' });
  });

  it('an unknown key in a host, pointing at the key', () => {
    const error = configError(withHost('    prot: 22\n'));
    expect(error).toMatchObject({ line: 6, column: 5, field: 'hosts.docs-1.prot' });
    expect(error.message).toContain('unknown key "prot"');
  });

  it('an unknown top-level key (a typo of a section)', () => {
    const error = configError(`${withHost('')}shh:\n  connectTimeoutMs: 5\n`);
    expect(error).toMatchObject({ line: 6, column: 1, field: 'shh' });
  });

  it('a host with neither a pinned key nor a known_hosts file', () => {
    const error = configError('hosts:\n  docs-1:\n    address: 10.0.0.12\n    user: ops\n');
    expect(error).toMatchObject({ line: 2, column: 3, field: 'hosts.docs-1' });
    expect(error.message).toContain('never trusted');
  });

  it('a pinned key that is not a public key line', () => {
    const error = configError(withHost('', '    address: 10.0.0.12\n    user: ops\n    hostKey: "ssh-ed25519 not-base64!"\n'));
    expect(error).toMatchObject({ line: 5, field: 'hosts.docs-1.hostKey' });
  });

  it('a jump to an unknown host', () => {
    const error = configError(withHost('    jump: bastion-9\n'));
    expect(error).toMatchObject({ line: 6, column: 11, field: 'hosts.docs-1.jump' });
    expect(error.message).toContain('unknown host "bastion-9" (hosts: docs-1)');
  });

  it('a jump cycle, reported once', () => {
    const text = `hosts:
  a:
    address: a.example
    user: ops
    hostKey: "${KEY}"
    jump: b
  b:
    address: b.example
    user: ops
    hostKey: "${KEY}"
    jump: c
  c:
    address: c.example
    user: ops
    hostKey: "${KEY}"
    jump: a
`;
    const error = configError(text);
    expect(error.problems).toHaveLength(1);
    expect(error).toMatchObject({ line: 6, field: 'hosts.a.jump' });
    expect(error.message).toContain('cycle: a -> b -> c -> a');
  });

  it('a host that jumps through itself', () => {
    const error = configError(withHost('    jump: docs-1\n'));
    expect(error).toMatchObject({ line: 6, field: 'hosts.docs-1.jump' });
  });

  it('a group with an unknown host, pointing at the member', () => {
    const error = configError(`${withHost('')}groups:\n  docs:\n    - docs-1\n    - docs-9\n`);
    expect(error).toMatchObject({ line: 9, column: 7, field: 'groups.docs[1]' });
    expect(error.message).toContain('unknown host "docs-9"');
  });

  it('a group named like a host', () => {
    const error = configError(`${withHost('')}groups:\n  docs-1: [docs-1]\n`);
    expect(error).toMatchObject({ line: 7, column: 3, field: 'groups.docs-1' });
  });

  it('docker without a container, and a container name that is not one', () => {
    expect(configError(withHost('    install: docker\n'))).toMatchObject({ line: 2, field: 'hosts.docs-1' });
    const error = configError(withHost('    processManager: docker\n    container: "x; rm -rf /"\n'));
    expect(error).toMatchObject({ line: 7, field: 'hosts.docs-1.container' });
  });

  it('a bad host name', () => {
    const error = configError(withHost('').replace('docs-1', '-docs'));
    expect(error).toMatchObject({ line: 2, column: 3, field: 'hosts.-docs' });
  });

  it('more than 9 sessions per connection (OpenSSH allows 10)', () => {
    const error = configError(`${withHost('')}ssh:\n  maxSessionsPerConnection: 10\n`);
    expect(error).toMatchObject({ line: 7, field: 'ssh.maxSessionsPerConnection' });
  });

  it('a YAML syntax error', () => {
    const error = configError('hosts:\n  docs-1: [a, b\n');
    expect(error).toMatchObject({ file: FILE, line: 3, field: '' });
    expect(error.message).toMatch(/^\/etc\/oo\/oo\.yaml:3:\d+: YAML syntax error: /);
  });

  it('duplicate keys', () => {
    const error = configError(`${withHost('')}  docs-1:\n    address: x\n`);
    expect(error.message).toContain('YAML syntax error: Map keys must be unique');
  });

  it('an empty file', () => {
    expect(configError('')).toMatchObject({ line: 1, field: 'hosts' });
  });

  it('several problems: all reported, in file order, each on its own line', () => {
    const text = `hosts:
  docs-1:
    address: 10.0.0.12
    port: "22"
    user: ops
    jump: nowhere
groups:
  docs: [docs-1, ghost]
`;
    const error = configError(text);
    expect(error.problems.map((problem) => `${problem.line} ${problem.field}`)).toEqual([
      '2 hosts.docs-1',
      '4 hosts.docs-1.port',
      '6 hosts.docs-1.jump',
      '8 groups.docs[1]',
    ]);
    const lines = error.message.split('\n');
    expect(lines).toHaveLength(4);
    for (const line of lines) expect(line).toMatch(/^\/etc\/oo\/oo\.yaml:\d+:\d+ [\w.[\]-]+: /);
  });
});

describe('loadConfig', () => {
  let dir: string;
  const savedEnv = process.env.OO_CONFIG;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'oo-config-'));
  });
  afterEach(async () => {
    if (savedEnv === undefined) delete process.env.OO_CONFIG;
    else process.env.OO_CONFIG = savedEnv;
    await rm(dir, { recursive: true, force: true });
  });

  it('reads the given file, else $OO_CONFIG', async () => {
    const file = path.join(dir, 'inventory.yaml');
    await writeFile(file, VALID);
    expect(Object.keys((await loadConfig(file)).hosts)).toEqual(['bastion-1', 'docs-1', 'docs-2']);
    process.env.OO_CONFIG = file;
    expect((await loadConfig()).file).toBe(file);
  });

  it('names a missing file', async () => {
    const file = path.join(dir, 'missing.yaml');
    await expect(loadConfig(file)).rejects.toMatchObject({ name: 'ConfigError', file, line: 0 });
    await expect(loadConfig(file)).rejects.toThrow(/missing\.yaml: cannot read the configuration: no such file/);
  });

  it('reports problems with the file name it read', async () => {
    const file = path.join(dir, 'bad.yaml');
    await writeFile(file, withHost('    port: x\n'));
    await expect(loadConfig(file)).rejects.toMatchObject({ file, line: 6, field: 'hosts.docs-1.port' });
  });
});

describe('resolveTargets', () => {
  const config = parseConfig(VALID, FILE, { homeDir: '/home/ops' });

  it('resolves a host with its jump chain as objects', () => {
    const [docs1] = resolveTargets(config, 'docs-1');
    expect(docs1).toMatchObject({ name: 'docs-1', address: '10.0.0.12', port: 2222, sudo: true });
    expect(docs1!.jump).toMatchObject({ name: 'bastion-1', address: 'bastion.example.org', port: 22 });
    expect(docs1!.jump!.jump).toBeUndefined();
  });

  it('expands a group in its order', () => {
    expect(resolveTargets(config, 'docs').map((host) => host.name)).toEqual(['docs-1', 'docs-2']);
  });

  it('names what exists when the target is unknown', () => {
    expect(() => resolveTargets(config, 'doc')).toThrow(UnknownTargetError);
    expect(() => resolveTargets(config, 'doc')).toThrow(
      'unknown host or group "doc"; hosts: bastion-1, docs-1, docs-2; groups: docs',
    );
  });

  it('does not treat inherited object keys as targets', () => {
    expect(() => resolveTargets(config, 'constructor')).toThrow(UnknownTargetError);
  });
});
