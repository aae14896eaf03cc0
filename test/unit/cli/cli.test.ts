import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli } from '../../support/cli.js';
import { CAUSE_IDS } from '../../../src/diagnosis/vocabulary.js';
import { fixture, fixtureLines } from '../diagnosis/fixtures.js';


// A real crash loop whose log blames RabbitMQ (sources in test/fixtures/real/SOURCES.md).
const evidence = {
  service_status: fixture('service_status/supervisorctl-backoff-debian12.txt'),
  docservice_log: fixture('docservice_log/documentserver-1045-amqp-econnrefused.log'),
  nginx_error_log: fixtureLines('nginx_error_log/documentserver-1598-refused-8000.log', 'Connection refused'),
  install: 'deb',
  unknown_key_is_ignored: 42,
};

const HOST_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl';

describe('oo classify', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'oo-cli-'));
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('names the root cause from a file, in the contract JSON', async () => {
    const file = path.join(dir, 'evidence.json');
    await writeFile(file, JSON.stringify(evidence));
    const result = await cli(['classify', file, '--json']);
    expect(result.code).toBe(0);
    const output = JSON.parse(result.stdout);
    expect(output.verdict).toBe('fault');
    expect(output.causes[0].id).toBe('dependency_rabbitmq');
    expect(output.causes[0].remediations.map((fix: { id: string }) => fix.id)).toContain('start_rabbitmq');
    for (const cause of output.causes) {
      expect(CAUSE_IDS).toContain(cause.id);
      expect(cause.confidence).toBeGreaterThan(0);
      expect(cause.confidence).toBeLessThanOrEqual(1);
      for (const line of cause.evidence) expect(evidence[line.step as keyof typeof evidence]).toContain(line.line);
    }
    expect(output.steps).toEqual([]);
    expect(output).not.toHaveProperty('host');
  });

  it('reads standard input with -, and prints the verdict first for people', async () => {
    const result = await cli(['classify', '-'], JSON.stringify(evidence));
    expect(result.code).toBe(0);
    expect(result.stdout.split('\n')[0]).toMatch(/FAULT\s+dependency_rabbitmq/);
  });

  it('reads free text pasted under other', async () => {
    const other = fixtureLines('nginx_error_log/webvirtmgr-639-permission-denied-8000.log', 'Permission denied');
    const result = await cli(['classify', '-', '--json'], JSON.stringify({ other }));
    expect(JSON.parse(result.stdout).causes[0].id).toBe('selinux_denial');
  });

  it.each([
    ['not JSON', '{"nginx_error_log": ', /standard input: not valid JSON/],
    ['an array', '[]', /expected a JSON object of step id → raw text, got array/],
    ['a number under a step key', '{"ports": 5}', /ports: must be a string .* got number/],
    ['an unknown install kind', '{"install": "snap"}', /install: must be one of deb, rpm, docker, unknown/],
  ])('refuses %s with exit 2 and says what was wrong', async (_name, input, message) => {
    const result = await cli(['classify', '-', '--json'], input);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(message);
  });

  it('says when the file does not exist', async () => {
    const result = await cli(['classify', path.join(dir, 'missing.json')]);
    expect(result).toMatchObject({ code: 2, stderr: expect.stringMatching(/missing\.json: no such file/) });
  });
});

describe('oo hosts, oo runbooks and usage errors', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'oo-cli-'));
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('lists the inventory with groups', async () => {
    const file = path.join(dir, 'oo.yaml');
    await writeFile(
      file,
      [
        'hosts:',
        '  docs-1: { address: 10.0.0.12, user: ops, hostKey: "' + HOST_KEY + '", install: deb, processManager: systemd, sudo: true }',
        '  docs-2: { address: 10.0.0.13, user: ops, hostKey: "' + HOST_KEY + '", jump: docs-1 }',
        'groups:',
        '  docs: [docs-1, docs-2]',
      ].join('\n'),
    );
    const result = await cli(['hosts', '--config', file]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/docs-1\tops@10\.0\.0\.12:22\tdeb\/systemd\tpinned key\tsudo/);
    expect(result.stdout).toMatch(/docs-2\tops@10\.0\.0\.13:22 via docs-1/);
    expect(result.stdout).toMatch(/docs: docs-1, docs-2/);
  });

  it('fails a bad config with exit 2, naming file, line and field', async () => {
    const file = path.join(dir, 'bad.yaml');
    await writeFile(file, `hosts:\n  docs-1:\n    address: 10.0.0.12\n    user: ops\n    port: twenty-two\n    hostKey: "${HOST_KEY}"\n`);
    const result = await cli(['hosts', '--config', file]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`${file}:5`);
    expect(result.stderr).toContain('hosts.docs-1.port');
  });

  it('takes the config from $OO_CONFIG when --config is absent', async () => {
    const file = path.join(dir, 'env.yaml');
    await writeFile(file, `hosts:\n  from-env: { address: 10.0.0.14, user: ops, hostKey: "${HOST_KEY}" }\n`);
    const previous = process.env.OO_CONFIG;
    process.env.OO_CONFIG = file;
    try {
      expect((await cli(['hosts'])).stdout).toMatch(/^from-env\t/);
    } finally {
      if (previous === undefined) delete process.env.OO_CONFIG;
      else process.env.OO_CONFIG = previous;
    }
  });

  it('lists the runbooks and their remediations', async () => {
    const result = await cli(['runbooks']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/onlyoffice-502/);
    expect(result.stdout).toMatch(/fix restart_docservice \(\w+\)/);
  });

  it('answers unknown commands and missing arguments with exit 2', async () => {
    expect((await cli(['frobnicate'])).code).toBe(2);
    expect((await cli(['diagnose'])).code).toBe(2);
    expect((await cli(['--help'])).code).toBe(0);
  });
});
