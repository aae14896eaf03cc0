// The audit trail: who asked, what was found, who approved or was refused, what ran and how it ended.
// A Redis stream bounded with XADD MAXLEN ~ (approximate trimming keeps XADD O(1)); every text field
// goes through redactSecrets before it is stored, so an export never carries a secret.
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import type { RedisClient } from '../queue/redis.js';
import { z } from 'zod';
import type { Keyspace } from '../queue/keys.js';
import { redactSecrets } from '../security/redact.js';

export const AUDIT_KINDS = [
  'request',
  'diagnosis',
  'approval',
  'refusal',
  'remediation',
  'verification',
  'alert',
  'resolve',
] as const;
export type AuditKind = (typeof AUDIT_KINDS)[number];

const TEXT_FIELDS = ['actor', 'host', 'incidentKey', 'action', 'command', 'outcome', 'detail'] as const;
type TextField = (typeof TEXT_FIELDS)[number];

/** Longest stored value per field; longer text is cut and marked. */
const FIELD_LIMITS: Record<TextField, number> = {
  actor: 128,
  host: 253,
  incidentKey: 128,
  action: 128,
  command: 2000,
  outcome: 200,
  detail: 4000,
};

export interface AuditEntry {
  /** ISO 8601 time of the event. */
  at: string;
  kind: AuditKind;
  /** Slack user id, alert source, or `oo` for the bot itself. */
  actor: string;
  host?: string;
  incidentKey?: string;
  /** The remediation id or pending action the entry is about. */
  action?: string;
  command?: string;
  outcome?: string;
  detail?: string;
}

export interface AuditRecord extends AuditEntry {
  /** The stream entry id (`<ms>-<seq>`). */
  id: string;
}

export type AuditInput = Omit<AuditEntry, 'at'> & { at?: string | Date };

const inputSchema = z.object({
  kind: z.enum(AUDIT_KINDS),
  actor: z.string().min(1, { message: 'actor must not be empty' }),
  at: z.union([z.string(), z.date()]).optional(),
  host: z.string().optional(),
  incidentKey: z.string().optional(),
  action: z.string().optional(),
  command: z.string().optional(),
  outcome: z.string().optional(),
  detail: z.string().optional(),
});

export interface AuditFilter {
  host?: string;
  incidentKey?: string;
  kind?: AuditKind;
  /** Only entries whose `at` is at or after this time. */
  since?: Date | number | string;
}

export interface AuditLogOptions {
  /** Approximate number of entries kept. Default 100 000. */
  maxLen?: number;
  /** Most entries list() looks at (newest first) to find `limit` matches. Default 20 000. */
  maxScan?: number;
  now?: () => number;
}

function clip(field: TextField, value: string): string {
  const clean = redactSecrets(value);
  const limit = FIELD_LIMITS[field];
  return clean.length > limit ? `${clean.slice(0, limit)}…[cut]` : clean;
}

function sinceMs(since: AuditFilter['since']): number | undefined {
  if (since === undefined) return undefined;
  const ms = since instanceof Date ? since.getTime() : typeof since === 'number' ? since : Date.parse(since);
  if (!Number.isFinite(ms)) throw new Error(`audit filter "since" is not a time: ${JSON.stringify(since)}`);
  return Math.max(0, Math.floor(ms));
}

function matches(record: AuditRecord, filter: AuditFilter, fromMs: number | undefined): boolean {
  if (filter.host !== undefined && record.host !== filter.host) return false;
  if (filter.incidentKey !== undefined && record.incidentKey !== filter.incidentKey) return false;
  if (filter.kind !== undefined && record.kind !== filter.kind) return false;
  if (fromMs !== undefined && Date.parse(record.at) < fromMs) return false;
  return true;
}

function toRecord(id: string, fields: string[]): AuditRecord | null {
  const values: Record<string, string> = {};
  for (let index = 0; index + 1 < fields.length; index += 2) values[fields[index]!] = fields[index + 1]!;
  if (!(AUDIT_KINDS as readonly string[]).includes(values.kind ?? '') || values.at === undefined) return null;
  const record: AuditRecord = { id, at: values.at, kind: values.kind as AuditKind, actor: values.actor ?? '' };
  for (const field of TEXT_FIELDS) {
    if (field !== 'actor' && values[field] !== undefined) record[field] = values[field];
  }
  return record;
}

type StreamEntries = [id: string, fields: string[]][];

export class AuditLog {
  private readonly maxLen: number;
  private readonly maxScan: number;
  private readonly now: () => number;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keyspace,
    options: AuditLogOptions = {},
  ) {
    this.maxLen = options.maxLen ?? 100_000;
    this.maxScan = options.maxScan ?? 20_000;
    this.now = options.now ?? Date.now;
    if (!Number.isInteger(this.maxLen) || this.maxLen < 1) throw new Error('audit maxLen must be a positive integer');
  }

  /** Appends one entry (secrets redacted, long text cut); returns its stream id. */
  async record(input: AuditInput): Promise<string> {
    const parsed = inputSchema.safeParse(input);
    if (!parsed.success) {
      throw new Error(`invalid audit entry: ${parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ')}`);
    }
    const entry = parsed.data;
    const at = entry.at === undefined ? new Date(this.now()) : new Date(entry.at);
    if (Number.isNaN(at.getTime())) throw new Error(`invalid audit entry: at: not a time: ${JSON.stringify(entry.at)}`);
    const fields: string[] = ['at', at.toISOString(), 'kind', entry.kind];
    for (const field of TEXT_FIELDS) {
      const value = entry[field];
      if (value !== undefined) fields.push(field, clip(field, value));
    }
    const id = await this.redis.xadd(this.keys.audit, 'MAXLEN', '~', this.maxLen, '*', ...fields);
    if (id === null) throw new Error('the audit entry was not stored');
    return id;
  }

  /** The newest `limit` entries that match, oldest first. */
  async list(filter: AuditFilter & { limit: number }): Promise<AuditRecord[]> {
    const limit = Math.floor(filter.limit);
    if (!Number.isFinite(limit) || limit < 1 || limit > 10_000) throw new Error('audit list limit must be from 1 to 10000');
    const fromMs = sinceMs(filter.since);
    const found: AuditRecord[] = [];
    let end = '+';
    let scanned = 0;
    while (found.length < limit && scanned < this.maxScan) {
      const count = Math.min(500, this.maxScan - scanned);
      const page = (await this.redis.xrevrange(this.keys.audit, end, '-', 'COUNT', count)) as StreamEntries;
      if (page.length === 0) break;
      scanned += page.length;
      for (const [id, fields] of page) {
        const record = toRecord(id, fields);
        if (record && matches(record, filter, fromMs)) found.push(record);
        if (found.length >= limit) break;
      }
      end = `(${page[page.length - 1]![0]}`;
      if (page.length < count) break;
    }
    return found.reverse();
  }

  /** Writes every matching entry as one JSON object per line, oldest first; returns how many. */
  async exportJsonl(stream: Writable, filter: AuditFilter = {}): Promise<number> {
    const fromMs = sinceMs(filter.since);
    let start = '-';
    let written = 0;
    // The stream holds about maxLen entries; a few pages more cover what arrives while exporting.
    const maxPages = Math.ceil(this.maxLen / 500) + 10;
    for (let pageNumber = 0; pageNumber < maxPages; pageNumber++) {
      const page = (await this.redis.xrange(this.keys.audit, start, '+', 'COUNT', 500)) as StreamEntries;
      for (const [id, fields] of page) {
        const record = toRecord(id, fields);
        if (!record || !matches(record, filter, fromMs)) continue;
        if (!stream.write(`${JSON.stringify(record)}\n`)) await once(stream, 'drain');
        written += 1;
      }
      if (page.length < 500) break;
      start = `(${page[page.length - 1]![0]}`;
    }
    return written;
  }
}
