/**
 * Numbers for the service benchmarks (alert, storm, growth): percentiles, per-second rates from the
 * Slack stand-in's records, the machine's description. Pure except machineInfo(), which reads os.
 */
import os from 'node:os';
import { parseArgs } from 'node:util';

import { UsageError } from './report.js';

/** The p-th percentile (0..100) by the nearest-rank method; null for no values. */
export function percentile(values: readonly number[], p: number): number | null {
  if (values.length === 0) return null;
  if (!(p >= 0 && p <= 100)) throw new Error(`percentile ${p} must be from 0 to 100`);
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1]!;
}

export interface Distribution {
  count: number;
  p50: number | null;
  p95: number | null;
  min: number | null;
  max: number | null;
  mean: number | null;
}

export function distribution(values: readonly number[]): Distribution {
  const round = (value: number | null) => (value === null ? null : Math.round(value * 10) / 10);
  return {
    count: values.length,
    p50: round(percentile(values, 50)),
    p95: round(percentile(values, 95)),
    min: round(values.length === 0 ? null : Math.min(...values)),
    max: round(values.length === 0 ? null : Math.max(...values)),
    mean: round(values.length === 0 ? null : values.reduce((sum, value) => sum + value, 0) / values.length),
  };
}

export interface RateSummary {
  /** Calls counted. */
  total: number;
  /** Whole seconds from the first call's second to the last one's, inclusive. */
  seconds: number;
  /** Most calls in one second (seconds counted from the first call). */
  maxPerSecond: number;
  /** total / seconds. */
  meanPerSecond: number;
}

/** Calls per second over the span they cover, in one-second buckets starting at the first call. */
export function perSecond(times: readonly number[]): RateSummary {
  if (times.length === 0) return { total: 0, seconds: 0, maxPerSecond: 0, meanPerSecond: 0 };
  const first = Math.min(...times);
  const buckets = new Map<number, number>();
  for (const at of times) {
    const bucket = Math.floor((at - first) / 1000);
    buckets.set(bucket, (buckets.get(bucket) ?? 0) + 1);
  }
  const seconds = Math.max(...buckets.keys()) + 1;
  return {
    total: times.length,
    seconds,
    maxPerSecond: Math.max(...buckets.values()),
    meanPerSecond: Math.round((times.length / seconds) * 100) / 100,
  };
}

export function machineInfo(loadAtStart: number): Record<string, string | number> {
  return {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    kernel: os.release(),
    node: process.version,
    loadAverage1mAtStart: Math.round(loadAtStart * 100) / 100,
    loadAverage1mAtEnd: Math.round(os.loadavg()[0]! * 100) / 100,
  };
}

/** A whole number option from min to max; the fallback when absent. */
export function intOption(name: string, value: string | undefined, min: number, max: number, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value)) throw new UsageError(`--${name} must be a whole number from ${min} to ${max}, got ${JSON.stringify(value)}`);
  const parsed = Number(value);
  if (parsed < min || parsed > max) throw new UsageError(`--${name} must be from ${min} to ${max}, got ${parsed}`);
  return parsed;
}

/** parseArgs with string options only (plus --help), errors as UsageError. */
export function parseStringOptions(argv: readonly string[], names: readonly string[]): { values: Record<string, string | undefined>; help: boolean } {
  const options: Record<string, { type: 'string' } | { type: 'boolean'; short: string }> = { help: { type: 'boolean', short: 'h' } };
  for (const name of names) options[name] = { type: 'string' };
  try {
    const { values } = parseArgs({ args: [...argv], options, strict: true, allowPositionals: false });
    const strings: Record<string, string | undefined> = {};
    for (const name of names) {
      const value = values[name];
      strings[name] = typeof value === 'string' ? value : undefined;
    }
    return { values: strings, help: values.help === true };
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/** --json-out must name a .json file; the Markdown table goes next to it. */
export function jsonOutOption(value: string | undefined, fallback: string): string {
  if (value === undefined) return fallback;
  if (value.trim() === '' || !value.endsWith('.json')) throw new UsageError(`--json-out must name a .json file, got ${JSON.stringify(value)}`);
  return value;
}

export function markdownTable(headers: readonly string[], rows: readonly (readonly (string | number | null)[])[], rightAligned = true): string {
  const cell = (value: string | number | null) => (value === null ? '—' : String(value));
  return [
    `| ${headers.join(' | ')} |`,
    `| ${headers.map((_header, index) => (index === 0 || !rightAligned ? '---' : '---:')).join(' | ')} |`,
    ...rows.map((row) => `| ${row.map(cell).join(' | ')} |`),
  ].join('\n');
}
