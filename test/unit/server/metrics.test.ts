// The prom-client registry behind /metrics: every declared family is exposed from the start, counters
// sum by label subset for value(), histograms count observations, gauges come from collectors at scrape
// time, and a failing collector keeps the last good values while oo_metrics_collector_errors says so.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { METRIC_DEFINITIONS, Metrics, type GaugeSample } from '../../../src/server/metrics.js';

/** The value of one sample line in the text exposition, or undefined when the line is absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('Metrics', () => {
  it('declares every family with HELP and TYPE before anything is counted', async () => {
    const text = await new Metrics({ processMetrics: false }).render();
    for (const [name, definition] of Object.entries(METRIC_DEFINITIONS)) {
      expect(text).toContain(`# TYPE ${name} ${definition.type}`);
      expect(text).toContain(`# HELP ${name} `);
    }
  });

  it('counts counters by label set and sums value() over the series that match', async () => {
    const metrics = new Metrics({ processMetrics: false });
    metrics.inc('oo_alert_requests_total', { source: 'alertmanager', outcome: 'accepted' });
    metrics.inc('oo_alert_requests_total', { source: 'alertmanager', outcome: 'unauthorized' }, 2);
    metrics.inc('oo_alert_requests_total', { source: 'grafana', outcome: 'accepted' });
    expect(metrics.value('oo_alert_requests_total', { source: 'alertmanager' })).toBe(3);
    expect(metrics.value('oo_alert_requests_total', { outcome: 'accepted' })).toBe(2);
    expect(metrics.value('oo_alert_requests_total')).toBe(4);
    expect(metrics.value('oo_remediations_total', { status: 'verified' })).toBe(0);
    const text = await metrics.render();
    expect(sample(text, 'oo_alert_requests_total{source="alertmanager",outcome="unauthorized"}')).toBe(2);
    expect(sample(text, 'oo_alert_requests_total{source="grafana",outcome="accepted"}')).toBe(1);
  });

  it('records histogram observations in seconds and ignores impossible ones', async () => {
    const metrics = new Metrics({ processMetrics: false });
    metrics.observe('oo_step_duration_seconds', { step: 'ports' }, 0.02);
    metrics.observe('oo_step_duration_seconds', { step: 'ports' }, 3);
    metrics.observe('oo_step_duration_seconds', { step: 'ports' }, -1);
    metrics.observe('oo_step_duration_seconds', { step: 'ports' }, Number.NaN);
    expect(await metrics.count('oo_step_duration_seconds', { step: 'ports' })).toBe(2);
    const text = await metrics.render();
    expect(sample(text, 'oo_step_duration_seconds_bucket{le="0.05",step="ports"}')).toBe(1);
    expect(sample(text, 'oo_step_duration_seconds_bucket{le="+Inf",step="ports"}')).toBe(2);
    expect(sample(text, 'oo_step_duration_seconds_sum{step="ports"}')).toBeCloseTo(3.02, 6);
  });

  it('reads gauges from collectors at scrape time, dropping series that went away', async () => {
    const metrics = new Metrics({ processMetrics: false });
    let samples: GaugeSample[] = [
      { name: 'oo_queue_jobs', labels: { queue: 'diagnosis', state: 'waiting' }, value: 4 },
      { name: 'oo_queue_jobs', labels: { queue: 'remediation', state: 'active' }, value: 1 },
    ];
    metrics.collect(async () => samples);
    let text = await metrics.render();
    expect(sample(text, 'oo_queue_jobs{queue="diagnosis",state="waiting"}')).toBe(4);
    expect(sample(text, 'oo_queue_jobs{queue="remediation",state="active"}')).toBe(1);
    samples = [{ name: 'oo_queue_jobs', labels: { queue: 'diagnosis', state: 'waiting' }, value: 0 }];
    text = await metrics.render();
    expect(sample(text, 'oo_queue_jobs{queue="diagnosis",state="waiting"}')).toBe(0);
    expect(sample(text, 'oo_queue_jobs{queue="remediation",state="active"}')).toBeUndefined();
    expect(sample(text, 'oo_metrics_collector_errors')).toBe(0);
  });

  it('keeps the last good gauge values when a collector fails, and counts the failure', async () => {
    const metrics = new Metrics({ processMetrics: false });
    let fail = false;
    metrics.collect(async () => {
      if (fail) throw new Error('Redis unreachable');
      return [{ name: 'oo_approvals_waiting', value: 3 }];
    });
    expect(sample(await metrics.render(), 'oo_approvals_waiting')).toBe(3);
    fail = true;
    const text = await metrics.render();
    expect(sample(text, 'oo_approvals_waiting')).toBe(3);
    expect(sample(text, 'oo_metrics_collector_errors')).toBe(1);
  });

  it('adds the process metrics when asked (the service does)', async () => {
    const text = await new Metrics().render();
    expect(text).toContain('# TYPE oo_process_resident_memory_bytes gauge');
    expect(new Metrics().contentType).toMatch(/^text\/plain; version=0\.0\.4/);
  });
});

describe('README, Health and metrics', () => {
  it('lists every metric family /metrics declares, with its labels and type, and no family that does not exist', () => {
    const readme = readFileSync(path.resolve(import.meta.dirname, '../../../README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Health and metrics'), readme.indexOf('\n## ', readme.indexOf('## Health and metrics') + 1));
    const rows = [...section.matchAll(/^\| `(oo_[a-z_]+)(?:\{([a-z_,]+)\})?` \| ([a-z]+)/gm)].map(([, name, labels = '', type]) => [name, labels, type]);
    expect(rows).toEqual(Object.entries(METRIC_DEFINITIONS).map(([name, definition]) => [name, definition.labelNames.join(','), definition.type]));
  });
});
