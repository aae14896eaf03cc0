// `oo config check`: through runCli, as an operator runs it. Valid files give exit 0 and a summary of
// what the service would run with; broken ones give exit 2 and every problem as file:line:col field.
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configCheck } from '../../../src/cli/config-check.js';
import { cli } from '../../support/cli.js';
import { runbooksDir } from '../../../src/runbooks/index.js';


const HOST_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl';
const EXAMPLE = path.resolve(import.meta.dirname, '../../../deploy/oo.example.yaml');

const VALID = `hosts:
  docs-1:
    address: 10.0.0.12
    user: ops
    identityFile: key
    hostKey: "${HOST_KEY}"
    install: deb
  docs-2:
    address: docs-2.example.com
    user: ops
    knownHostsFile: known_hosts
    jump: docs-1
groups:
  docs: [docs-1, docs-2]
slack:
  channel: C0123456789
policy:
  approvers:
    low: [U0AAAAAAAA1]
    medium: [S0ONCALL01]
    high: [U0AAAAAAAA1, U0BBBBBBBB2]
  channels: [C0123456789]
redis:
  url: redis://127.0.0.1:6379/0
`;

describe('oo config check', () => {
  let dir: string;
  const file = (name: string) => path.join(dir, name);
  // runCli reads process.env: keep a REDIS_URL or OO_CONFIG of the machine from changing the summary.
  const saved = { REDIS_URL: process.env.REDIS_URL, OO_CONFIG: process.env.OO_CONFIG };
  beforeAll(async () => {
    delete process.env.REDIS_URL;
    delete process.env.OO_CONFIG;
    dir = await mkdtemp(path.join(tmpdir(), 'oo-config-check-'));
    await writeFile(file('key'), 'not read by the check, only its readability', { mode: 0o600 });
    await writeFile(file('known_hosts'), '');
    await writeFile(file('oo.yaml'), VALID);
  });
  afterAll(async () => {
    for (const [name, value] of Object.entries(saved)) if (value !== undefined) process.env[name] = value;
    await rm(dir, { recursive: true, force: true });
  });

  it('exits 0 and summarizes hosts, groups, approvers per risk and the alert channel', async () => {
    const result = await cli(['config', 'check', '--config', file('oo.yaml')]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const out = result.stdout;
    expect(out.split('\n')[0]).toBe(`${file('oo.yaml')}: valid`);
    expect(out).toMatch(/hosts \(2\)\n {2}docs-1\tops@10\.0\.0\.12:22\tdeb\/detect\t1 pinned\n {2}docs-2\tops@docs-2\.example\.com:22 via docs-1\tdetect\/detect\tknown_hosts .*known_hosts\n/);
    expect(out).toContain('groups (1)\n  docs: docs-1, docs-2\n');
    expect(out).toContain('alert channel: C0123456789\n');
    expect(out).toContain('  low-risk approvers: U0AAAAAAAA1\n');
    expect(out).toContain('  medium-risk approvers: S0ONCALL01\n');
    expect(out).toContain('  high-risk approvers: U0AAAAAAAA1, U0BBBBBBBB2\n');
    expect(out).toContain('  high risk: two approvers, no self-approval\n');
    expect(out).toContain('redis: from redis.url, prefix oo\n');
    expect(out).toMatch(/runbooks \(1\)\n {2}onlyoffice-502: \d+ steps, \d+ remediations\n/);
  });

  it('--json prints the same summary as data, never the Redis URL itself', async () => {
    const result = await cli(['config', 'check', '--config', file('oo.yaml'), '--json']);
    expect(result.code).toBe(0);
    const summary = JSON.parse(result.stdout);
    expect(summary.hosts.map((host: { name: string }) => host.name)).toEqual(['docs-1', 'docs-2']);
    expect(summary.policy.approvers).toEqual({ low: ['U0AAAAAAAA1'], medium: ['S0ONCALL01'], high: ['U0AAAAAAAA1', 'U0BBBBBBBB2'] });
    expect(summary.channel).toBe('C0123456789');
    expect(summary.warnings).toEqual([]);
    expect(result.stdout).not.toContain('redis://');
  });

  it('reads $OO_CONFIG when --config is absent, and says REDIS_URL wins', async () => {
    let stdout = '';
    const code = await configCheck({ env: { OO_CONFIG: file('oo.yaml'), REDIS_URL: 'redis://secret@x:6379' } }, { stdout: (t) => (stdout += t), stderr: () => undefined });
    expect(code).toBe(0);
    expect(stdout).toContain(`${file('oo.yaml')}: valid`);
    expect(stdout).toContain('redis: from REDIS_URL, prefix oo');
    expect(stdout).not.toContain('secret');
  });

  it('exits 2 naming file:line:col and field for every mistake in one run', async () => {
    const broken = VALID.replace('    user: ops\n    identityFile: key', '    user: ops\n    port: 70000\n    identityFile: key')
      .replace('docs: [docs-1, docs-2]', 'docs: [docs-1, docs-9]')
      .replace('  channel: C0123456789', '  channel: C0999999999');
    await writeFile(file('broken.yaml'), broken);
    const result = await cli(['config', 'check', '--config', file('broken.yaml')]);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    const lines = result.stderr.trim().split('\n');
    const where = (needle: string) => broken.split('\n').findIndex((line) => line.includes(needle)) + 1;
    expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^${escape(file('broken.yaml'))}:${where('port: 70000')}:\\d+ hosts\\.docs-1\\.port: `)));
    expect(lines).toContainEqual(expect.stringMatching(new RegExp(`:${where('docs-9')}:\\d+ groups\\.docs\\[1\\]: unknown host "docs-9"`)));
    expect(lines).toContainEqual(expect.stringMatching(new RegExp(`:${where('C0999999999')}:\\d+ slack\\.channel: channel C0999999999 is not in policy\\.channels`)));
  });

  it('exits 2 for a missing file, naming it', async () => {
    const result = await cli(['config', 'check', '--config', file('nope.yaml')]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`${file('nope.yaml')}: cannot read the configuration: no such file`);
  });

  it('checks the runbooks too: a broken runbook is named with its file and field, exit 2', async () => {
    const books = file('runbooks');
    await mkdir(books);
    const original = await readFile(path.join(runbooksDir(), 'onlyoffice-502.yaml'), 'utf8');
    await writeFile(path.join(books, 'onlyoffice-502.yaml'), original);
    await writeFile(path.join(books, 'broken.yaml'), 'id: broken\ntitle: 42\n');
    const io = { out: '', err: '' };
    const code = await configCheck({ config: file('oo.yaml'), runbooksDir: books }, { stdout: (t) => (io.out += t), stderr: (t) => (io.err += t) });
    expect(code).toBe(2);
    expect(io.err).toMatch(new RegExp(`^${escape(path.join(books, 'broken.yaml'))}:\\d+:\\d+`, 'm'));
    expect(io.out).toBe('');
  });

  it('warns, without failing, about what oo serve would trip on', async () => {
    const risky = VALID.replace('  channel: C0123456789\n', '  channel: "#ops"\n').replace(/policy:[\s\S]*?redis:/, 'redis:').replace(/redis:\n {2}url: .*\n/, '');
    await writeFile(file('risky.yaml'), risky.replace('identityFile: key', 'identityFile: missing-key'));
    const result = await cli(['config', 'check', '--config', file('risky.yaml')]);
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/warning: .*risky\.yaml:\d+:\d+ hosts\.docs-1\.identityFile: .*missing-key is not readable here/);
    expect(result.stderr).toMatch(/warning: .*slack\.channel: #ops is a name: oo serve needs the channel id/);
    expect(result.stderr).toMatch(/warning: .*no policy: section: nobody can approve a remediation/);
    expect(result.stdout).toContain('policy: none');
  });

  it('accepts deploy/oo.example.yaml', async () => {
    const result = await cli(['config', 'check', '--config', EXAMPLE, '--json']);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout).hosts).toHaveLength(4);
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
