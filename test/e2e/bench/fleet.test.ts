// Smoke test of the fleet benchmark: the built command, 2 real lab hosts, one timed round. It proves
// every variant runs and is checked on every host; it asserts nothing about speed.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { FleetReport } from '../../../src/bench/fleet.js';
import { VARIANT_IDS } from '../../../src/bench/report.js';

const repoRoot = path.resolve(import.meta.dirname, '../../..');
const fleetScript = path.join(repoRoot, 'dist', 'bench', 'fleet.js');

interface FleetRun {
  pid: number;
  code: number;
  stdout: string;
  stderr: string;
}

function runFleet(args: string[]): Promise<FleetRun> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [fleetScript, ...args],
      { cwd: repoRoot, timeout: 540_000, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        resolve({ pid: child.pid ?? -1, code, stdout, stderr });
      },
    );
  });
}

/** Lab slots (one per live host) whose lock names the given process. */
async function slotsOwnedBy(pid: number): Promise<string[]> {
  const dir = '/run/oo-lab';
  if (!existsSync(dir)) return [];
  const owned: string[] = [];
  for (const entry of await readdir(dir)) {
    if (!entry.endsWith('.lock')) continue;
    const text = await readFile(path.join(dir, entry), 'utf8').catch(() => '');
    if (text.includes(`"pid":${pid},`)) owned.push(entry);
  }
  return owned;
}

describe('npm run bench:fleet with 2 hosts', () => {
  let dir: string;
  let run: FleetRun;
  let report: FleetReport;

  beforeAll(async () => {
    if (!existsSync(fleetScript)) throw new Error(`${fleetScript} is missing: run \`npm run build\` first`);
    dir = await mkdtemp(path.join(tmpdir(), 'oo-bench-test-'));
    run = await runFleet(['--hosts', '2', '--rounds', '1', '--json-out', path.join(dir, 'fleet-2.json')]);
    report = JSON.parse(await readFile(path.join(dir, 'fleet-2.json'), 'utf8')) as FleetReport;
  }, 600_000);

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('exits 0 with every variant done on both hosts', () => {
    expect(run.stderr).not.toMatch(/bench:fleet:/);
    expect(run.code).toBe(0);
    expect(report.valid).toBe(true);
    expect(report.hosts).toBe(2);
    expect(report.variants.map((variant) => variant.id)).toEqual([...VARIANT_IDS]);
    for (const variant of report.variants) {
      expect(variant.valid, variant.id).toBe(true);
      expect(variant.warmup?.failures, variant.id).toEqual([]);
      expect(variant.rounds, variant.id).toHaveLength(1);
      expect(variant.rounds[0]!.failures, variant.id).toEqual([]);
      expect(variant.medianWallMs, variant.id).toBeGreaterThan(0);
    }
  });

  it('ran the runbook plan for a supervisor host with sudo', () => {
    expect(report.commands.stepIds).toContain('service_status');
    expect(report.commands.stepIds).toContain('http_probe');
    expect(report.commands.sudoSteps).toBeGreaterThan(0);
  });

  it('ran Ansible both ways: a playbook of one raw task per command, and one raw task with the joined script', () => {
    const tasks = report.variants.find((variant) => variant.id === 'ansible_tasks')!;
    const joined = report.variants.find((variant) => variant.id === 'ansible')!;
    expect(tasks.label).toBe('ansible raw (one task per command)');
    expect(joined.label).toBe('ansible raw (one task, joined script)');
    expect(tasks.how).toContain(`ansible-playbook -i <inventory> -f 2 <playbook>`);
    expect(tasks.how).toContain(`of ${report.commands.stepIds.length} raw tasks`);
    expect(joined.how).toContain('ansible all -i <inventory> -m raw');
    expect(report.settings.ansibleTasksPlaybook).toContain(`${report.commands.stepIds.length} raw tasks`);
    // Both were held to the floor's verdicts on every host in every run, the memory run included.
    for (const variant of [tasks, joined]) {
      expect([variant.warmup!, ...variant.rounds].every((round) => round.failures.length === 0), variant.id).toBe(true);
    }
  });

  it('measured the memory of oo-responder, both Ansible variants and parallel-ssh', () => {
    for (const id of ['oo_fresh', 'oo_pooled', 'ansible_tasks', 'ansible', 'pssh'] as const) {
      const variant = report.variants.find((candidate) => candidate.id === id)!;
      expect(variant.memory?.peakRssKiB, id).toBeGreaterThan(10 * 1024);
    }
    for (const id of ['ansible_tasks', 'ansible'] as const) {
      expect(report.variants.find((variant) => variant.id === id)!.memory!.processesAtPeak, id).toBeGreaterThan(1);
    }
    expect(report.variants.find((variant) => variant.id === 'ansible_tasks')!.memory!.method).toContain('ansible-playbook');
  });

  it('showed the pool reusing its connections and the fresh pool opening one per host', () => {
    expect(report.profile.oo_pooled!.connectionsOpenedPerRound).toEqual([0]);
    expect(report.profile.oo_fresh!.connectionsOpenedPerRound).toEqual([2]);
  });

  it('printed the table and judged every target, against both Ansible variants, and wrote the Markdown table', async () => {
    expect(run.stdout).toMatch(/variant\s+wall ms \(median\)\s+peak RSS MiB\s+vs Ansible per command\s+vs Ansible joined\s+vs floor/);
    expect(report.targets.map((target) => target.id)).toEqual(['oo_fresh_vs_ansible_tasks', 'oo_fresh_vs_ansible', 'oo_pooled_vs_floor']);
    expect(report.targets.map((target) => target.status).every((status) => status === 'PASS' || status === 'FAIL')).toBe(true);
    const tasks = report.variants.find((variant) => variant.id === 'ansible_tasks')!;
    const fresh = report.variants.find((variant) => variant.id === 'oo_fresh')!;
    expect(report.targets[0]!.ratio).toBeCloseTo(fresh.medianWallMs! / tasks.medianWallMs!, 6);
    const lines = [
      'oo fresh < 0.5 × Ansible (one raw task per command — `ansible -m raw` as the issue names it)',
      'oo fresh < 0.5 × Ansible (one joined script — the strongest Ansible setup)',
      'oo pooled ≤ 1.5 × floor',
    ];
    for (const [index, line] of lines.entries()) {
      expect(run.stdout).toContain(`${report.targets[index]!.status.padEnd(4)}  ${line}: `);
    }
    expect(run.stdout).toMatch(/oo fresh adds -?\d+\.\d\d× what Ansible per command adds|ansible per command [+-]\d+ ms/);
    const markdown = await readFile(path.join(dir, 'fleet-2.md'), 'utf8');
    expect(markdown).toContain(
      '| variant | wall ms (median) | peak RSS MiB | vs Ansible per command | vs Ansible joined | vs floor | hosts done | machine CPU ms |',
    );
    expect(markdown).toContain('| ansible raw (one task per command) |');
    for (const line of lines) expect(markdown).toContain(`| ${line} |`);
  });

  it('left no lab host behind', async () => {
    expect(run.stderr).toContain('lab ready');
    expect(run.stderr).not.toMatch(/lab cleanup:/);
    // Every lab host holds a slot lock naming its process until it is torn down.
    expect(await slotsOwnedBy(run.pid)).toEqual([]);
  });
});
