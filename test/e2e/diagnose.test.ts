import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { cli } from '../support/cli.js';
import type { Finding } from '../../src/diagnosis/types.js';
import { FAULT_CAUSE, LAB_FAULTS, Lab, type LabFault } from '../../src/lab/index.js';

const run = promisify(execFile);
const repoRoot = path.resolve(import.meta.dirname, '../..');


// Every fault of the lab except the unreachable host, each on its own host, plus a healthy one.
const FAULTS = LAB_FAULTS.filter((fault) => fault !== 'host_unreachable');
const hostName = (fault: LabFault) => `f-${fault.replaceAll('_', '-')}`.slice(0, 30);

describe('oo diagnose against real lab hosts over real SSH', () => {
  let lab: Lab;
  let dir: string;
  let configFile: string;
  const findings = new Map<string, Finding>();

  beforeAll(async () => {
    lab = await Lab.create();
    dir = await mkdtemp(path.join(tmpdir(), 'oo-e2e-'));
    await lab.addHost({ name: 'healthy' });
    await lab.addHost({ name: 'detects' }); // healthy, manager not configured: detected over SSH
    await lab.addHost({ name: 'no-sshd', fault: 'host_unreachable' });
    const faulty = [...FAULTS];
    // Start the faulty hosts a few at a time: each is a handful of real processes.
    while (faulty.length > 0) {
      await Promise.all(faulty.splice(0, 4).map((fault) => lab.addHost({ name: hostName(fault), fault })));
    }
    const hosts = structuredClone(lab.inventory()) as unknown as Record<string, Record<string, unknown>>;
    delete hosts.detects!.processManager;
    // A host whose pinned key is another host's: the key it presents is unknown.
    hosts['wrong-key'] = { ...hosts.healthy, hostKey: hosts.detects!.hostKey };
    // A host checked against a known_hosts file that holds a different key for its address: changed.
    const stale = path.join(dir, 'known_hosts_stale');
    const healthy = hosts.healthy as { address: string; hostKey: string };
    await writeFile(stale, `${healthy.address} ${hosts.detects!.hostKey}\n`);
    const { hostKey: _pinned, ...withoutPin } = hosts.healthy!;
    hosts['changed-key'] = { ...withoutPin, knownHostsFile: stale };
    const faultHosts = FAULTS.map(hostName);
    configFile = path.join(dir, 'oo.yaml');
    await writeFile(
      configFile,
      stringify({
        hosts,
        groups: { faults: faultHosts, keys: ['wrong-key', 'changed-key'] },
        ssh: { connectTimeoutMs: 5000, maxParallelHosts: 8 },
      }),
    );
    const result = await cli(['diagnose', 'faults', '--json', '--config', configFile]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(1);
    for (const finding of JSON.parse(result.stdout) as Finding[]) findings.set(finding.host, finding);
  }, 600_000);

  afterAll(async () => {
    await lab?.destroy();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it.each(FAULTS)('puts the right cause first for %s', (fault) => {
    const finding = findings.get(hostName(fault));
    expect(finding, `finding for ${fault}`).toBeDefined();
    expect(finding!.verdict).toBe('fault');
    expect(finding!.causes[0]?.id).toBe(FAULT_CAUSE[fault]);
    // The cause cites lines that really are in the steps' output.
    const outputs = finding!.steps.map((step) => step.output).join('\n');
    for (const evidence of finding!.causes[0]!.evidence) expect(outputs).toContain(evidence.line);
  });

  it('offers the fitting remediation for the faults that have one', () => {
    const fixes = (fault: LabFault) => findings.get(hostName(fault))!.causes[0]!.remediations.map((fix) => fix.id);
    expect(fixes('backend_down')).toContain('restart_docservice');
    expect(fixes('example_not_started')).toContain('start_example');
    expect(fixes('dependency_redis')).toContain('start_redis');
    expect(fixes('header_too_big')).toContain('raise_proxy_buffers');
  });

  it('follows the contract JSON shape for every step', () => {
    for (const finding of findings.values()) {
      for (const step of finding.steps) {
        expect(typeof step.id).toBe('string');
        expect(typeof step.command).toBe('string');
        expect(typeof step.durationMs).toBe('number');
        expect(typeof step.output).toBe('string');
      }
    }
  });

  it('finds a healthy host healthy, detecting the process manager when it is not configured', async () => {
    const result = await cli(['diagnose', 'healthy', '--json', '--config', configFile]);
    expect(result.code).toBe(0);
    const [finding] = JSON.parse(result.stdout) as Finding[];
    expect(finding).toMatchObject({ host: 'healthy', verdict: 'healthy', causes: [] });

    const detected = await cli(['diagnose', 'detects', '--json', '--config', configFile]);
    const [detectedFinding] = JSON.parse(detected.stdout) as Finding[];
    expect(detectedFinding!.verdict).toBe('healthy');
    const detectStep = detectedFinding!.steps.find((step) => step.id === 'detect');
    expect(detectStep?.output).toContain('manager=supervisor');
  });

  it('gives unreachable, quickly, for a host whose sshd is down', async () => {
    const started = Date.now();
    const result = await cli(['diagnose', 'no-sshd', '--json', '--config', configFile]);
    expect(result.code).toBe(3);
    const [finding] = JSON.parse(result.stdout) as Finding[];
    expect(finding).toMatchObject({ verdict: 'unreachable', causes: [{ id: 'host_unreachable' }] });
    // Refused at once, long before the 5 s connect timeout.
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('refuses unknown and changed host keys, showing the fingerprint', async () => {
    const result = await cli(['diagnose', 'keys', '--json', '--config', configFile]);
    expect(result.code).toBe(3);
    const [unknown, changed] = JSON.parse(result.stdout) as Finding[];
    expect(unknown!.verdict).toBe('unreachable');
    expect(unknown!.error).toMatch(/SHA256:[A-Za-z0-9+/]{43}/);
    expect(unknown!.steps).toEqual([]);
    expect(changed!.verdict).toBe('unreachable');
    expect(changed!.error).toMatch(/changed|mismatch/i);
    expect(changed!.error).toMatch(/SHA256:/);
  });

  it('prints the verdict first and the chain for people', async () => {
    const result = await cli(['diagnose', hostName('backend_down'), '--config', configFile]);
    expect(result.code).toBe(1);
    const [first, chain] = result.stdout.split('\n');
    expect(first).toMatch(/FAULT\s+backend_down/);
    expect(chain).toContain('✗ docservice');
  });

  it('keeps the contract exit codes when run as the installed `oo` binary', async () => {
    const oo = path.join(repoRoot, 'bin/oo.js');
    const ok = await run(process.execPath, [oo, 'diagnose', 'healthy', '--config', configFile]);
    expect(ok.stdout).toMatch(/HEALTHY/);
    const bad = await run(process.execPath, [oo, 'diagnose', 'nope', '--config', configFile]).catch((error) => error);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/unknown host or group "nope"/);
  });
});
