// Smoke test of `npm run bench:alert`: the built command with 3 incidents on 2 real lab hosts, both
// modes. It proves the harness runs end to end (webhook → service → SSH → stand-in) and writes its
// files; it asserts nothing about speed.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { AlertReport } from '../../../src/bench/alert.js';
import { runBenchScript, type ScriptRun } from './run-script.js';

describe('npm run bench:alert with 3 incidents on 2 hosts', () => {
  let dir: string;
  let run: ScriptRun;
  let report: AlertReport;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'oo-bench-alert-'));
    run = await runBenchScript('alert', ['--incidents', '3', '--hosts', '2', '--json-out', path.join(dir, 'alert.json')]);
    report = JSON.parse(await readFile(path.join(dir, 'alert.json'), 'utf8')) as AlertReport;
  }, 600_000);

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('exits 0 with findings naming the real cause for every incident in both modes', () => {
    expect(run.stderr).not.toMatch(/bench:alert:/);
    expect(run.code).toBe(0);
    expect(report.valid).toBe(true);
    expect(report.modes.map((mode) => mode.mode)).toEqual(['paced', 'unpaced']);
    for (const mode of report.modes) {
      expect(mode.incidents, mode.mode).toHaveLength(3);
      for (const incident of mode.incidents) {
        expect(incident.error, `${mode.mode} ${incident.alertname}`).toBeUndefined();
        expect(incident.causeNamed, `${mode.mode} ${incident.alertname}`).toBe(true);
        expect(incident.findingsText).toMatch(new RegExp(`^${incident.host}: fault`));
      }
      expect(mode.findingsMs.count).toBe(3);
      expect(['PASS', 'FAIL']).toContain(mode.target.status);
    }
  });

  it('saw the service open its SSH connections in the warm-up and keep them for the timed incidents', () => {
    for (const mode of report.modes) {
      expect(mode.warmup.reduce((sum, incident) => sum + incident.sshConnectionsOpened, 0), mode.mode).toBeGreaterThan(0);
      expect(mode.sshConnectionsOpenedTimed, mode.mode).toBe(0);
    }
  });

  it('printed and wrote the table', async () => {
    expect(run.stdout).toMatch(/paced\s+findings p50 \d+/);
    const markdown = await readFile(path.join(dir, 'alert.md'), 'utf8');
    expect(markdown).toContain('| mode | incidents | p50 | p95 |');
  });
});
