// A small Prometheus text-format registry (exposition format 0.0.4): counters this process counted,
// and gauges read at scrape time (queue depths, open incidents). Deliberately minimal; a later change
// may swap it for prom-client.
type Labels = Record<string, string>;

interface Series {
  labels: Labels;
  value: number;
}

interface Family {
  help: string;
  type: 'counter' | 'gauge';
  series: Map<string, Series>;
}

export type GaugeCollector = () => Promise<{ name: string; help: string; labels?: Labels; value: number }[]>;

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function labelText(labels: Labels): string {
  const entries = Object.entries(labels).sort(([a], [b]) => a.localeCompare(b));
  return entries.length === 0 ? '' : `{${entries.map(([key, value]) => `${key}="${escapeLabel(value)}"`).join(',')}}`;
}

export class Metrics {
  private readonly families = new Map<string, Family>();
  private readonly collectors: GaugeCollector[] = [];

  constructor(private readonly help: Record<string, string> = {}) {}

  private family(name: string, type: Family['type'], help?: string): Family {
    if (!NAME.test(name)) throw new Error(`invalid metric name ${JSON.stringify(name)}`);
    let family = this.families.get(name);
    if (!family) {
      family = { help: help ?? this.help[name] ?? name, type, series: new Map() };
      this.families.set(name, family);
    }
    return family;
  }

  inc(name: string, labels: Labels = {}, by = 1): void {
    const family = this.family(name, 'counter');
    const key = labelText(labels);
    const series = family.series.get(key) ?? { labels, value: 0 };
    series.value += by;
    family.series.set(key, series);
  }

  /** Reads gauges at scrape time; a collector that fails is reported as oo_metrics_collector_errors. */
  collect(collector: GaugeCollector): void {
    this.collectors.push(collector);
  }

  value(name: string, labels: Labels = {}): number {
    return this.families.get(name)?.series.get(labelText(labels))?.value ?? 0;
  }

  async render(): Promise<string> {
    const gauges = new Map<string, Family>();
    let collectorErrors = 0;
    for (const collector of this.collectors) {
      try {
        for (const sample of await collector()) {
          const family = gauges.get(sample.name) ?? { help: sample.help, type: 'gauge' as const, series: new Map() };
          family.series.set(labelText(sample.labels ?? {}), { labels: sample.labels ?? {}, value: sample.value });
          gauges.set(sample.name, family);
        }
      } catch {
        collectorErrors += 1;
      }
    }
    gauges.set('oo_metrics_collector_errors', {
      help: 'Gauge collectors that failed during this scrape (e.g. Redis unreachable)',
      type: 'gauge',
      series: new Map([['', { labels: {}, value: collectorErrors }]]),
    });
    const lines: string[] = [];
    for (const [name, family] of [...this.families, ...gauges]) {
      lines.push(`# HELP ${name} ${family.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`);
      lines.push(`# TYPE ${name} ${family.type}`);
      for (const series of family.series.values()) lines.push(`${name}${labelText(series.labels)} ${series.value}`);
    }
    return `${lines.join('\n')}\n`;
  }
}

export const METRIC_HELP: Record<string, string> = {
  oo_alerts_received_total: 'Alerts accepted by the webhooks (persisted before the answer), by source',
  oo_alert_requests_rejected_total: 'Alert webhook requests refused, by reason',
  oo_incidents_opened_total: 'Incidents opened (one Slack thread each)',
  oo_diagnoses_total: 'Diagnoses finished, by verdict',
  oo_remediations_total: 'Remediations finished, by status',
  oo_slack_calls_total: 'Slack Web API calls, by method and outcome',
  oo_slack_commands_total: 'Slash commands received, by subcommand',
  oo_approval_clicks_total: 'Remediation button clicks, by result',
};
