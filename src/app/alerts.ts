// Alerts from the webhooks to incident threads. The webhook answers 2xx only after the parsed alerts
// are in a Redis stream (AlertIntake); a consumer group (AlertProcessor) turns them into incidents and
// acknowledges an entry only once it was handled, so an alert accepted is never lost: entries of a
// process that died are claimed again by the next one. A storm is taken in batches: alerts of one
// incident in one batch open it once and update its thread once.
import { randomBytes } from 'node:crypto';
import { AlertCoalescer, hostFromLabels, incidentKey, type InventoryEntry, type NormalizedAlert } from '../alerts/index.js';
import type { AlertSource } from '../alerts/types.js';
import type { Config } from '../config/index.js';
import type { IncidentStore } from '../incidents/store.js';
import type { OoQueues } from '../queue/queues.js';
import { RedisUnavailableError, withTimeout, type RedisClient } from '../queue/redis.js';
import type { AuditLog } from '../remediation/audit.js';
import { formatCount, inlineCode, mrkdwnSafe } from '../slack/blocks.js';
import { renderNote } from '../slack/messages.js';
import type { Metrics } from '../server/metrics.js';
import type { IncidentThreads } from './incident-threads.js';
import type { AppLogger } from './logger.js';

export function alertStreamKey(prefix: string): string {
  return `${prefix}:alerts:stream`;
}
const GROUP = 'oo-alert-processors';

interface StreamBody {
  source: AlertSource;
  receivedAt: string;
  alerts: NormalizedAlert[];
  /** Id of the webhook request that carried these alerts; logged at intake and by the handler. */
  requestId?: string;
}

/** Persists accepted alerts; throws RedisUnavailableError when they could not be stored. */
export class AlertIntake {
  constructor(
    private readonly producer: RedisClient,
    private readonly prefix: string,
    private readonly timeoutMs = 3000,
    private readonly logger?: AppLogger,
  ) {}

  async accept(source: AlertSource, alerts: NormalizedAlert[]): Promise<string> {
    if (this.producer.status !== 'ready') throw new RedisUnavailableError(`Redis is not connected (${this.producer.status})`);
    const requestId = randomBytes(12).toString('hex');
    const body: StreamBody = { source, receivedAt: new Date().toISOString(), alerts, requestId };
    try {
      const id = await withTimeout(this.producer.xadd(alertStreamKey(this.prefix), '*', 'body', JSON.stringify(body)), this.timeoutMs, 'storing the alerts');
      if (id === null) throw new RedisUnavailableError('the alerts were not stored');
      this.logger?.with({ requestId, source, alerts: alerts.length, streamId: id }).info('alerts accepted');
      return id;
    } catch (error) {
      if (error instanceof RedisUnavailableError) throw error;
      throw new RedisUnavailableError(`could not store the alerts: ${(error as Error).message}`, { cause: error });
    }
  }
}

export interface AlertHandlerOptions {
  config: Config;
  channel: string;
  incidents: IncidentStore;
  threads: IncidentThreads;
  queues: OoQueues;
  audit: AuditLog;
  redis: RedisClient;
  logger: AppLogger;
  metrics: Metrics;
}

/** What one batch did (tests and logs). */
export interface BatchResult {
  alerts: number;
  opened: string[];
  resolved: string[];
}

function inventoryEntries(config: Config): InventoryEntry[] {
  return Object.entries(config.hosts).map(([name, host]) => ({ name, address: host.address }));
}

/** Turns batches of alerts into incidents and thread updates. */
export class AlertHandler {
  private readonly coalescer: AlertCoalescer;
  private readonly inventory: InventoryEntry[];

  constructor(private readonly options: AlertHandlerOptions) {
    this.inventory = inventoryEntries(options.config);
    this.coalescer = new AlertCoalescer({
      resolveHost: (alert) => this.hostOf(alert),
      windowMs: options.config.alerts.repeatWindowMs,
    });
  }

  hostOf(alert: NormalizedAlert): string | undefined {
    return hostFromLabels(alert.labels, this.options.config.alerts.hostLabels, this.inventory);
  }

  async handle(bodies: readonly StreamBody[]): Promise<BatchResult> {
    const groups = new Map<string, { host: string | undefined; source: AlertSource; alerts: NormalizedAlert[]; requestId?: string }>();
    let count = 0;
    for (const body of bodies) {
      for (const alert of body.alerts) {
        count += 1;
        const host = this.hostOf(alert);
        const key = incidentKey(alert, host);
        const group = groups.get(key) ?? { host, source: body.source, alerts: [], ...(body.requestId ? { requestId: body.requestId } : {}) };
        group.alerts.push(alert);
        groups.set(key, group);
      }
    }
    const result: BatchResult = { alerts: count, opened: [], resolved: [] };
    for (const [key, group] of groups) await this.handleIncident(key, group.host, group.source, group.alerts, result, group.requestId);
    return result;
  }

  private async handleIncident(
    key: string,
    host: string | undefined,
    source: AlertSource,
    alerts: NormalizedAlert[],
    result: BatchResult,
    alertRequestId?: string,
  ): Promise<void> {
    const { incidents, threads, redis, audit } = this.options;
    const existing = await incidents.get(key);
    // Alertmanager keeps re-sending a firing alert with its original startsAt: a firing alert that
    // started before the incident was resolved (e.g. by a verified fix) is that old occurrence, not a
    // new one, and must not reopen the incident.
    const resolvedAt = existing?.status === 'resolved' && existing.resolvedAt ? Date.parse(existing.resolvedAt) : undefined;
    const fresh = alerts.filter((alert) => alert.status === 'firing' && (resolvedAt === undefined || Date.parse(alert.startsAt) > resolvedAt));
    const firingKey = threads.firingKey(key);
    const transaction = redis.multi();
    for (const alert of alerts) {
      if (alert.status === 'firing' && fresh.includes(alert)) transaction.sadd(firingKey, alert.fingerprint);
      else if (alert.status === 'resolved') transaction.srem(firingKey, alert.fingerprint);
    }
    transaction.pexpire(firingKey, 30 * 24 * 3600 * 1000).scard(firingKey);
    const replies = await transaction.exec();
    const stillFiring = Number(replies?.at(-1)?.[1] ?? 0);
    const first = alerts[0]!;
    const title = first.labels.alertname ?? first.summary;

    if (fresh.length > 0) {
      const unknownHostNote = host
        ? undefined
        : `No inventory host matched the labels ${this.options.config.alerts.hostLabels
            .filter((label) => first.labels[label] !== undefined)
            .map((label) => `${label}=${first.labels[label]}`)
            .join(', ') || '(none of ' + this.options.config.alerts.hostLabels.join(', ') + ')'}; hosts: ${Object.keys(this.options.config.hosts).join(', ')}. Not diagnosed.`;
      const opened = await threads.open(
        key,
        {
          channel: this.options.channel,
          ...(host ? { host } : {}),
          title,
          countAlert: true,
          text: `${source} alert ${title}: ${first.summary}`,
        },
        { source, ...(unknownHostNote ? { unknownHostNote } : {}) },
      );
      // Every further alert counts on the incident too (the first was counted by open()).
      await Promise.all(fresh.slice(1).map(() => incidents.openOrGet(key, { channel: this.options.channel, countAlert: true })));
      await audit.record({
        kind: 'alert',
        actor: source,
        ...(host ? { host } : {}),
        incidentKey: key,
        outcome: `firing x${fresh.length}`,
        detail: `${title}: ${first.summary}`.slice(0, 500),
      });
      if (opened.created || opened.reopened) {
        this.options.metrics.inc('oo_incidents_opened_total');
        if (opened.created) result.opened.push(key);
        if (opened.reopened) await threads.reply(opened.incident, renderNote(`:rotating_light: Fired again after it was resolved (${mrkdwnSafe(title)}).`));
        if (host) {
          const requestId = randomBytes(12).toString('hex');
          await this.options.queues.enqueueDiagnosis({
            requestId,
            incidentKey: key,
            host,
            requestedBy: source,
            reason: `${title}: ${first.summary}`.replace(/[\p{Cc}]/gu, ' ').slice(0, 1000),
          });
          // The job's request id is logged with the webhook request's id and the incident key: the
          // worker and the Slack post log the same job id and key, so one incident's lines share them.
          this.options.logger
            .with({ incident: key, requestId, alertRequestId, host })
            .info(opened.created ? 'incident opened; diagnosis queued' : 'incident reopened; diagnosis queued');
        }
      } else {
        for (const update of this.coalescer.ingest(fresh, Date.now())) if (update.kind === 'repeated') await this.postRepeat(update.key, update.newAlerts, update.firing);
      }
      await threads.refreshParent(key);
    }

    const resolvedNow = alerts.filter((alert) => alert.status === 'resolved');
    if (resolvedNow.length > 0) {
      this.coalescer.ingest(resolvedNow, Date.now());
      await audit.record({ kind: 'alert', actor: source, ...(host ? { host } : {}), incidentKey: key, outcome: `resolved x${resolvedNow.length}` });
      if (stillFiring === 0) {
        const outcome = await threads.resolve(key, `all alerts resolved (${source})`);
        if (outcome.changed) result.resolved.push(key);
        else if (outcome.incident?.threadTs) {
          await threads.reply(outcome.incident, renderNote(`:white_check_mark: ${mrkdwnSafe(source)} reports ${mrkdwnSafe(title)} resolved.`));
          await threads.refreshParent(key);
        }
      } else {
        await threads.note(key, 'alert', `${resolvedNow.length} alert(s) resolved, ${stillFiring} still firing`);
      }
    }
  }

  private async postRepeat(key: string, newAlerts: number, firing: number): Promise<void> {
    const incident = await this.options.incidents.get(key);
    if (!incident?.threadTs || incident.status !== 'open') return;
    await this.options.threads.reply(
      incident,
      renderNote(`:repeat: ${formatCount(newAlerts)} more alert(s); ${formatCount(firing)} still firing on ${inlineCode(incident.host ?? 'unknown host')}.`),
    );
  }

  /** Repeats held back by the window, once it passed (called on a timer). */
  async flushRepeats(): Promise<void> {
    for (const update of this.coalescer.flush(Date.now())) {
      if (update.kind === 'repeated') await this.postRepeat(update.key, update.newAlerts, update.firing);
    }
  }
}

export interface AlertProcessorOptions {
  /** A connection of its own: XREADGROUP BLOCK holds it. */
  redis: RedisClient;
  prefix: string;
  handler: AlertHandler;
  logger: AppLogger;
  /** Entries taken per read. Default 500. */
  batchSize?: number;
  /** How long another consumer's unacknowledged entry must sit before it is taken over. Default 60 s. */
  claimIdleMs?: number;
  blockMs?: number;
}

type StreamReply = [string, [string, string[]][]][] | null;

/** Consumes the alert stream until stopped. */
export class AlertProcessor {
  private stopped = false;
  private loop: Promise<void> | undefined;
  private readonly consumer = `oo-${process.pid}-${randomBytes(4).toString('hex')}`;
  private flushTimer: NodeJS.Timeout | undefined;
  /** Batches handled; tests wait on it. */
  batches = 0;

  constructor(private readonly options: AlertProcessorOptions) {}

  private get key(): string {
    return alertStreamKey(this.options.prefix);
  }

  async start(): Promise<void> {
    try {
      await this.options.redis.xgroup('CREATE', this.key, GROUP, '0', 'MKSTREAM');
    } catch (error) {
      if (!String((error as Error).message).includes('BUSYGROUP')) throw error;
    }
    this.loop = this.run();
    this.flushTimer = setInterval(() => {
      void this.options.handler.flushRepeats().catch((error: unknown) => this.options.logger.warn('flushing alert repeats:', error));
    }, 5000);
    this.flushTimer.unref();
  }

  private parse(entries: [string, string[]][]): { ids: string[]; bodies: StreamBody[] } {
    const ids: string[] = [];
    const bodies: StreamBody[] = [];
    for (const [id, fields] of entries) {
      ids.push(id);
      const index = fields.indexOf('body');
      try {
        if (index >= 0) bodies.push(JSON.parse(fields[index + 1] ?? '') as StreamBody);
      } catch (error) {
        this.options.logger.error(`alert stream entry ${id} is not readable JSON; skipped:`, error);
      }
    }
    return { ids, bodies };
  }

  private async handleEntries(entries: [string, string[]][]): Promise<void> {
    if (entries.length === 0) return;
    const { ids, bodies } = this.parse(entries);
    await this.options.handler.handle(bodies);
    // Acknowledged (and deleted) only after the incidents were updated: a crash before this line leaves
    // the entries pending, and they are handled again (incident opening is idempotent).
    await this.options.redis.multi().xack(this.key, GROUP, ...ids).xdel(this.key, ...ids).exec();
    this.batches += 1;
  }

  private async run(): Promise<void> {
    const { redis, logger } = this.options;
    const count = this.options.batchSize ?? 500;
    let backoffMs = 0;
    while (!this.stopped) {
      try {
        // First what this or a dead consumer left unacknowledged, then new entries.
        const claimed = (await redis.xautoclaim(this.key, GROUP, this.consumer, this.options.claimIdleMs ?? 60_000, '0', 'COUNT', count)) as [
          string,
          [string, string[]][],
        ];
        await this.handleEntries((claimed[1] ?? []).filter((entry) => Array.isArray(entry[1])));
        const reply = (await redis.xreadgroup(
          'GROUP',
          GROUP,
          this.consumer,
          'COUNT',
          count,
          'BLOCK',
          this.options.blockMs ?? 1000,
          'STREAMS',
          this.key,
          '>',
        )) as StreamReply;
        for (const [, entries] of reply ?? []) await this.handleEntries(entries);
        backoffMs = 0;
      } catch (error) {
        if (this.stopped) break;
        backoffMs = Math.min(10_000, Math.max(250, backoffMs * 2));
        logger.error(`alert processing failed; retrying in ${backoffMs} ms:`, error);
        await new Promise((resolve) => setTimeout(resolve, backoffMs));
      }
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.flushTimer);
    await this.loop;
  }
}
