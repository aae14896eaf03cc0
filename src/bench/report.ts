/**
 * The benchmark's arguments, statistics, targets and tables. Pure: numbers and text in, text out.
 */
import { parseArgs } from 'node:util';

/**
 * The fleet benchmark's variants, in the order of its tables. 'ansible' is one raw task per host
 * running the joined script (the strongest Ansible setup); 'ansible_tasks' is a playbook of one raw
 * task per step (`ansible -m raw` read literally).
 */
export const VARIANT_IDS = ['oo_fresh', 'oo_pooled', 'ansible_tasks', 'ansible', 'pssh', 'floor'] as const;
export type VariantId = (typeof VARIANT_IDS)[number];

export interface FleetArgs {
  hosts: number;
  rounds: number;
  /** Where the JSON goes; the Markdown table goes next to it with `.md`. Undefined: bench/results/fleet-<N>.json. */
  jsonOut?: string;
  /** Overrides oo.yaml's ssh.maxSessionsPerConnection for the oo-responder variants (profiling). */
  maxSessions?: number;
  help: boolean;
}

export const FLEET_USAGE = `usage: node dist/bench/fleet.js [--hosts N] [--rounds R] [--json-out FILE] [--max-sessions K]
  --hosts N         light lab hosts to start (1..500, default 50)
  --rounds R        timed rounds per variant; the median is reported (1..50, default 3)
  --json-out FILE   where to write the JSON result (default bench/results/fleet-<N>.json); the
                    Markdown table is written next to it with the extension .md
  --max-sessions K  oo-responder's ssh.maxSessionsPerConnection (1..9; default: oo.yaml's default)
Needs root and the lab's Debian packages, ansible-core and pssh. Exit 0: measured; 1: the run is void
(a variant failed on some host); 2: bad usage.`;

/** Thrown for arguments the benchmark cannot use; the message names the option. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

function integerOption(name: string, value: string | undefined, min: number, max: number, fallback?: number): number | undefined {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value)) throw new UsageError(`--${name} must be a whole number from ${min} to ${max}, got ${JSON.stringify(value)}`);
  const parsed = Number(value);
  if (parsed < min || parsed > max) throw new UsageError(`--${name} must be from ${min} to ${max}, got ${parsed}`);
  return parsed;
}

export function parseFleetArgs(argv: readonly string[]): FleetArgs {
  let values: { hosts?: string; rounds?: string; 'json-out'?: string; 'max-sessions'?: string; help?: boolean };
  try {
    ({ values } = parseArgs({ args: [...argv], options: OPTIONS, strict: true, allowPositionals: false }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const jsonOut = values['json-out'];
  if (jsonOut !== undefined && (jsonOut.trim() === '' || !jsonOut.endsWith('.json'))) {
    throw new UsageError(`--json-out must name a .json file, got ${JSON.stringify(jsonOut)}`);
  }
  const maxSessions = integerOption('max-sessions', values['max-sessions'], 1, 9);
  return {
    hosts: integerOption('hosts', values.hosts, 1, 500, 50)!,
    rounds: integerOption('rounds', values.rounds, 1, 50, 3)!,
    ...(jsonOut !== undefined ? { jsonOut } : {}),
    ...(maxSessions !== undefined ? { maxSessions } : {}),
    help: values.help === true,
  };
}

const OPTIONS = {
  hosts: { type: 'string' },
  rounds: { type: 'string' },
  'json-out': { type: 'string' },
  'max-sessions': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

export interface RoundRecord {
  /** 0 is the untimed warm-up; timed rounds count from 1. */
  round: number;
  wallMs: number;
  /** "host: why" for every host the variant did not finish; empty when it did all of them. */
  failures: string[];
  /** Variant-specific timings (oo-responder's time inside diagnoseHosts, connection setup …). */
  detail?: Record<string, number>;
}

export interface MemoryRecord {
  peakRssKiB: number;
  /** Sum of proportional set sizes at its peak, for tools made of many processes sharing pages. */
  peakPssKiB?: number;
  method: string;
  processesAtPeak?: number;
  processesSeen?: number;
}

export interface VariantReport {
  id: VariantId;
  label: string;
  /** What exactly ran, including the choices made to keep the comparison fair. */
  how: string;
  warmup: RoundRecord | null;
  rounds: RoundRecord[];
  medianWallMs: number | null;
  /** Median of the machine's busy CPU time over each timed round (client and hosts together). */
  medianMachineCpuMs: number | null;
  memory: MemoryRecord | null;
  /** Every round (warm-up included) finished on every host. */
  valid: boolean;
}

export interface TargetReport {
  id: string;
  description: string;
  ratio: number | null;
  limit: number;
  inclusive: boolean;
  status: 'PASS' | 'FAIL' | 'VOID';
}

export function summarizeVariant(
  base: Pick<VariantReport, 'id' | 'label' | 'how'>,
  warmup: RoundRecord | null,
  rounds: RoundRecord[],
  memory: MemoryRecord | null,
): VariantReport {
  const valid = rounds.length > 0 && [warmup, ...rounds].every((round) => round === null || round.failures.length === 0);
  const cpu = rounds.map((round) => round.detail?.machineCpuMs).filter((value): value is number => value !== undefined);
  return {
    ...base,
    warmup,
    rounds,
    medianWallMs: median(rounds.map((round) => round.wallMs)),
    medianMachineCpuMs: median(cpu),
    memory,
    valid,
  };
}

function ratioOf(a: VariantReport | undefined, b: VariantReport | undefined): number | null {
  if (!a?.medianWallMs || !b?.medianWallMs) return null;
  return a.medianWallMs / b.medianWallMs;
}

/**
 * The targets: oo fresh < 0.5 × Ansible, against each of the two Ansible variants (one raw task per
 * command, as the issue names it; one joined script, the strongest setup), and oo pooled ≤ 1.5 × floor.
 * VOID when a side is not valid.
 */
export function evaluateTargets(variants: readonly VariantReport[]): TargetReport[] {
  const get = (id: VariantId) => variants.find((variant) => variant.id === id);
  const target = (id: string, description: string, a: VariantId, b: VariantId, limit: number, inclusive: boolean): TargetReport => {
    const left = get(a);
    const right = get(b);
    const ratio = ratioOf(left, right);
    const valid = left?.valid === true && right?.valid === true && ratio !== null;
    const pass = ratio !== null && (inclusive ? ratio <= limit : ratio < limit);
    return { id, description, ratio, limit, inclusive, status: !valid ? 'VOID' : pass ? 'PASS' : 'FAIL' };
  };
  return [
    target(
      'oo_fresh_vs_ansible_tasks',
      'oo fresh < 0.5 × Ansible (one raw task per command — `ansible -m raw` as the issue names it)',
      'oo_fresh',
      'ansible_tasks',
      0.5,
      false,
    ),
    target('oo_fresh_vs_ansible', 'oo fresh < 0.5 × Ansible (one joined script — the strongest Ansible setup)', 'oo_fresh', 'ansible', 0.5, false),
    target('oo_pooled_vs_floor', 'oo pooled ≤ 1.5 × floor', 'oo_pooled', 'floor', 1.5, true),
  ];
}

export interface TableRow {
  variant: string;
  wallMs: string;
  rssMiB: string;
  /** Ratio to the Ansible variant with one raw task per command. */
  vsAnsibleTasks: string;
  /** Ratio to the Ansible variant with one joined script. */
  vsAnsible: string;
  vsFloor: string;
  done: string;
  cpuMs: string;
}

function formatRatio(value: number | null): string {
  return value === null ? '—' : `${value.toFixed(2)}×`;
}

export function tableRows(variants: readonly VariantReport[], hostCount: number): TableRow[] {
  const ansibleTasks = variants.find((variant) => variant.id === 'ansible_tasks');
  const ansible = variants.find((variant) => variant.id === 'ansible');
  const floor = variants.find((variant) => variant.id === 'floor');
  return variants.map((variant) => {
    const failedRounds = [variant.warmup, ...variant.rounds].filter((round) => round !== null && round.failures.length > 0).length;
    return {
      variant: variant.label,
      wallMs: variant.medianWallMs === null ? '—' : String(Math.round(variant.medianWallMs)),
      rssMiB: variant.memory === null ? 'n/a' : (variant.memory.peakRssKiB / 1024).toFixed(1),
      vsAnsibleTasks: formatRatio(ratioOf(variant, ansibleTasks)),
      vsAnsible: formatRatio(ratioOf(variant, ansible)),
      vsFloor: formatRatio(ratioOf(variant, floor)),
      done: variant.valid ? `${hostCount}/${hostCount}` : `FAILED in ${failedRounds} run(s)`,
      cpuMs: variant.medianMachineCpuMs === null ? '—' : String(Math.round(variant.medianMachineCpuMs)),
    };
  });
}

const HEADERS: TableRow = {
  variant: 'variant',
  wallMs: 'wall ms (median)',
  rssMiB: 'peak RSS MiB',
  vsAnsibleTasks: 'vs Ansible per command',
  vsAnsible: 'vs Ansible joined',
  vsFloor: 'vs floor',
  done: 'hosts done',
  cpuMs: 'machine CPU ms',
};
const COLUMNS = Object.keys(HEADERS) as (keyof TableRow)[];

export function renderTextTable(rows: readonly TableRow[]): string {
  const all = [HEADERS, ...rows];
  const widths = COLUMNS.map((column) => Math.max(...all.map((row) => row[column].length)));
  const line = (row: TableRow) =>
    COLUMNS.map((column, index) => (index === 0 ? row[column].padEnd(widths[index]!) : row[column].padStart(widths[index]!))).join('  ');
  return [line(HEADERS), widths.map((width) => '-'.repeat(width)).join('  '), ...rows.map(line)].join('\n');
}

export function renderMarkdownTable(rows: readonly TableRow[]): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [
    line(COLUMNS.map((column) => HEADERS[column])),
    line(COLUMNS.map((_column, index) => (index === 0 ? '---' : '---:'))),
    ...rows.map((row) => line(COLUMNS.map((column) => row[column]))),
  ].join('\n');
}

export function renderTargets(targets: readonly TargetReport[]): string {
  return targets
    .map((target) => `${target.status.padEnd(4)}  ${target.description}: ${target.ratio === null ? 'no ratio' : `${target.ratio.toFixed(2)}×`}`)
    .join('\n');
}

export interface OverheadReport {
  /** Median wall time of each variant minus the floor's: what the transport and the client add. */
  overMs: Partial<Record<VariantId, number>>;
  /** oo fresh's overhead over the floor divided by Ansible's (one joined script). */
  ooFreshOverAnsible: number | null;
  /** oo fresh's overhead over the floor divided by Ansible's (one raw task per command). */
  ooFreshOverAnsibleTasks: number | null;
}

/**
 * What each variant adds to the floor. Every lab host shares the benchmark machine's CPUs, so the
 * hosts' own work (the floor) sits inside every variant's wall time, as it would not on a real fleet
 * where each host brings its own CPUs; the difference is the closest the lab gets to the client's and
 * the transport's own cost.
 */
export function overheadOverFloor(variants: readonly VariantReport[]): OverheadReport {
  const floor = variants.find((variant) => variant.id === 'floor')?.medianWallMs ?? null;
  const overMs: Partial<Record<VariantId, number>> = {};
  if (floor !== null) {
    for (const variant of variants) {
      if (variant.id !== 'floor' && variant.medianWallMs !== null) overMs[variant.id] = Math.round(variant.medianWallMs - floor);
    }
  }
  const fresh = overMs.oo_fresh;
  const share = (tool: number | undefined) => (fresh !== undefined && tool !== undefined && tool > 0 ? fresh / tool : null);
  return { overMs, ooFreshOverAnsible: share(overMs.ansible), ooFreshOverAnsibleTasks: share(overMs.ansible_tasks) };
}
