// One Slack thread per incident. The incident store decides atomically who opens an incident; that
// caller posts the parent message and records its ts, everyone else waits for it. The parent is only
// ever edited afterwards, from the stored incident, so repeats, other alerts of the group and the
// resolution all land in the same place.
import type { RedisClient } from '../queue/redis.js';
import type { IncidentStore, OpenIncidentInput } from '../incidents/store.js';
import { summarize } from '../incidents/summary.js';
import type { Incident, TimelineKind } from '../incidents/types.js';
import { renderIncidentSummary } from '../slack/blocks.js';
import { renderIncidentParent, type IncidentParentInfo } from '../slack/messages.js';
import type { MessageContent, SlackOutbox } from '../slack/outbox.js';
import type { AppLogger } from './logger.js';

const META_TTL_MS = 30 * 24 * 3600 * 1000;

export interface OpenedThread {
  incident: Incident;
  threadTs: string;
  created: boolean;
  reopened: boolean;
}

export interface IncidentThreadsOptions {
  redis: RedisClient;
  prefix: string;
  incidents: IncidentStore;
  outbox: SlackOutbox;
  logger: AppLogger;
  /** How long a non-creator waits for the creator's parent message. Default 30 s. */
  threadWaitMs?: number;
}

export class IncidentThreads {
  constructor(private readonly options: IncidentThreadsOptions) {}

  private metaKey(key: string): string {
    return `${this.options.prefix}:incidentmeta:${key}`;
  }

  /** The set of alert fingerprints still firing for the incident (alerts/processor.ts). */
  firingKey(key: string): string {
    return `${this.options.prefix}:incidentfiring:${key}`;
  }

  async meta(key: string): Promise<Record<string, string>> {
    return this.options.redis.hgetall(this.metaKey(key));
  }

  async setMeta(key: string, fields: Record<string, string>): Promise<void> {
    if (Object.keys(fields).length === 0) return;
    await this.options.redis.multi().hset(this.metaKey(key), fields).pexpire(this.metaKey(key), META_TTL_MS).exec();
  }

  private parentInfo(meta: Record<string, string>): IncidentParentInfo {
    return {
      ...(meta.source ? { source: meta.source } : {}),
      ...(meta.unknownHostNote ? { unknownHostNote: meta.unknownHostNote } : {}),
    };
  }

  /** Opens the incident (or joins it) and makes sure its parent message exists; returns the thread. */
  async open(key: string, input: OpenIncidentInput, info: IncidentParentInfo = {}): Promise<OpenedThread> {
    const { incidents, outbox } = this.options;
    const result = await incidents.openOrGet(key, input);
    if (result.created) {
      await this.setMeta(key, {
        ...(info.source ? { source: info.source } : {}),
        ...(info.unknownHostNote ? { unknownHostNote: info.unknownHostNote } : {}),
      });
      const ts = await outbox.post(result.incident.channel, renderIncidentParent(result.incident, info));
      const incident = await incidents.setThread(key, ts);
      return { incident, threadTs: incident.threadTs ?? ts, created: true, reopened: false };
    }
    let threadTs = result.incident.threadTs;
    if (threadTs === undefined) {
      threadTs = await incidents.waitForThread(key, { timeoutMs: this.options.threadWaitMs ?? 30_000 });
    }
    if (threadTs === undefined) {
      // The creator died between opening the incident and posting: post the parent now. setThread keeps
      // the first ts stored, so at worst a second parent exists, and every update still goes to one.
      this.options.logger.warn(`incident ${key} had no thread after waiting; posting its parent message`);
      const ts = await outbox.post(result.incident.channel, renderIncidentParent(result.incident, info));
      threadTs = (await incidents.setThread(key, ts)).threadTs ?? ts;
    }
    return { incident: result.incident, threadTs, created: false, reopened: result.reopened };
  }

  async reply(incident: Pick<Incident, 'channel' | 'threadTs' | 'key'>, content: MessageContent): Promise<string> {
    if (!incident.threadTs) throw new Error(`incident ${incident.key} has no thread yet`);
    return this.options.outbox.post(incident.channel, content, incident.threadTs);
  }

  /** Records a timeline entry; the parent's "Latest" line follows it. */
  async note(key: string, kind: TimelineKind, text: string): Promise<Incident> {
    const incident = await this.options.incidents.appendTimeline(key, { kind, text });
    void this.refreshParent(key, incident);
    return incident;
  }

  /** Edits the parent message to the incident's current state (the outbox keeps only the newest edit). */
  async refreshParent(key: string, known?: Incident): Promise<void> {
    try {
      const incident = known ?? (await this.options.incidents.get(key));
      if (!incident?.threadTs) return;
      const meta = await this.meta(key);
      await this.options.outbox.update(incident.channel, incident.threadTs, renderIncidentParent(incident, this.parentInfo(meta)));
    } catch (error) {
      this.options.logger.warn(`could not update the parent message of incident ${key}:`, error);
    }
  }

  /**
   * Resolves the incident; the first caller posts the summary (timeline, time to diagnosis and to
   * recovery) in the thread and marks the parent resolved. Later callers change nothing.
   */
  async resolve(key: string, text: string): Promise<{ changed: boolean; incident: Incident | null }> {
    const { incidents } = this.options;
    if (!(await incidents.get(key))) return { changed: false, incident: null };
    const { incident, changed } = await incidents.resolve(key, { text });
    if (!changed) return { changed, incident };
    await this.options.redis.del(this.firingKey(key));
    const meta = await this.meta(key);
    const summary = summarize(incident);
    let cause: { id: string; title: string } | undefined;
    try {
      cause = meta.cause ? (JSON.parse(meta.cause) as { id: string; title: string }) : undefined;
    } catch {
      cause = undefined;
    }
    const message = renderIncidentSummary({
      title: incident.title ?? 'incident',
      ...(incident.host ? { host: incident.host } : {}),
      incidentKey: incident.key,
      openedAt: summary.openedAt,
      ...(incident.firstDiagnosisAt ? { diagnosedAt: incident.firstDiagnosisAt } : {}),
      ...(summary.resolvedAt ? { recoveredAt: summary.resolvedAt } : {}),
      ...(cause ? { cause } : {}),
      ...(meta.fixedBy ? { fixedBy: meta.fixedBy } : {}),
      timeline: summary.timeline.map((entry) => ({ at: entry.at, text: `${entry.kind}: ${entry.text}` })),
    });
    if (incident.threadTs) {
      await this.options.outbox.post(incident.channel, message, incident.threadTs);
      if (message.attachments.length > 0) await this.options.outbox.upload(incident.channel, incident.threadTs, message.attachments);
    }
    await this.refreshParent(key, incident);
    return { changed, incident };
  }
}
