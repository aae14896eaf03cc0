// Incidents in Redis, one JSON value per incident key, changed only inside Lua scripts, so that repeats
// of an alert and several replicas receiving it at once still make one incident: the caller that gets
// `created: true` posts the parent Slack message and records its ts with setThread; the others read it,
// or wait for it with waitForThread.
import type { Keyspace } from '../queue/keys.js';
import { runScript, sleep, type RedisClient } from '../queue/redis.js';
import { redactSecrets } from '../security/redact.js';
import { TIMELINE_KINDS, type Incident, type TimelineEntry, type TimelineKind } from './types.js';

const KEY = /^[A-Za-z0-9_.-]{1,128}$/;
const HOST = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,252}$/;
const CHANNEL = /^[CDG][A-Z0-9]{2,20}$/;
const TS = /^\d{1,12}\.\d{1,8}$/;
const MAX_TEXT = 2000;

const LUA_HELPERS = `
local function load(raw)
  local incident = cjson.decode(raw)
  if type(incident.timeline) ~= 'table' then incident.timeline = {} end
  return incident
end
local function push(incident, entry, max)
  table.insert(incident.timeline, entry)
  -- Keep the first entry (the opening) and the newest ones.
  while #incident.timeline > max do table.remove(incident.timeline, 2) end
end
local function save(key, incident, ttl)
  local encoded = cjson.encode(incident)
  redis.call('SET', key, encoded, 'PX', ttl)
  return encoded
end`;

// KEYS: incident, open index. ARGV: new incident JSON, at, countAlert, ttlMs, key, maxTimeline
const OPEN_OR_GET = `${LUA_HELPERS}
local raw = redis.call('GET', KEYS[1])
if not raw then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[4])
  redis.call('SADD', KEYS[2], ARGV[5])
  return {1, ARGV[1], 0}
end
local incident = load(raw)
local reopened = 0
local changed = false
if incident.status ~= 'open' then
  incident.status = 'open'
  incident.resolvedAt = nil
  push(incident, {at = ARGV[2], kind = 'reopen', text = 'fired again after it was resolved'}, tonumber(ARGV[6]))
  redis.call('SADD', KEYS[2], ARGV[5])
  reopened = 1
  changed = true
end
if ARGV[3] == '1' then
  incident.alerts = (tonumber(incident.alerts) or 0) + 1
  changed = true
end
if changed then raw = save(KEYS[1], incident, ARGV[4]) end
return {0, raw, reopened}`;

// KEYS: incident. ARGV: threadTs, ttlMs
const SET_THREAD = `${LUA_HELPERS}
local raw = redis.call('GET', KEYS[1])
if not raw then return false end
local incident = load(raw)
if incident.threadTs then return raw end
incident.threadTs = ARGV[1]
return save(KEYS[1], incident, ARGV[2])`;

// KEYS: incident. ARGV: entry JSON, ttlMs, maxTimeline
const APPEND = `${LUA_HELPERS}
local raw = redis.call('GET', KEYS[1])
if not raw then return false end
local incident = load(raw)
local entry = cjson.decode(ARGV[1])
push(incident, entry, tonumber(ARGV[3]))
if entry.kind == 'diagnosis' and not incident.firstDiagnosisAt then incident.firstDiagnosisAt = entry.at end
return save(KEYS[1], incident, ARGV[2])`;

// KEYS: incident, open index. ARGV: at, text, ttlMs, key, maxTimeline
const RESOLVE = `${LUA_HELPERS}
local raw = redis.call('GET', KEYS[1])
if not raw then return false end
local incident = load(raw)
if incident.status == 'resolved' then return {0, raw} end
incident.status = 'resolved'
incident.resolvedAt = ARGV[1]
push(incident, {at = ARGV[1], kind = 'resolve', text = ARGV[2]}, tonumber(ARGV[5]))
redis.call('SREM', KEYS[2], ARGV[4])
return {1, save(KEYS[1], incident, ARGV[3])}`;

export class IncidentNotFoundError extends Error {
  constructor(key: string) {
    super(`no incident ${key}`);
    this.name = 'IncidentNotFoundError';
  }
}

function check(what: string, value: unknown, pattern: RegExp, rule: string): string {
  if (typeof value !== 'string' || !pattern.test(value)) {
    throw new Error(`invalid ${what} ${JSON.stringify(typeof value === 'string' ? value.slice(0, 60) : value)}: ${rule}`);
  }
  return value;
}

const checkKey = (key: unknown) => check('incident key', key, KEY, '1-128 of A-Z a-z 0-9 _ . -');

function isoTime(at: Date | string | number | undefined, now: () => number): string {
  const date = at === undefined ? new Date(now()) : new Date(at);
  if (Number.isNaN(date.getTime())) throw new Error(`invalid time ${JSON.stringify(at)}`);
  return date.toISOString();
}

function cleanText(text: string): string {
  const clean = redactSecrets(String(text));
  return clean.length > MAX_TEXT ? `${clean.slice(0, MAX_TEXT)}…[cut]` : clean;
}

/** Parses a stored incident; cjson writes an empty list as `{}`, hence the normalisation. */
function parseIncident(raw: string): Incident {
  const value = JSON.parse(raw) as Incident & { timeline: unknown };
  const timeline = Array.isArray(value.timeline) ? (value.timeline as TimelineEntry[]) : [];
  return { ...value, alerts: Number(value.alerts) || 0, timeline };
}

export interface OpenIncidentInput {
  channel: string;
  host?: string;
  title?: string;
  /** Count this call as one more alert on the incident (alert webhooks: yes; `/oo diagnose`: no). */
  countAlert?: boolean;
  /** Text of the opening timeline entry. */
  text?: string;
  at?: Date | string | number;
}

export interface OpenOrGetResult {
  incident: Incident;
  /** True for exactly one caller: the one that must post the parent message. */
  created: boolean;
  /** True when a resolved incident fired again and was opened anew (same thread). */
  reopened: boolean;
}

export interface IncidentStoreOptions {
  /** How long an incident is kept after its last change. Default 30 days. */
  retentionMs?: number;
  /** Timeline entries kept per incident (the first one always stays). Default 500. */
  maxTimeline?: number;
  now?: () => number;
}

export class IncidentStore {
  private readonly retentionMs: number;
  private readonly maxTimeline: number;
  private readonly now: () => number;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keyspace,
    options: IncidentStoreOptions = {},
  ) {
    this.retentionMs = options.retentionMs ?? 30 * 24 * 3600 * 1000;
    this.maxTimeline = options.maxTimeline ?? 500;
    this.now = options.now ?? Date.now;
    if (!Number.isInteger(this.maxTimeline) || this.maxTimeline < 2) throw new Error('maxTimeline must be an integer >= 2');
  }

  async get(key: string): Promise<Incident | null> {
    const raw = await this.redis.get(this.keys.incident(checkKey(key)));
    return raw === null ? null : parseIncident(raw);
  }

  /** Opens the incident, or returns the one already open (reopening a resolved one). Atomic. */
  async openOrGet(key: string, input: OpenIncidentInput): Promise<OpenOrGetResult> {
    checkKey(key);
    const channel = check('channel', input.channel, CHANNEL, 'a Slack channel id (C…, G… or D…)');
    if (input.host !== undefined) check('host', input.host, HOST, 'an inventory host name');
    const at = isoTime(input.at, this.now);
    const countAlert = input.countAlert ?? false;
    const fresh: Incident = {
      key,
      channel,
      status: 'open',
      openedAt: at,
      alerts: countAlert ? 1 : 0,
      timeline: [{ at, kind: 'open', text: cleanText(input.text ?? input.title ?? 'incident opened') }],
    };
    if (input.host !== undefined) fresh.host = input.host;
    if (input.title !== undefined) fresh.title = cleanText(input.title).slice(0, 300);
    const reply = (await runScript(this.redis, OPEN_OR_GET, [this.keys.incident(key), this.keys.openIncidents], [
      JSON.stringify(fresh),
      at,
      countAlert ? '1' : '0',
      this.retentionMs,
      key,
      this.maxTimeline,
    ])) as [number, string, number];
    return { incident: parseIncident(reply[1]), created: Number(reply[0]) === 1, reopened: Number(reply[2]) === 1 };
  }

  /** Records the parent message's ts; the first one set stays. Returns the incident as stored. */
  async setThread(key: string, threadTs: string): Promise<Incident> {
    checkKey(key);
    check('thread ts', threadTs, TS, 'a Slack message ts');
    const raw = await runScript(this.redis, SET_THREAD, [this.keys.incident(key)], [threadTs, this.retentionMs]);
    if (typeof raw !== 'string') throw new IncidentNotFoundError(key);
    return parseIncident(raw);
  }

  /** Waits (polling, bounded) until the creator has stored the thread ts; undefined on timeout. */
  async waitForThread(key: string, options: { timeoutMs: number; pollMs?: number }): Promise<string | undefined> {
    const deadline = Date.now() + Math.max(0, options.timeoutMs);
    const pollMs = Math.max(10, options.pollMs ?? 100);
    const maxPolls = Math.ceil(Math.max(0, options.timeoutMs) / pollMs) + 1;
    for (let poll = 0; poll < maxPolls; poll++) {
      const incident = await this.get(key);
      if (!incident) throw new IncidentNotFoundError(key);
      if (incident.threadTs !== undefined) return incident.threadTs;
      const left = deadline - Date.now();
      if (left <= 0) break;
      await sleep(Math.min(pollMs, left));
    }
    return undefined;
  }

  async appendTimeline(key: string, entry: { kind: TimelineKind; text: string; at?: Date | string | number }): Promise<Incident> {
    checkKey(key);
    if (!(TIMELINE_KINDS as readonly string[]).includes(entry.kind)) {
      throw new Error(`invalid timeline kind ${JSON.stringify(entry.kind)}: expected one of ${TIMELINE_KINDS.join(', ')}`);
    }
    const stored: TimelineEntry = { at: isoTime(entry.at, this.now), kind: entry.kind, text: cleanText(entry.text) };
    const raw = await runScript(this.redis, APPEND, [this.keys.incident(key)], [
      JSON.stringify(stored),
      this.retentionMs,
      this.maxTimeline,
    ]);
    if (typeof raw !== 'string') throw new IncidentNotFoundError(key);
    return parseIncident(raw);
  }

  /** Resolves the incident; `changed` is false when it was already resolved. */
  async resolve(
    key: string,
    options: { text?: string; at?: Date | string | number } = {},
  ): Promise<{ incident: Incident; changed: boolean }> {
    checkKey(key);
    const reply = await runScript(this.redis, RESOLVE, [this.keys.incident(key), this.keys.openIncidents], [
      isoTime(options.at, this.now),
      cleanText(options.text ?? 'resolved'),
      this.retentionMs,
      key,
      this.maxTimeline,
    ]);
    if (!Array.isArray(reply)) throw new IncidentNotFoundError(key);
    return { incident: parseIncident(String(reply[1])), changed: Number(reply[0]) === 1 };
  }

  /** Open incidents, oldest first (at most `limit`). Drops index entries whose incident expired. */
  async listOpen(limit = 200): Promise<Incident[]> {
    const keys: string[] = [];
    let cursor = '0';
    for (let round = 0; round < 1000 && keys.length < limit; round++) {
      const [next, members] = await this.redis.sscan(this.keys.openIncidents, cursor, 'COUNT', 200);
      keys.push(...members);
      cursor = next;
      if (cursor === '0') break;
    }
    const wanted = [...new Set(keys)].slice(0, limit);
    if (wanted.length === 0) return [];
    const raws = await this.redis.mget(wanted.map((key) => this.keys.incident(key)));
    const open: Incident[] = [];
    const stale: string[] = [];
    raws.forEach((raw, index) => {
      if (raw === null) stale.push(wanted[index]!);
      else {
        const incident = parseIncident(raw);
        if (incident.status === 'open') open.push(incident);
      }
    });
    if (stale.length > 0) await this.redis.srem(this.keys.openIncidents, ...stale);
    return open.sort((a, b) => Date.parse(a.openedAt) - Date.parse(b.openedAt));
  }
}
