/**
 * Every benchmark in turn (`npm run bench`), with modest defaults that finish in about ten minutes on
 * a 2-CPU machine: alert to findings (20 incidents per mode), the storm at the size (1,000
 * alerts, 20 hosts, 10 s), and fleet growth at 10 and 50 hosts. Each writes its own JSON and table in
 * the results folder; this writes bench.json/.md there with the headline numbers of each.
 */
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import type { AlertReport } from './alert.js';
import type { GrowthReport } from './growth.js';
import { isMain, log, RESULTS_DIR, runMain, writeResults } from './main-runner.js';
import { runMeasured } from './processes.js';
import type { StormReport } from './storm.js';
import { machineInfo, markdownTable, parseStringOptions } from './stats.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));

export const ALL_USAGE = `usage: node dist/bench/all.js [--results-dir DIR] [--alert-incidents N] [--storm-alerts N] [--storm-hosts H] [--growth-sizes LIST]
  --results-dir DIR      where every result goes (default bench/results)
  --alert-incidents N    bench:alert --incidents (default 20)
  --storm-alerts N       bench:storm --alerts (default 1000)
  --storm-hosts H        bench:storm --hosts (default 20)
  --growth-sizes LIST    bench:growth --sizes (default 10,50)
Runs bench:alert, bench:storm and bench:growth in turn. Exit 0 when all three exited 0, else 1; 2: bad usage.`;

interface Part {
  name: string;
  script: string;
  args: string[];
  json: string;
}

interface PartResult {
  name: string;
  exitCode: number | null;
  wallMs: number;
  json: string;
  headline: string;
}

async function headline(part: Part): Promise<string> {
  try {
    const text = await readFile(part.json, 'utf8');
    if (part.name === 'alert') {
      const report = JSON.parse(text) as AlertReport;
      return report.modes.map((mode) => `${mode.mode}: p50 ${mode.findingsMs.p50} ms, p95 ${mode.findingsMs.p95} ms (${mode.target.status})`).join('; ');
    }
    if (part.name === 'storm') {
      const report = JSON.parse(text) as StormReport;
      return (
        `${report.incidents.threads} threads, ${report.incidents.alertsLost} alerts lost, posts/s max ${report.slack.postMessage.maxPerSecond} mean ` +
        `${report.slack.postMessage.meanPerSecond}, all findings after ${report.allFindingsMs ?? '—'} ms`
      );
    }
    const report = JSON.parse(text) as GrowthReport;
    return (
      report.points.map((point) => `N=${point.hosts}: oo pooled ${point.wallMs.oo_pooled ?? '—'} ms, ansible per command ${point.wallMs.ansible_tasks ?? '—'} ms, ansible joined ${point.wallMs.ansible ?? '—'} ms`).join('; ') +
      `; worker RSS ${report.workerMemory.peakRssMiB ?? '—'} MiB at N=${report.workerMemory.hosts} (${report.workerMemory.status})`
    );
  } catch (error) {
    return `no result: ${(error as Error).message}`;
  }
}

if (isMain(import.meta.url)) {
  runMain('bench', ALL_USAGE, async (argv, context) => {
    const { values, help } = parseStringOptions(argv, ['results-dir', 'alert-incidents', 'storm-alerts', 'storm-hosts', 'growth-sizes']);
    if (help) {
      process.stdout.write(`${ALL_USAGE}\n`);
      return 0;
    }
    const startedAt = new Date();
    const loadAtStart = os.loadavg()[0]!;
    const dir = path.resolve(values['results-dir'] ?? RESULTS_DIR);
    const parts: Part[] = [
      { name: 'alert', script: 'alert.js', args: ['--incidents', values['alert-incidents'] ?? '20'], json: path.join(dir, 'alert.json') },
      {
        name: 'storm',
        script: 'storm.js',
        args: ['--alerts', values['storm-alerts'] ?? '1000', '--hosts', values['storm-hosts'] ?? '20', '--seconds', '10'],
        json: path.join(dir, 'storm.json'),
      },
      { name: 'growth', script: 'growth.js', args: ['--sizes', values['growth-sizes'] ?? '10,50'], json: path.join(dir, 'growth.json') },
    ];
    const results: PartResult[] = [];
    for (const part of parts) {
      if (context.signal.aborted) break;
      log(`bench: ${part.name} ${part.args.join(' ')}`);
      const run = await runMeasured([process.execPath, path.join(HERE, part.script), ...part.args, '--json-out', part.json], {
        env: process.env,
        timeoutMs: 3_600_000,
      });
      process.stderr.write(run.stderr);
      process.stdout.write(run.stdout);
      if (run.code === 2) throw new Error(`${part.name}: bad usage: ${run.stderr.trim().split('\n')[0] ?? ''}`);
      results.push({ name: part.name, exitCode: run.code, wallMs: Math.round(run.wallMs), json: path.relative(dir, part.json), headline: await headline(part) });
    }
    const report = { benchmark: 'all', startedAt: startedAt.toISOString(), finishedAt: new Date().toISOString(), machine: machineInfo(loadAtStart), parts: results };
    const markdown = [
      '# All benchmarks',
      '',
      `${report.startedAt} · ${report.machine.cpus} CPUs (${report.machine.cpuModel}), load average ${report.machine.loadAverage1mAtStart} at start, ${report.machine.loadAverage1mAtEnd} at end`,
      '',
      markdownTable(
        ['benchmark', 'exit', 'took s', 'result', 'headline'],
        results.map((result) => [result.name, result.exitCode, Math.round(result.wallMs / 1000), result.json, result.headline]),
      ),
      '',
    ].join('\n');
    const wrote = await writeResults(path.join(dir, 'bench.json'), report, markdown);
    process.stdout.write(`\n${markdown}\n${wrote}\n`);
    return results.length === parts.length && results.every((result) => result.exitCode === 0) ? 0 : 1;
  });
}
