// Smoke test of `npm run bench:growth`: the built command at 1 and 2 hosts, one round each. It proves
// the fleet benchmark runs as its child at every size and that the table and the plot are written;
// nothing about speed.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { GrowthReport } from '../../../src/bench/growth.js';
import { VARIANT_IDS } from '../../../src/bench/report.js';
import { runBenchScript, type ScriptRun } from './run-script.js';

describe('npm run bench:growth at 1 and 2 hosts', () => {
  let dir: string;
  let run: ScriptRun;
  let report: GrowthReport;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'oo-bench-growth-'));
    run = await runBenchScript('growth', ['--sizes', '1,2', '--json-out', path.join(dir, 'growth.json')]);
    report = JSON.parse(await readFile(path.join(dir, 'growth.json'), 'utf8')) as GrowthReport;
  }, 600_000);

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('exits 0 with every variant measured at both sizes', () => {
    expect(run.stderr).not.toMatch(/bench:growth:/);
    expect(run.code).toBe(0);
    expect(report.points.map((point) => point.hosts)).toEqual([1, 2]);
    for (const point of report.points) {
      expect(point.valid, String(point.hosts)).toBe(true);
      for (const id of VARIANT_IDS) expect(point.wallMs[id], `${id} at ${point.hosts}`).toBeGreaterThan(0);
    }
    expect(['PASS', 'FAIL']).toContain(report.workerMemory.status);
    expect(report.workerMemory.hosts).toBe(2);
  });

  it("wrote each size's fleet result, the table and the plot", async () => {
    for (const hosts of [1, 2]) expect(JSON.parse(await readFile(path.join(dir, `growth-fleet-${hosts}.json`), 'utf8'))).toMatchObject({ hosts });
    expect(await readFile(path.join(dir, 'growth.md'), 'utf8')).toContain('| hosts | oo-responder, fresh |');
    const svg = await readFile(path.join(dir, 'growth.svg'), 'utf8');
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.match(/<polyline /g)).toHaveLength(VARIANT_IDS.length);
  });
});
