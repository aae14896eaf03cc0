// The Prometheus registry behind GET /metrics (prom-client, exposition format 0.0.4). Every family the
// service reports is declared once below with its help text and label names, so a scrape shows the
// same families on every replica (a counter nobody touched yet is a family without series, not a
// missing one). Counters and histograms are counted by this process; gauges that describe shared
// state (queue depths, open incidents, approvals waiting) are read from Redis at scrape time by
// collectors, so every replica reports the same value for them.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

type Labels = Record<string, string>;

interface CounterDef {
  type: 'counter';
  help: string;
  labelNames: readonly string[];
}
interface HistogramDef {
  type: 'histogram';
  help: string;
  labelNames: readonly string[];
  buckets: readonly number[];
}
interface GaugeDef {
  type: 'gauge';
  help: string;
  labelNames: readonly string[];
}
type Definition = CounterDef | HistogramDef | GaugeDef;

// Seconds. Steps and SSH commands are sub-second to tens of seconds; a whole job or the time from an
// alert to its first finding runs from seconds to minutes.
const STEP_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const JOB_BUCKETS = [0.1, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600];

export const METRIC_DEFINITIONS = {
  oo_alerts_received_total: {
    type: 'counter',
    help: 'Alerts accepted by the webhooks (persisted in Redis before the 202), by source',
    labelNames: ['source'],
  },
  oo_alert_requests_total: {
    type: 'counter',
    help: 'Alert webhook requests, by source and outcome (accepted, or the reason they were refused: unauthorized, bad_json, bad_body, too_large, redis_unavailable)',
    labelNames: ['source', 'outcome'],
  },
  oo_alert_requests_rejected_total: { type: 'counter', help: 'Alert webhook requests refused, by reason', labelNames: ['reason'] },
  oo_incidents_opened_total: { type: 'counter', help: 'Incidents opened or reopened (one Slack thread each)', labelNames: [] },
  oo_diagnoses_total: { type: 'counter', help: 'Diagnoses finished, by verdict', labelNames: ['verdict'] },
  oo_classifications_total: {
    type: 'counter',
    help: 'Diagnoses classified, by the cause ranked first (cause="none" when none was found, e.g. healthy)',
    labelNames: ['cause'],
  },
  oo_remediations_total: { type: 'counter', help: 'Remediations finished, by outcome (verified, not_fixed, failed, precheck_failed, unknown)', labelNames: ['status'] },
  oo_ssh_connect_failures_total: { type: 'counter', help: 'SSH connections that failed, by reason', labelNames: ['reason'] },
  oo_slack_calls_total: { type: 'counter', help: 'Slack Web API calls, by method and outcome', labelNames: ['method', 'outcome'] },
  oo_slack_commands_total: { type: 'counter', help: 'Slash commands received, by subcommand', labelNames: ['subcommand'] },
  oo_approval_clicks_total: { type: 'counter', help: 'Remediation button clicks, by result', labelNames: ['result'] },
  oo_job_duration_seconds: {
    type: 'histogram',
    help: 'Time a job ran in this process, by queue and outcome',
    labelNames: ['queue', 'outcome'],
    buckets: JOB_BUCKETS,
  },
  oo_step_duration_seconds: {
    type: 'histogram',
    help: 'Time a runbook step took on the host, by step id',
    labelNames: ['step'],
    buckets: STEP_BUCKETS,
  },
  oo_alert_to_finding_seconds: {
    type: 'histogram',
    help: 'Time from the alert that opened an incident to the first finding posted for it',
    labelNames: [],
    buckets: JOB_BUCKETS,
  },
  oo_queue_jobs: { type: 'gauge', help: 'Jobs in each queue by state (read from Redis at scrape time)', labelNames: ['queue', 'state'] },
  oo_incidents_open: { type: 'gauge', help: 'Open incidents (read from Redis at scrape time)', labelNames: [] },
  oo_approvals_waiting: { type: 'gauge', help: 'Remediations offered and not yet run or expired (read from Redis at scrape time)', labelNames: [] },
  oo_approval_oldest_wait_seconds: {
    type: 'gauge',
    help: 'Age of the oldest remediation still waiting for approval (0 when none waits)',
    labelNames: [],
  },
  oo_slack_outbox_pending: { type: 'gauge', help: 'Slack calls waiting in this process', labelNames: [] },
  oo_metrics_collector_errors: {
    type: 'gauge',
    help: 'Gauge collectors that failed during the last scrape (e.g. Redis unreachable)',
    labelNames: [],
  },
} as const satisfies Record<string, Definition>;

export type MetricName = keyof typeof METRIC_DEFINITIONS;
type NameOf<T extends Definition['type']> = {
  [K in MetricName]: (typeof METRIC_DEFINITIONS)[K]['type'] extends T ? K : never;
}[MetricName];
export type CounterName = NameOf<'counter'>;
export type HistogramName = NameOf<'histogram'>;
export type GaugeName = NameOf<'gauge'>;

export interface GaugeSample {
  name: GaugeName;
  labels?: Labels;
  value: number;
}
export type GaugeCollector = () => Promise<GaugeSample[]>;

/** Stable key of a label set, for the synchronous counter tallies `value()` reads. */
function labelKey(labels: Labels): string {
  return JSON.stringify(Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)));
}

export class Metrics {
  readonly registry = new Registry();
  private readonly counters = new Map<string, Counter>();
  private readonly histograms = new Map<string, Histogram>();
  private readonly gauges = new Map<string, Gauge>();
  /** Counter values by name and label set, mirrored so tests and callers can read them synchronously. */
  private readonly tallies = new Map<string, Map<string, { labels: Labels; value: number }>>();
  private readonly collectors: GaugeCollector[] = [];

  constructor(options: { processMetrics?: boolean } = {}) {
    for (const [name, definition] of Object.entries(METRIC_DEFINITIONS) as [MetricName, Definition][]) {
      const common = { name, help: definition.help, labelNames: [...definition.labelNames], registers: [this.registry] };
      if (definition.type === 'counter') this.counters.set(name, new Counter(common));
      else if (definition.type === 'histogram') this.histograms.set(name, new Histogram({ ...common, buckets: [...definition.buckets] }));
      else this.gauges.set(name, new Gauge(common));
    }
    // CPU, memory, event-loop lag and open handles of this process; off in unit tests that compare text.
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: 'oo_' });
  }

  inc(name: CounterName, labels: Labels = {}, by = 1): void {
    this.counters.get(name)!.inc(labels, by);
    const series = this.tallies.get(name) ?? new Map<string, { labels: Labels; value: number }>();
    const key = labelKey(labels);
    const entry = series.get(key) ?? { labels, value: 0 };
    entry.value += by;
    series.set(key, entry);
    this.tallies.set(name, series);
  }

  /** Records one observation, in seconds. */
  observe(name: HistogramName, labels: Labels, seconds: number): void {
    if (!Number.isFinite(seconds) || seconds < 0) return;
    this.histograms.get(name)!.observe(labels, seconds);
  }

  /** Reads gauges at scrape time; a collector that fails is counted in oo_metrics_collector_errors. */
  collect(collector: GaugeCollector): void {
    this.collectors.push(collector);
  }

  /** A counter's value, summed over every series whose labels include `labels`. */
  value(name: CounterName, labels: Labels = {}): number {
    let sum = 0;
    for (const series of this.tallies.get(name)?.values() ?? []) {
      if (Object.entries(labels).every(([key, value]) => series.labels[key] === value)) sum += series.value;
    }
    return sum;
  }

  /** Number of observations in a histogram series (exact label match), for tests and the demo. */
  async count(name: HistogramName, labels: Labels = {}): Promise<number> {
    const data = await this.histograms.get(name)!.get();
    const wanted = labelKey(labels);
    return data.values
      .filter((sample) => sample.metricName === `${name}_count` && labelKey(sample.labels as Labels) === wanted)
      .reduce((sum, sample) => sum + sample.value, 0);
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  async render(): Promise<string> {
    let errors = 0;
    // Collect everything first, then replace: a failed collector leaves its gauges at their last
    // values rather than at zero (zero would read as "nothing waiting" during a Redis outage).
    const fresh = new Map<GaugeName, GaugeSample[]>();
    for (const collector of this.collectors) {
      try {
        for (const sample of await collector()) {
          const list = fresh.get(sample.name) ?? [];
          list.push(sample);
          fresh.set(sample.name, list);
        }
      } catch {
        errors += 1;
      }
    }
    for (const [name, samples] of fresh) {
      const gauge = this.gauges.get(name)!;
      gauge.reset();
      for (const sample of samples) gauge.set(sample.labels ?? {}, sample.value);
    }
    this.gauges.get('oo_metrics_collector_errors')!.set(errors);
    return this.registry.metrics();
  }
}
