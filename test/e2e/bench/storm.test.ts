// Smoke test of `npm run bench:storm`: the built command with 50 alerts for 2 real lab hosts over 2 s.
// It proves the harness runs and counts what it should, and writes its files; nothing about speed.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { StormReport } from '../../../src/bench/storm.js';
import { runBenchScript, type ScriptRun } from './run-script.js';

describe('npm run bench:storm with 50 alerts for 2 hosts', () => {
  let dir: string;
  let run: ScriptRun;
  let report: StormReport;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'oo-bench-storm-'));
    run = await runBenchScript('storm', ['--alerts', '50', '--hosts', '2', '--seconds', '2', '--json-out', path.join(dir, 'storm.json')]);
    report = JSON.parse(await readFile(path.join(dir, 'storm.json'), 'utf8')) as StormReport;
  }, 600_000);

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('exits 0: every alert accepted and counted, one thread per host, findings in each', () => {
    expect(run.stderr).not.toMatch(/bench:storm:/);
    expect(run.code).toBe(0);
    expect(report.valid).toBe(true);
    expect(report.sending.alertsAccepted).toBe(50);
    expect(report.incidents.alertsLost).toBe(0);
    expect(report.incidents.threads).toBe(2);
    expect(report.causesNamed).toBe(2);
    expect(report.allFindingsMs).not.toBeNull();
  });

  it('counted the stand-in records: every delivered post is a stored message', () => {
    expect(report.slack.postMessage.total).toBeGreaterThan(0);
    expect(report.slack.delivered).toBe(report.slack.stored);
  });

  it('wrote the table', async () => {
    const markdown = await readFile(path.join(dir, 'storm.md'), 'utf8');
    expect(markdown).toContain('| alerts lost (accepted, not counted on an incident) | 0 |');
  });
});
