// deploy/systemd/: the units are read as systemd reads them (key=value per section, repeated keys kept),
// checked for what the product needs, and, where systemd-analyze is installed (Debian 12 here and in CI),
// verified by systemd itself: `verify` (unknown keys, unparsable values, missing executables) and
// `security --offline` (the exposure score of the hardening options).
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const DIR = path.resolve(import.meta.dirname, '../../../deploy/systemd');
const UNITS = ['oo-serve.service', 'oo-worker@.service'] as const;

type Unit = Map<string, Map<string, string[]>>;

function parseUnit(text: string): Unit {
  const unit: Unit = new Map();
  let section: Map<string, string[]> | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      section = new Map();
      unit.set(header[1]!, section);
      continue;
    }
    const eq = line.indexOf('=');
    if (!section || eq < 0) throw new Error(`not a unit-file line: ${line}`);
    const key = line.slice(0, eq).trim();
    section.set(key, [...(section.get(key) ?? []), line.slice(eq + 1).trim()]);
  }
  return unit;
}

const read = (name: string) => parseUnit(readFileSync(path.join(DIR, name), 'utf8'));
const value = (unit: Unit, section: string, key: string) => unit.get(section)?.get(key)?.at(-1);

function run(args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile('systemd-analyze', args, { timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof (error as { code?: unknown }).code === 'number' ? ((error as { code: number }).code) : -1) : 0;
      resolve({ code, output: `${stdout}${stderr}` });
    });
  });
}


/** systemd-analyze verify prints problems with a file's lines but still exits 0: both count. */
async function verify(file: string): Promise<string[]> {
  const { code, output } = await run(['verify', file]);
  const problems = output.split('\n').filter((line) => line.includes(path.basename(file)) || /Unknown|Failed|not executable|Invalid|ignoring/i.test(line));
  return code === 0 ? problems.filter((line) => line.trim() !== '') : [`exit ${code}`, ...problems];
}

describe('deploy/systemd', () => {
  const scratch = mkdtempSync(path.join(tmpdir(), 'oo-systemd-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it.each(UNITS)('%s runs oo with the config checked first, secrets from an EnvironmentFile', (name) => {
    const unit = read(name);
    const mode = name.startsWith('oo-serve') ? 'serve' : 'worker';
    expect(value(unit, 'Service', 'ExecStart')).toBe(`/usr/bin/node /opt/oo-responder/bin/oo.js ${mode}`);
    expect(value(unit, 'Service', 'ExecStartPre')).toBe('/usr/bin/node /opt/oo-responder/bin/oo.js config check');
    expect(value(unit, 'Service', 'EnvironmentFile')).toBe('/etc/oo/oo.env');
    // No secret in the unit itself (units are world-readable).
    for (const env of unit.get('Service')!.get('Environment') ?? []) expect(env).not.toMatch(/TOKEN|SECRET|REDIS_URL/);
    expect(unit.get('Service')!.get('Environment')).toContain('OO_CONFIG=/etc/oo/oo.yaml');
    expect(value(unit, 'Service', 'User')).toBe('oo-responder');
    // A bad config (exit 2) is not restarted in a loop.
    expect(value(unit, 'Service', 'Restart')).toBe('on-failure');
    expect(value(unit, 'Service', 'RestartPreventExitStatus')).toBe('2');
    expect(Number(value(unit, 'Service', 'TimeoutStopSec'))).toBeGreaterThanOrEqual(60);
    expect(value(unit, 'Install', 'WantedBy')).toBe('multi-user.target');
  });

  it.each(UNITS)('%s carries the hardening options, and not MemoryDenyWriteExecute (V8 needs W+X)', (name) => {
    const unit = read(name);
    const expected: Record<string, string> = {
      NoNewPrivileges: 'yes',
      ProtectSystem: 'strict',
      ProtectHome: 'yes',
      PrivateTmp: 'yes',
      PrivateDevices: 'yes',
      ProtectKernelTunables: 'yes',
      ProtectKernelModules: 'yes',
      ProtectControlGroups: 'yes',
      RestrictSUIDSGID: 'yes',
      RestrictNamespaces: 'yes',
      LockPersonality: 'yes',
      CapabilityBoundingSet: '',
      UMask: '0077',
    };
    for (const [key, want] of Object.entries(expected)) expect(value(unit, 'Service', key), key).toBe(want);
    expect(unit.get('Service')!.has('MemoryDenyWriteExecute')).toBe(false);
  });

  it('worker instances get a port each from the instance name', () => {
    expect(read('oo-worker@.service').get('Service')!.get('Environment')).toContain('PORT=31%i');
    expect(read('oo-serve.service').get('Service')!.get('Environment')).toContain('PORT=3000');
  });

  it('systemd-analyze verify finds nothing wrong in either unit or an instance', async () => {
    copyFileSync(path.join(DIR, 'oo-worker@.service'), path.join(scratch, 'oo-worker@01.service'));
    for (const file of [...UNITS.map((name) => path.join(DIR, name)), path.join(scratch, 'oo-worker@01.service')]) {
      expect(await verify(file), file).toEqual([]);
    }
  });

  it('the verify check is live: a unit with a bad option is reported', async () => {
    const file = path.join(scratch, 'oo-broken.service');
    writeFileSync(file, readFileSync(path.join(DIR, 'oo-serve.service'), 'utf8').replace('ProtectSystem=strict', 'ProtectSystem=sometimes'));
    expect((await verify(file)).join('\n')).toMatch(/protect system/i);
  });

  it('systemd-analyze security rates both units OK (exposure at most 2.0 of 10)', async () => {
    copyFileSync(path.join(DIR, 'oo-worker@.service'), path.join(scratch, 'oo-worker@02.service'));
    for (const file of [path.join(DIR, 'oo-serve.service'), path.join(scratch, 'oo-worker@02.service')]) {
      // --threshold counts in tenths: the command fails when exposure exceeds 2.0.
      const result = await run(['security', '--offline=true', '--threshold=20', file]);
      expect(result.code, result.output.split('\n').filter((l) => l.includes('Overall')).join('')).toBe(0);
    }
    // And the threshold bites: an unhardened unit fails it.
    const bare = path.join(scratch, 'oo-bare.service');
    writeFileSync(bare, '[Service]\nExecStart=/usr/bin/node /opt/oo-responder/bin/oo.js serve\n');
    expect((await run(['security', '--offline=true', '--threshold=20', bare])).code).not.toBe(0);
  });
});

// deploy/install-deps.sh installs Debian's systemd for systemd-analyze; without it these checks fail
// rather than skip, so a missing install step cannot pass unnoticed.
it('has systemd-analyze to check the units with', async () => {
  expect((await run(['--version'])).code).toBe(0);
});
