// The pure parts of the alert, storm and growth benchmarks: percentiles, per-second rates from the
// stand-in's records, argument checks, the findings message, the plot.
import { describe, expect, it } from 'vitest';

import { parseAlertArgs } from '../../../src/bench/alert.js';
import { parseGrowthArgs, renderGrowthSvg, summarizeGrowth } from '../../../src/bench/growth.js';
import { UsageError } from '../../../src/bench/report.js';
import { findingsReply } from '../../../src/bench/service-rig.js';
import { distribution, percentile, perSecond } from '../../../src/bench/stats.js';
import { parseStormArgs } from '../../../src/bench/storm.js';
import { niceStep, renderLineChart } from '../../../src/bench/svg.js';

describe('statistics', () => {
  it('takes nearest-rank percentiles', () => {
    const values = Array.from({ length: 20 }, (_, i) => i + 1);
    expect(percentile(values, 50)).toBe(10);
    expect(percentile(values, 95)).toBe(19);
    expect(percentile([7], 95)).toBe(7);
    expect(percentile([], 50)).toBeNull();
    expect(distribution([3, 1, 2])).toMatchObject({ count: 3, p50: 2, max: 3, min: 1, mean: 2 });
  });

  it('counts calls per second from the first call', () => {
    expect(perSecond([])).toEqual({ total: 0, seconds: 0, maxPerSecond: 0, meanPerSecond: 0 });
    expect(perSecond([1000, 1500, 1999, 2000, 4100])).toEqual({ total: 5, seconds: 4, maxPerSecond: 3, meanPerSecond: 1.25 });
  });
});

describe('arguments', () => {
  it('has the issue sizes as defaults and refuses bad values', () => {
    expect(parseAlertArgs([])).toMatchObject({ incidents: 50, hosts: 3, modes: ['paced', 'unpaced'] });
    expect(parseAlertArgs(['--mode', 'unpaced']).modes).toEqual(['unpaced']);
    expect(parseStormArgs([])).toMatchObject({ alerts: 1000, hosts: 20, seconds: 10 });
    expect(parseGrowthArgs([]).sizes).toEqual([10, 50, 100]);
    expect(parseGrowthArgs(['--sizes', '50,10']).sizes).toEqual([10, 50]);
    expect(() => parseAlertArgs(['--incidents', '0'])).toThrow(UsageError);
    expect(() => parseAlertArgs(['--mode', 'fast'])).toThrow(UsageError);
    expect(() => parseStormArgs(['--json-out', 'storm.txt'])).toThrow(UsageError);
    expect(() => parseGrowthArgs(['--sizes', '10,10'])).toThrow(UsageError);
    expect(() => parseGrowthArgs(['--bogus'])).toThrow(UsageError);
  });
});

describe('the findings message', () => {
  it('is the reply that starts with the host and a verdict, not the progress message', () => {
    const replies = [
      { text: 'Diagnosis docs-1: 3/13 steps' },
      { text: 'docs-10: fault — ONLYOFFICE docservice is not running (93%)' },
      { text: 'docs-1: fault — ONLYOFFICE docservice is not running (93%)' },
    ];
    expect(findingsReply(replies, 'docs-1')).toBe(replies[2]);
    expect(findingsReply(replies.slice(0, 2), 'docs-1')).toBeUndefined();
  });
});

describe('the plot', () => {
  it('picks round tick steps', () => {
    expect(niceStep(100)).toBe(20);
    expect(niceStep(23_000)).toBe(5000);
    expect(niceStep(0)).toBe(1);
  });

  it('draws a line per series and escapes text', () => {
    const svg = renderLineChart({
      title: 'a <b> & c',
      xLabel: 'N',
      yLabel: 'ms',
      series: [
        { label: 'one', points: [{ x: 10, y: 100 }, { x: 50, y: 400 }] },
        { label: 'two', points: [{ x: 10, y: 200 }] },
      ],
    });
    expect(svg).toContain('a &lt;b&gt; &amp; c');
    expect(svg.match(/<polyline /g)).toHaveLength(1);
    expect(svg.match(/<circle /g)).toHaveLength(3);
  });

  it('plots the growth report, skipping variants without a number', () => {
    const machine = { cpus: 2, cpuModel: 'x', memoryGiB: 1, kernel: 'k', node: 'v20', loadAverage1mAtStart: 1, loadAverage1mAtEnd: 1 };
    const point = (hosts: number) => ({
      hosts,
      valid: true,
      exitCode: 0,
      labStartupMs: 1,
      wallMs: { oo_fresh: hosts * 10, oo_pooled: hosts * 8, ansible: hosts * 20, pssh: hosts * 12, floor: null },
      peakRssMiB: { oo_pooled: 90 + hosts },
      variantValid: { oo_pooled: true },
      fleetJson: `growth-fleet-${hosts}.json`,
    });
    const report = summarizeGrowth([point(10), point(50)], 1, machine, new Date());
    expect(report.workerMemory).toMatchObject({ hosts: 50, peakRssMiB: 140, status: 'PASS' });
    expect(renderGrowthSvg(report).match(/<polyline /g)).toHaveLength(4);
  });
});
