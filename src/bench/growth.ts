/**
 * Growth (`npm run bench:growth`): the fleet benchmark (fleet.ts, unchanged) run as a child at several
 * fleet sizes, its JSON read back, and the wall time of every variant plotted against N in
 * bench/results/growth.svg, with the oo-responder worker's memory (the long-lived pooled process:
 * the one that holds every host's connection) at the largest N. See bench/README.md.
 */
import { readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import type { FleetReport } from './fleet.js';
import { isMain, log, RESULTS_DIR, runMain, writeResults, type BenchContext } from './main-runner.js';
import { runMeasured } from './processes.js';
import { UsageError, VARIANT_IDS, type VariantId } from './report.js';
import { intOption, jsonOutOption, machineInfo, markdownTable, parseStringOptions } from './stats.js';
import { renderLineChart } from './svg.js';
import { missingBenchTools } from './tools.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const FLEET_SCRIPT = path.join(HERE, 'fleet.js');
/** The worker's memory target at the largest fleet. */
const WORKER_MEMORY_TARGET_MIB = 200;

export const GROWTH_USAGE = `usage: node dist/bench/growth.js [--sizes N,N,…] [--rounds R] [--json-out FILE]
  --sizes LIST    fleet sizes to run (each 1..500; default 10,50,100)
  --rounds R      timed rounds per size, median reported (1..20, default 1)
  --replot        run nothing: read the growth-fleet-<N>.json already written and redo the table and plot
  --json-out FILE default bench/results/growth.json; the Markdown table (.md) and the plot (.svg)
                  go next to it; each size's fleet result goes next to it as growth-fleet-<N>.json/.md
Needs what bench:fleet needs (root, the lab's Debian packages, ansible with
its ansible.posix collection, pssh). Exit 0: every
size measured and valid; 1: some size failed or was void; 2: bad usage.`;

export interface GrowthArgs {
  sizes: number[];
  rounds: number;
  /** Read the sizes' fleet results already written (growth-fleet-<N>.json) instead of running them. */
  replot: boolean;
  jsonOut: string;
  help: boolean;
}

export function parseGrowthArgs(argv: readonly string[]): GrowthArgs {
  const replot = argv.includes('--replot');
  const { values, help } = parseStringOptions(
    argv.filter((arg) => arg !== '--replot'),
    ['sizes', 'rounds', 'json-out'],
  );
  const sizesText = values.sizes ?? '10,50,100';
  const sizes = sizesText.split(',').map((part) => intOption('sizes', part.trim(), 1, 500, 0));
  if (sizes.length === 0 || sizes.length > 10) throw new UsageError(`--sizes takes 1 to 10 sizes, got ${JSON.stringify(sizesText)}`);
  if (new Set(sizes).size !== sizes.length) throw new UsageError(`--sizes has a size twice: ${JSON.stringify(sizesText)}`);
  return {
    sizes: [...sizes].sort((a, b) => a - b),
    rounds: intOption('rounds', values.rounds, 1, 20, 1),
    replot,
    jsonOut: jsonOutOption(values['json-out'], path.join(RESULTS_DIR, 'growth.json')),
    help,
  };
}

export interface GrowthPoint {
  hosts: number;
  valid: boolean;
  exitCode: number | null;
  labStartupMs: number | null;
  wallMs: Partial<Record<VariantId, number | null>>;
  peakRssMiB: Partial<Record<VariantId, number | null>>;
  /** Whether each variant finished on every host in every run at this size. */
  variantValid: Partial<Record<VariantId, boolean>>;
  fleetJson: string;
  error?: string;
}

export interface GrowthReport {
  benchmark: 'fleet growth';
  startedAt: string;
  finishedAt: string;
  machine: Record<string, string | number>;
  rounds: number;
  points: GrowthPoint[];
  labels: Record<VariantId, string>;
  workerMemory: { hosts: number; peakRssMiB: number | null; targetMiB: number; status: 'PASS' | 'FAIL' | 'VOID'; what: string };
  valid: boolean;
}

const LABELS: Record<VariantId, string> = {
  oo_fresh: 'oo-responder, fresh',
  oo_pooled: 'oo-responder, pooled',
  ansible_tasks: 'ansible raw, task per command',
  ansible: 'ansible raw, joined script',
  pssh: 'parallel-ssh',
  floor: 'floor (no SSH)',
};

export function pointFromFleet(report: FleetReport, exitCode: number | null, fleetJson: string): GrowthPoint {
  const wallMs: GrowthPoint['wallMs'] = {};
  const peakRssMiB: GrowthPoint['peakRssMiB'] = {};
  const variantValid: GrowthPoint['variantValid'] = {};
  for (const variant of report.variants) {
    variantValid[variant.id] = variant.valid;
    wallMs[variant.id] = variant.medianWallMs === null ? null : Math.round(variant.medianWallMs);
    peakRssMiB[variant.id] = variant.memory === null ? null : Math.round((variant.memory.peakRssKiB / 1024) * 10) / 10;
  }
  return { hosts: report.hosts, valid: report.valid, exitCode, labStartupMs: report.labStartupMs, wallMs, peakRssMiB, variantValid, fleetJson };
}

export function summarizeGrowth(points: GrowthPoint[], rounds: number, machine: Record<string, string | number>, startedAt: Date): GrowthReport {
  const largest = [...points].sort((a, b) => b.hosts - a.hosts)[0];
  const workerRss = largest?.peakRssMiB.oo_pooled ?? null;
  return {
    benchmark: 'fleet growth',
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    machine,
    rounds,
    points,
    labels: LABELS,
    workerMemory: {
      hosts: largest?.hosts ?? 0,
      peakRssMiB: workerRss,
      targetMiB: WORKER_MEMORY_TARGET_MIB,
      status: workerRss === null || largest?.variantValid.oo_pooled !== true ? 'VOID' : workerRss < WORKER_MEMORY_TARGET_MIB ? 'PASS' : 'FAIL',
      what: "peak RSS of the long-lived oo-responder process holding one SSH connection per host and diagnosing all of them (fleet's oo_pooled variant)",
    },
    valid: points.length > 0 && points.every((point) => point.valid),
  };
}

export function renderGrowthSvg(report: GrowthReport): string {
  return renderLineChart({
    title: 'Diagnosing N lab hosts: wall time per variant',
    subtitle:
      `${report.machine.cpus} CPUs, median of ${report.rounds} round(s); the lab hosts share the machine's CPUs.\n` +
      `oo worker peak RSS at ${report.workerMemory.hosts} hosts: ${report.workerMemory.peakRssMiB ?? '—'} MiB`,
    xLabel: 'lab hosts (N)',
    yLabel: 'wall time (ms)',
    series: VARIANT_IDS.map((id) => ({
      label: (() => {
        const voidAt = report.points.filter((point) => point.variantValid[id] === false).map((point) => point.hosts);
        return voidAt.length > 0 ? `${LABELS[id]} (void at N=${voidAt.join(',')})` : LABELS[id];
      })(),
      points: report.points.flatMap((point) => {
        const y = point.wallMs[id];
        return y === null || y === undefined ? [] : [{ x: point.hosts, y }];
      }),
    })),
  });
}

export function renderGrowthMarkdown(report: GrowthReport): string {
  const rows = report.points.map((point) => [
    point.hosts,
    ...VARIANT_IDS.map((id) => point.wallMs[id] ?? null),
    point.peakRssMiB.oo_pooled ?? null,
    point.peakRssMiB.ansible_tasks ?? null,
    point.peakRssMiB.ansible ?? null,
    point.peakRssMiB.pssh ?? null,
    point.valid
      ? 'yes'
      : `NO${point.error ? ` (${point.error})` : ` (${VARIANT_IDS.filter((id) => point.variantValid[id] === false).map((id) => LABELS[id]).join(', ')} failed on some host; see its fleet JSON)`}`,
  ]);
  return [
    `# Fleet growth: ${report.points.map((point) => point.hosts).join(', ')} hosts`,
    '',
    `${report.startedAt} · ${report.machine.cpus} CPUs (${report.machine.cpuModel}), ${report.machine.memoryGiB} GiB, Node ${report.machine.node}, ` +
      `load average ${report.machine.loadAverage1mAtStart} at start, ${report.machine.loadAverage1mAtEnd} at end · median of ${report.rounds} timed round(s) per size · plot: growth.svg`,
    '',
    'Wall time in ms (median), peak RSS in MiB:',
    '',
    markdownTable(
      ['hosts', ...VARIANT_IDS.map((id) => LABELS[id]), 'oo worker RSS', 'ansible per command RSS', 'ansible joined RSS', 'parallel-ssh RSS', 'valid'],
      rows,
    ),
    '',
    `Worker memory at ${report.workerMemory.hosts} hosts: ${report.workerMemory.peakRssMiB ?? '—'} MiB (target < ${report.workerMemory.targetMiB} MiB: ${report.workerMemory.status}) — ${report.workerMemory.what}.`,
    '',
  ].join('\n');
}

export async function runGrowthBenchmark(args: GrowthArgs, context: BenchContext): Promise<GrowthReport> {
  const startedAt = new Date();
  const loadAtStart = os.loadavg()[0]!;
  const dir = path.dirname(path.resolve(args.jsonOut));
  const points: GrowthPoint[] = [];
  const fleets: FleetReport[] = [];
  if (!args.replot) {
    // Named here, before the first size: otherwise each size's fleet child would fail on it in turn.
    const missing = await missingBenchTools();
    if (missing.length > 0) throw new Error(`the fleet benchmark needs what is missing: ${missing.join('; ')}`);
  }
  for (const hosts of args.sizes) {
    if (context.signal.aborted) throw new Error('interrupted');
    const fleetJson = path.join(dir, `growth-fleet-${hosts}.json`);
    let run: { code: number | null; signal: NodeJS.Signals | null; stderr: string } = { code: null, signal: null, stderr: '' };
    if (!args.replot) {
      log(`growth: fleet benchmark with ${hosts} hosts …`);
      run = await runMeasured([process.execPath, FLEET_SCRIPT, '--hosts', String(hosts), '--rounds', String(args.rounds), '--json-out', fleetJson], {
        env: process.env,
        // 100 hosts: ~1 min to start, six variants, a warm-up, the rounds and three memory runs.
        timeoutMs: 3_600_000,
      });
    }
    const tail = run.stderr.trim().split('\n').slice(-3).join(' | ');
    try {
      const report = JSON.parse(await readFile(fleetJson, 'utf8')) as FleetReport;
      if (report.hosts !== hosts) throw new Error(`${fleetJson} is for ${report.hosts} hosts`);
      if (!args.replot && Date.parse(report.startedAt) < startedAt.getTime()) throw new Error(`${fleetJson} is from an earlier run`);
      fleets.push(report);
      const point = pointFromFleet(report, run.code, path.relative(dir, fleetJson));
      points.push(point);
      log(`  ${hosts} hosts: ${VARIANT_IDS.map((id) => `${id} ${point.wallMs[id] ?? '—'} ms`).join(', ')}${point.valid ? '' : ' (VOID)'}`);
    } catch (error) {
      points.push({
        hosts,
        valid: false,
        exitCode: run.code,
        labStartupMs: null,
        wallMs: {},
        peakRssMiB: {},
        variantValid: {},
        fleetJson: path.relative(dir, fleetJson),
        error: `no result (exit ${run.code ?? run.signal}): ${(error as Error).message}; ${tail}`,
      });
      log(`  ${hosts} hosts: failed: ${points.at(-1)!.error}`);
    }
  }
  const first = fleets[0];
  const last = fleets.at(-1);
  if (args.replot && first && last) {
    // The machine as the fleet runs saw it, not as it is now.
    const { ansible: _a, pssh: _p, openssh: _o, ...machine } = first.machine;
    return summarizeGrowth(points, args.rounds, { ...machine, loadAverage1mAtEnd: last.machine.loadAverage1mAtEnd! }, new Date(first.startedAt));
  }
  return summarizeGrowth(points, args.rounds, machineInfo(loadAtStart), startedAt);
}

if (isMain(import.meta.url)) {
  runMain('bench:growth', GROWTH_USAGE, async (argv, context) => {
    const args = parseGrowthArgs(argv);
    if (args.help) {
      process.stdout.write(`${GROWTH_USAGE}\n`);
      return 0;
    }
    const report = await runGrowthBenchmark(args, context);
    const wrote = await writeResults(args.jsonOut, report, renderGrowthMarkdown(report));
    const svgFile = path.resolve(args.jsonOut).replace(/\.json$/, '.svg');
    await writeFile(svgFile, renderGrowthSvg(report));
    process.stdout.write(`${renderGrowthMarkdown(report)}\n${wrote} and ${path.relative(process.cwd(), svgFile) || svgFile}\n`);
    return report.valid ? 0 : 1;
  });
}
