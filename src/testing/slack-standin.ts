// A local stand-in of the Slack Web API for tests and the terminal demo: a loopback HTTP server that a
// real @slack/web-api WebClient talks to (`slackApiUrl: standin.apiUrl`). It answers the methods the bot
// uses the way Slack documents them, keeps channels, threads, edits and message metadata so tests can
// assert on them, reads them back (conversations.history / conversations.replies), rejects what Slack
// would reject (bad blocks, bad token, a scope the token lacks, too fast), and can be told to fail,
// including the failures that leave a client unsure: an answer that comes too late, or never.
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { checkMessage, validateView, type Violation } from '../slack/limits.js';

export interface StandinChannel {
  id: string;
  name: string;
  is_private?: boolean;
}

export interface StandinUser {
  id: string;
  name: string;
  real_name?: string;
  is_admin?: boolean;
  is_owner?: boolean;
  is_bot?: boolean;
  deleted?: boolean;
  tz?: string;
}

export interface SlackStandinOptions {
  /** The bot token every call must carry (header or `token` argument). */
  token?: string;
  teamId?: string;
  teamName?: string;
  botUserId?: string;
  botId?: string;
  channels?: StandinChannel[];
  users?: StandinUser[];
  /** usergroup id → member user ids */
  usergroups?: Record<string, string[]>;
  /**
   * chat.postMessage per channel: a token bucket of `burst` messages refilled at `perSecond`. Default
   * { perSecond: 1, burst: 3 }: Slack "will generally allow an app to post 1 message per second to a
   * specific channel … Generous burst behavior is also granted". `{ perSecond: 1, burst: 1 }` is stricter
   * than Slack; false turns the limit off.
   */
  postMessageRate?: { perSecond: number; burst: number } | false;
  /**
   * conversations.history and conversations.replies, each a token bucket per workspace (Slack: Tier 3,
   * "50+ per minute … Sporadic bursts are welcome"). Default { perMinute: 50, burst: 50 }; false: off.
   */
  historyRate?: { perMinute: number; burst: number } | false;
  /**
   * The bot token's scopes: a call whose method needs a scope not in this list is answered
   * `missing_scope`, as Slack does. Default: every scope (no check).
   */
  scopes?: readonly string[];
  /** How long a trigger_id from issueTriggerId() stays valid (Slack: 3 s). */
  triggerTtlMs?: number;
  /** Largest request body accepted. */
  maxBodyBytes?: number;
  /** Where to print every message readably as it is posted or edited (terminal demo). */
  print?: NodeJS.WritableStream;
  /** Clock for ts values, rate limits and records (ms since the epoch). */
  now?: () => number;
}

export type StandinFault =
  /** HTTP 429 `ratelimited` with Retry-After. */
  | { kind: 'rate_limited'; retryAfterSec?: number }
  /** HTTP 5xx with a text body. */
  | { kind: 'server_error'; status?: number }
  /** Holds the request this long, then handles it normally (a slow Slack that still did the work). */
  | { kind: 'hang'; ms: number }
  /** Closes the connection without an answer, before doing anything. */
  | { kind: 'reset' }
  /** Handles the request at once (a message is posted), then holds the answer this long. */
  | { kind: 'slow_answer'; ms: number }
  /** Handles the request at once (a message is posted), then closes the connection without an answer. */
  | { kind: 'drop_answer' };

export type StandinFaultRule = StandinFault & {
  /** How many calls get it (default 1). */
  count?: number;
  /** Only calls of this method (default: any method). */
  method?: string;
};

export interface RecordedCall {
  method: string;
  /** The arguments as Slack would read them (JSON-encoded fields decoded), without the token. */
  args: Record<string, unknown>;
  /** Clock time the request arrived (ms). */
  at: number;
  contentType: string;
  /** HTTP status answered (0 when the connection was closed without an answer). */
  status: number;
  /** The method ran and succeeded (ok: true), whether or not its answer reached the client. */
  applied: boolean;
  /** Slack's `error` when the answer was ok:false. */
  error?: string;
  fault?: StandinFault['kind'];
}

export interface MessageVersion {
  text: string;
  blocks: unknown[] | undefined;
  at: number;
}

export interface MessageMetadata {
  event_type: string;
  event_payload: Record<string, unknown>;
}

export interface StoredMessage {
  channel: string;
  ts: string;
  /** Message metadata posted with it (chat.postMessage `metadata`). */
  metadata?: MessageMetadata;
  /** Parent ts when this is a reply. */
  threadTs?: string;
  user: string;
  botId?: string;
  subtype?: 'file_share';
  text: string;
  blocks: unknown[] | undefined;
  files?: StoredFile[];
  /** Earlier versions, oldest first; the current one is `text`/`blocks`. */
  edits: MessageVersion[];
  /** Reply ts values, for a parent. */
  replies: string[];
  postedAt: number;
}

export interface EphemeralMessage {
  channel: string;
  user: string;
  text: string;
  blocks: unknown[] | undefined;
  threadTs?: string;
  messageTs: string;
  at: number;
}

export interface StoredFile {
  id: string;
  filename: string;
  declaredLength: number;
  title?: string;
  content: Buffer | undefined;
  snippetType?: string;
  sharedTo?: { channel: string; threadTs?: string };
  initialComment?: string;
}

export interface OpenedView {
  id: string;
  triggerId: string;
  view: Record<string, unknown>;
  at: number;
}

export interface ThreadView {
  parent: StoredMessage;
  replies: StoredMessage[];
}

class SlackApiError extends Error {
  constructor(
    readonly code: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(code);
  }
}

// Arguments Slack takes as JSON even in a form-encoded body.
const JSON_ARGUMENTS = new Set(['blocks', 'attachments', 'files', 'view', 'metadata']);

type Handler = (args: Record<string, unknown>, call: RecordedCall) => Record<string, unknown>;

function str(args: Record<string, unknown>, name: string): string | undefined {
  const value = args[name];
  if (value === undefined || value === null || value === '') return undefined;
  return typeof value === 'string' ? value : String(value);
}

function required(args: Record<string, unknown>, name: string, error = 'invalid_arguments'): string {
  const value = str(args, name);
  if (value === undefined) throw new SlackApiError(error, { detail: `missing required argument ${name}` });
  return value;
}

function violationError(violations: Violation[]): SlackApiError {
  const code = violations.some((v) => v.rule === 'message_text')
    ? 'msg_too_long'
    : violations.some((v) => v.rule === 'blocks')
      ? 'invalid_blocks'
      : 'msg_blocks_too_long';
  const errors = violations.map((v) => `${v.message} [json-pointer:/${v.path.replace(/\[(\d+)\]/g, '/$1').replace(/\./g, '/')}]`);
  return new SlackApiError(code, { errors, response_metadata: { messages: errors.map((e) => `[ERROR] ${e}`) } });
}

// The bot-token scope each method needs, as Slack's method pages list them; for a conversation the scope
// depends on its kind (public channel: channels:*, private channel: groups:*).
const METHOD_SCOPES: Readonly<Record<string, string | { public: string; private: string } | null>> = {
  'auth.test': null,
  'chat.postMessage': 'chat:write',
  'chat.update': 'chat:write',
  'chat.postEphemeral': 'chat:write',
  'chat.getPermalink': null,
  'files.getUploadURLExternal': 'files:write',
  'files.completeUploadExternal': 'files:write',
  'conversations.info': { public: 'channels:read', private: 'groups:read' },
  'conversations.history': { public: 'channels:history', private: 'groups:history' },
  'conversations.replies': { public: 'channels:history', private: 'groups:history' },
  'users.info': 'users:read',
  'usergroups.users.list': 'usergroups:read',
  'views.open': null,
};

const HISTORY_METHODS = new Set(['conversations.history', 'conversations.replies']);

/** A boolean argument as Slack reads it from JSON or a form (`true`, `1`). */
function flag(args: Record<string, unknown>, name: string): boolean {
  const value = args[name];
  return value === true || value === 1 || value === 'true' || value === '1';
}

/** A message timestamp (`1700000000.000100`, or whole seconds) in microseconds; undefined when malformed. */
function tsMicros(value: string): number | undefined {
  const match = /^(\d{1,12})(?:\.(\d{1,6}))?$/.exec(value);
  if (!match) return undefined;
  return Number(match[1]) * 1_000_000 + Number((match[2] ?? '').padEnd(6, '0'));
}

/** Slack's cursors are opaque; the stand-in's say where the next page starts, as Slack's do (`next_ts:…`). */
function encodeCursor(ts: string): string {
  return Buffer.from(`next_ts:${tsMicros(ts) ?? 0}`).toString('base64');
}

function decodeCursor(cursor: string): number {
  const match = /^next_ts:(\d+)$/.exec(Buffer.from(cursor, 'base64').toString('utf8'));
  if (!match) throw new SlackApiError('invalid_cursor');
  return Number(match[1]);
}

/** chat.postMessage `metadata`: an object with a string `event_type` and an object `event_payload`. */
function metadataArgument(value: unknown): MessageMetadata | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) throw new SlackApiError('invalid_metadata_format');
  const { event_type: type, event_payload: payload } = value as { event_type?: unknown; event_payload?: unknown };
  if (typeof type !== 'string' || type === '' || !payload || typeof payload !== 'object' || Array.isArray(payload)) {
    throw new SlackApiError('invalid_metadata_schema');
  }
  return { event_type: type, event_payload: payload as Record<string, unknown> };
}

/** Block Kit as text for a terminal: headers bold, sections as text, buttons in brackets. */
export function blocksAsText(text: string, blocks: unknown[] | undefined): string {
  if (!blocks || blocks.length === 0) {
    // eslint-disable-next-line no-control-regex
    return text.replace(/[\u0000-\u0008\u000B-\u001F\u007F-\u009F]/g, '\uFFFD');
  }
  // Control characters in posted text must not drive the terminal.
  // eslint-disable-next-line no-control-regex
  const inert = (s: string) => s.replace(/[\u0000-\u0008\u000B-\u001F\u007F-\u009F]/g, '\uFFFD');
  const textOf = (o: unknown): string =>
    o && typeof o === 'object' && typeof (o as { text?: unknown }).text === 'string' ? inert((o as { text: string }).text) : '';
  const lines: string[] = [];
  for (const block of blocks as Array<Record<string, unknown>>) {
    switch (block.type) {
      case 'header':
        lines.push(`\u001b[1m${textOf(block.text)}\u001b[0m`);
        break;
      case 'section':
        if (block.text) lines.push(textOf(block.text));
        if (Array.isArray(block.fields)) lines.push((block.fields as unknown[]).map(textOf).join('  |  '));
        break;
      case 'context':
        lines.push(`  ${((block.elements as unknown[]) ?? []).map(textOf).join('  ')}`);
        break;
      case 'actions':
        lines.push(
          ((block.elements as Array<Record<string, unknown>>) ?? [])
            .map((e) => `[ ${textOf(e.text)} ]${e.style === 'danger' ? '!' : ''}`)
            .join(' '),
        );
        break;
      case 'divider':
        lines.push('─'.repeat(40));
        break;
      default:
        lines.push(`(${String(block.type)} block)`);
    }
  }
  // What a Slack client would show: dates as their fallback text, entities decoded.
  return lines
    .join('\n')
    .replace(/<!date\^[^|>]*\|([^>]*)>/g, '$1')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

export class SlackStandin {
  readonly calls: RecordedCall[] = [];
  readonly ephemerals: EphemeralMessage[] = [];
  readonly files: StoredFile[] = [];
  readonly views: OpenedView[] = [];

  private readonly token: string;
  private readonly teamId: string;
  private readonly teamName: string;
  private readonly botUserId: string;
  private readonly botId: string;
  private readonly channels = new Map<string, StandinChannel>();
  private readonly users = new Map<string, StandinUser>();
  private readonly usergroups = new Map<string, string[]>();
  private readonly rate: { perSecond: number; burst: number } | false;
  private readonly historyRate: { perSecond: number; burst: number } | false;
  private readonly scopes: ReadonlySet<string> | undefined;
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly triggerTtlMs: number;
  private readonly maxBodyBytes: number;
  private readonly print: NodeJS.WritableStream | undefined;
  private readonly now: () => number;
  private readonly faults: Array<StandinFaultRule & { left: number }> = [];
  private readonly triggers = new Map<string, number>();
  private readonly topLevel = new Map<string, StoredMessage[]>();
  private readonly byKey = new Map<string, StoredMessage>();
  private readonly sockets = new Set<Socket>();
  private readonly hangs = new Set<{ timer: NodeJS.Timeout; release: () => void }>();
  private readonly handlers: Record<string, Handler>;
  private lastTsMicros = 0;
  private server: Server | undefined;
  private baseUrl = '';

  private constructor(options: SlackStandinOptions) {
    this.token = options.token ?? 'xoxb-standin-token';
    this.teamId = options.teamId ?? 'T0STANDIN';
    this.teamName = options.teamName ?? 'standin';
    this.botUserId = options.botUserId ?? 'U0OOBOT';
    this.botId = options.botId ?? 'B0OOBOT';
    for (const channel of options.channels ?? [{ id: 'C0OPS', name: 'ops' }]) this.channels.set(channel.id, channel);
    const users = options.users ?? [
      { id: 'U0ALICE', name: 'alice', real_name: 'Alice Admin', is_admin: true },
      { id: 'U0BOB', name: 'bob', real_name: 'Bob Builder' },
    ];
    for (const user of users) this.users.set(user.id, user);
    this.users.set(this.botUserId, { id: this.botUserId, name: 'oo', real_name: 'oo-responder', is_bot: true });
    for (const [id, members] of Object.entries(options.usergroups ?? {})) this.usergroups.set(id, [...members]);
    this.rate = options.postMessageRate === undefined ? { perSecond: 1, burst: 3 } : options.postMessageRate;
    const history = options.historyRate === undefined ? { perMinute: 50, burst: 50 } : options.historyRate;
    this.historyRate = history && { perSecond: history.perMinute / 60, burst: history.burst };
    this.scopes = options.scopes ? new Set(options.scopes) : undefined;
    this.triggerTtlMs = options.triggerTtlMs ?? 3000;
    this.maxBodyBytes = options.maxBodyBytes ?? 10 * 1024 * 1024;
    this.print = options.print;
    this.now = options.now ?? Date.now;
    this.handlers = {
      'auth.test': () => this.authTest(),
      'chat.postMessage': (args) => this.postMessage(args),
      'chat.update': (args) => this.update(args),
      'chat.postEphemeral': (args) => this.postEphemeral(args),
      'chat.getPermalink': (args) => this.getPermalink(args),
      'files.getUploadURLExternal': (args) => this.getUploadUrl(args),
      'files.completeUploadExternal': (args) => this.completeUpload(args),
      'conversations.info': (args) => this.conversationsInfo(args),
      'users.info': (args) => this.usersInfo(args),
      'usergroups.users.list': (args) => this.usergroupUsers(args),
      'views.open': (args) => this.viewsOpen(args),
      'conversations.history': (args) => this.conversationsHistory(args),
      'conversations.replies': (args) => this.conversationsReplies(args),
    };
  }

  /** Starts on 127.0.0.1 with a free port. */
  static async start(options: SlackStandinOptions = {}): Promise<SlackStandin> {
    const standin = new SlackStandin(options);
    const server = createServer((req, res) => {
      void standin.handle(req, res).catch((error: unknown) => {
        if (!res.headersSent) {
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end(`stand-in error: ${error instanceof Error ? error.message : String(error)}`);
        }
      });
    });
    server.on('connection', (socket) => {
      standin.sockets.add(socket);
      socket.on('close', () => standin.sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    standin.server = server;
    standin.baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return standin;
  }

  /** For `new WebClient(token, { slackApiUrl })` and Bolt's `clientOptions.slackApiUrl`. */
  get apiUrl(): string {
    return `${this.baseUrl}/api/`;
  }

  get botToken(): string {
    return this.token;
  }

  get botUser(): string {
    return this.botUserId;
  }

  /**
   * Stops listening and drops every connection (requests in flight get no answer): a Slack nobody can
   * connect to, so a client's next call fails with ECONNREFUSED before it sends anything.
   */
  async refuseConnections(): Promise<void> {
    const server = this.server;
    if (!server || !server.listening) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  /** Listens again, on the same port, after refuseConnections(). */
  async acceptConnections(): Promise<void> {
    const server = this.server;
    if (!server || server.listening) return;
    const port = Number(new URL(this.baseUrl).port);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  }

  async close(): Promise<void> {
    for (const hang of this.hangs) {
      clearTimeout(hang.timer);
      hang.release();
    }
    this.hangs.clear();
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  // --- set-up -----------------------------------------------------------------------------------------

  addChannel(channel: StandinChannel): void {
    this.channels.set(channel.id, channel);
  }

  addUser(user: StandinUser): void {
    this.users.set(user.id, user);
  }

  setUsergroup(id: string, members: string[]): void {
    this.usergroups.set(id, [...members]);
  }

  /** The next `count` matching calls fail this way; rules apply in the order they were given. */
  injectFault(rule: StandinFaultRule): void {
    const count = rule.count ?? 1;
    if (!Number.isInteger(count) || count < 1 || count > 10_000) throw new RangeError(`injectFault: count must be 1..10000`);
    if ((rule.kind === 'hang' || rule.kind === 'slow_answer') && !(rule.ms >= 0 && rule.ms <= 120_000)) {
      throw new RangeError(`injectFault: ${rule.kind} ms must be 0..120000`);
    }
    this.faults.push({ ...rule, left: count });
  }

  clearFaults(): void {
    this.faults.length = 0;
  }

  /** A trigger_id as Slack puts in an interaction payload; views.open accepts it for `triggerTtlMs`. */
  issueTriggerId(): string {
    const id = `${Math.floor(this.now() / 1000)}.${this.teamId.replace(/\D/g, '') || '1'}.${randomBytes(16).toString('hex')}`;
    this.triggers.set(id, this.now() + this.triggerTtlMs);
    return id;
  }

  /** A message a person wrote (the bot cannot edit it), e.g. someone talking in the incident thread. */
  postAsUser(channel: string, user: string, text: string, threadTs?: string): StoredMessage {
    if (!this.users.has(user)) throw new Error(`postAsUser: unknown user ${user}`);
    return this.store({ channel: this.channelId(channel), user, text, blocks: undefined, threadTs });
  }

  // --- queries ----------------------------------------------------------------------------------------

  callsTo(method: string): RecordedCall[] {
    return this.calls.filter((c) => c.method === method);
  }

  /** Top-level messages of a channel, oldest first. */
  messages(channel: string): StoredMessage[] {
    return [...(this.topLevel.get(channel) ?? [])];
  }

  message(channel: string, ts: string): StoredMessage | undefined {
    return this.byKey.get(`${channel}/${ts}`);
  }

  thread(channel: string, parentTs: string): ThreadView {
    const parent = this.message(channel, parentTs);
    if (!parent) throw new Error(`no message ${parentTs} in ${channel}`);
    return { parent, replies: parent.replies.map((ts) => this.byKey.get(`${channel}/${ts}`) as StoredMessage) };
  }

  // --- HTTP -------------------------------------------------------------------------------------------

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const at = this.now();
    const url = new URL(req.url ?? '/', this.baseUrl);
    const body = await this.readBody(req);
    if (body === undefined) {
      res.writeHead(413, { 'content-type': 'text/plain' });
      res.end('request body too large');
      return;
    }
    if (url.pathname.startsWith('/upload/v1/')) {
      await this.receiveUpload(url.pathname.slice('/upload/v1/'.length), req, body, res);
      return;
    }
    const match = /^\/api\/([A-Za-z.]+)$/.exec(url.pathname);
    if (!match || (req.method !== 'POST' && req.method !== 'GET')) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
      return;
    }
    const method = match[1] as string;
    const contentType = String(req.headers['content-type'] ?? '');
    const call: RecordedCall = { method, args: {}, at, contentType, status: 200, applied: false };
    this.calls.push(call);

    let args: Record<string, unknown>;
    try {
      args = await this.parseArgs(contentType, body, url.searchParams);
    } catch (error) {
      this.answer(res, call, 200, { ok: false, error: error instanceof SlackApiError ? error.code : 'invalid_form_data' });
      return;
    }
    const bodyToken = str(args, 'token');
    delete args.token;
    call.args = args;

    const fault = this.takeFault(method);
    if (fault) {
      call.fault = fault.kind;
      if (fault.kind === 'reset') {
        call.status = 0;
        req.socket.destroy();
        return;
      }
      if (fault.kind === 'rate_limited') {
        this.answer(res, call, 429, { ok: false, error: 'ratelimited' }, { 'retry-after': String(fault.retryAfterSec ?? 1) });
        return;
      }
      if (fault.kind === 'server_error') {
        call.status = fault.status ?? 503;
        res.writeHead(call.status, { 'content-type': 'text/plain' });
        res.end('stand-in: injected server error');
        return;
      }
      if (fault.kind === 'hang') {
        await this.hold(fault.ms);
        if (!this.server) return;
      }
    }

    const { status, payload, headers } = this.outcome(method, args, call, at, String(req.headers.authorization ?? ''), bodyToken);
    if (fault?.kind === 'drop_answer') {
      // The work is done (a message is posted); the client never hears of it.
      call.status = 0;
      if (payload.ok === false) call.error = String(payload.error);
      req.socket.destroy();
      return;
    }
    if (fault?.kind === 'slow_answer') {
      await this.hold(fault.ms);
      if (!this.server || req.socket.destroyed) {
        call.status = 0;
        if (payload.ok === false) call.error = String(payload.error);
        return;
      }
    }
    this.answer(res, call, status, payload, headers);
  }

  /** Holds a request this long (released at once by close()). */
  private hold(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const hang = { timer: setTimeout(() => release(), ms), release: () => resolve() };
      const release = () => {
        this.hangs.delete(hang);
        resolve();
      };
      this.hangs.add(hang);
    });
  }

  /** What Slack answers a call (and its effect, when it succeeds). */
  private outcome(
    method: string,
    args: Record<string, unknown>,
    call: RecordedCall,
    at: number,
    auth: string,
    bodyToken: string | undefined,
  ): { status: number; payload: Record<string, unknown>; headers?: Record<string, string> } {
    const token = auth.startsWith('Bearer ') ? auth.slice('Bearer '.length) : bodyToken;
    if (!token) return { status: 200, payload: { ok: false, error: 'not_authed' } };
    if (token !== this.token) return { status: 200, payload: { ok: false, error: 'invalid_auth' } };

    const handler = this.handlers[method];
    if (!handler) return { status: 200, payload: { ok: false, error: 'unknown_method' } };
    const missing = this.missingScope(method, args);
    if (missing) {
      return { status: 200, payload: { ok: false, error: 'missing_scope', needed: missing, provided: [...(this.scopes ?? [])].join(',') } };
    }
    // chat.postMessage per channel (an unknown channel is the handler's to answer, not rate limited);
    // the history methods per workspace.
    const channel = method === 'chat.postMessage' ? this.knownChannel(str(args, 'channel')) : undefined;
    const limit = channel !== undefined ? this.rate : HISTORY_METHODS.has(method) ? this.historyRate : false;
    const retryAfter = limit ? this.rateLimit(channel !== undefined ? `${method}/${channel}` : method, limit, at) : undefined;
    if (retryAfter !== undefined) {
      return { status: 429, payload: { ok: false, error: 'ratelimited' }, headers: { 'retry-after': String(retryAfter) } };
    }
    try {
      const payload = { ok: true, ...handler(args, call) };
      call.applied = true;
      return { status: 200, payload };
    } catch (error) {
      if (!(error instanceof SlackApiError)) throw error;
      return { status: 200, payload: { ok: false, error: error.code, ...error.extra } };
    }
  }

  /** The scope this call needs that the token lacks, if any (none when scopes are not checked). */
  private missingScope(method: string, args: Record<string, unknown>): string | undefined {
    if (!this.scopes) return undefined;
    const needed = METHOD_SCOPES[method];
    if (!needed) return undefined;
    let scope: string;
    if (typeof needed === 'string') scope = needed;
    else {
      const channel = this.knownChannel(str(args, 'channel'));
      // An unknown channel is the handler's to answer (channel_not_found).
      if (channel === undefined) return undefined;
      scope = this.channels.get(channel)?.is_private ? needed.private : needed.public;
    }
    return this.scopes.has(scope) ? undefined : scope;
  }

  private answer(
    res: ServerResponse,
    call: RecordedCall,
    status: number,
    payload: Record<string, unknown>,
    headers: Record<string, string> = {},
  ): void {
    call.status = status;
    if (payload.ok === false) call.error = String(payload.error);
    if (res.destroyed) return;
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
    res.end(JSON.stringify(payload));
  }

  private async readBody(req: IncomingMessage): Promise<Buffer | undefined> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > this.maxBodyBytes) return undefined;
      chunks.push(chunk as Buffer);
    }
    return Buffer.concat(chunks);
  }

  private async parseArgs(contentType: string, body: Buffer, query: URLSearchParams): Promise<Record<string, unknown>> {
    const args: Record<string, unknown> = Object.fromEntries(query.entries());
    const type = contentType.split(';')[0]?.trim().toLowerCase() ?? '';
    if (body.length > 0) {
      if (type === 'application/json') {
        let parsed: unknown;
        try {
          parsed = JSON.parse(body.toString('utf8'));
        } catch {
          throw new SlackApiError('invalid_json');
        }
        if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new SlackApiError('invalid_json');
        Object.assign(args, parsed);
      } else if (type === 'application/x-www-form-urlencoded' || type === '') {
        Object.assign(args, Object.fromEntries(new URLSearchParams(body.toString('utf8')).entries()));
      } else if (type === 'multipart/form-data') {
        const form = await new Response(new Uint8Array(body), { headers: { 'content-type': contentType } }).formData();
        for (const [key, value] of form.entries()) if (typeof value === 'string') args[key] = value;
      } else {
        throw new SlackApiError('invalid_form_data');
      }
    }
    for (const name of JSON_ARGUMENTS) {
      const value = args[name];
      if (typeof value !== 'string') continue;
      try {
        args[name] = JSON.parse(value);
      } catch {
        throw new SlackApiError(name === 'blocks' ? 'invalid_blocks_format' : name === 'metadata' ? 'invalid_metadata_format' : 'invalid_arguments');
      }
    }
    return args;
  }

  private takeFault(method: string): StandinFault | undefined {
    const index = this.faults.findIndex((f) => f.method === undefined || f.method === method);
    if (index < 0) return undefined;
    const rule = this.faults[index] as StandinFaultRule & { left: number };
    rule.left -= 1;
    if (rule.left <= 0) this.faults.splice(index, 1);
    const { count: _count, method: _method, left: _left, ...fault } = rule;
    return fault as StandinFault;
  }

  /** Seconds to wait, or undefined when the call may go now (and takes a token of bucket `key`). */
  private rateLimit(key: string, limit: { perSecond: number; burst: number }, nowMs: number): number | undefined {
    const { perSecond, burst } = limit;
    const bucket = this.buckets.get(key) ?? { tokens: burst, at: nowMs };
    bucket.tokens = Math.min(burst, bucket.tokens + ((nowMs - bucket.at) / 1000) * perSecond);
    bucket.at = nowMs;
    this.buckets.set(key, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return undefined;
    }
    return Math.max(1, Math.ceil((1 - bucket.tokens) / perSecond));
  }

  private async receiveUpload(fileId: string, req: IncomingMessage, body: Buffer, res: ServerResponse): Promise<void> {
    const file = this.files.find((f) => f.id === fileId);
    if (!file || req.method !== 'POST') {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('no such upload');
      return;
    }
    const contentType = String(req.headers['content-type'] ?? '');
    let content = body;
    if (contentType.toLowerCase().startsWith('multipart/form-data')) {
      // @slack/web-api sends the bytes as a multipart field; curl-style clients send them raw.
      const form = await new Response(new Uint8Array(body), { headers: { 'content-type': contentType } }).formData();
      const part = [...form.values()].find((v): v is File => typeof v !== 'string');
      content = part ? Buffer.from(await part.arrayBuffer()) : Buffer.alloc(0);
    }
    file.content = content;
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(`OK - ${content.length}`);
  }

  // --- methods ----------------------------------------------------------------------------------------

  /** The channel's id, or undefined when no such channel exists. */
  private knownChannel(channel: string | undefined): string | undefined {
    try {
      return this.channelId(channel);
    } catch {
      return undefined;
    }
  }

  private channelId(channel: string | undefined): string {
    if (channel === undefined) throw new SlackApiError('channel_not_found');
    if (this.channels.has(channel)) return channel;
    const name = channel.replace(/^#/, '');
    for (const c of this.channels.values()) if (c.name === name) return c.id;
    throw new SlackApiError('channel_not_found');
  }

  private nextTs(): string {
    const micros = Math.max(Math.floor(this.now() * 1000), this.lastTsMicros + 1);
    this.lastTsMicros = micros;
    return `${Math.floor(micros / 1_000_000)}.${String(micros % 1_000_000).padStart(6, '0')}`;
  }

  private store(input: {
    channel: string;
    user: string;
    text: string;
    blocks: unknown[] | undefined;
    threadTs?: string | undefined;
    files?: StoredFile[];
    subtype?: 'file_share';
    metadata?: MessageMetadata | undefined;
  }): StoredMessage {
    let parent: StoredMessage | undefined;
    if (input.threadTs !== undefined) {
      parent = this.byKey.get(`${input.channel}/${input.threadTs}`);
      if (!parent) throw new SlackApiError('thread_not_found');
      // A reply to a reply joins the thread of the parent, as in Slack.
      if (parent.threadTs !== undefined) parent = this.byKey.get(`${input.channel}/${parent.threadTs}`) as StoredMessage;
    }
    const message: StoredMessage = {
      channel: input.channel,
      ts: this.nextTs(),
      user: input.user,
      text: input.text,
      blocks: input.blocks,
      edits: [],
      replies: [],
      postedAt: this.now(),
    };
    if (input.user === this.botUserId) message.botId = this.botId;
    if (input.files) message.files = input.files;
    if (input.subtype) message.subtype = input.subtype;
    if (input.metadata) message.metadata = input.metadata;
    if (parent) {
      message.threadTs = parent.ts;
      parent.replies.push(message.ts);
    } else {
      const list = this.topLevel.get(input.channel) ?? [];
      list.push(message);
      this.topLevel.set(input.channel, list);
    }
    this.byKey.set(`${input.channel}/${message.ts}`, message);
    this.printMessage(message, parent ? 'reply' : 'new');
    return message;
  }

  private printMessage(message: StoredMessage, how: 'new' | 'reply' | 'edit' | 'ephemeral'): void {
    if (!this.print) return;
    const channel = this.channels.get(message.channel)?.name ?? message.channel;
    const who = this.users.get(message.user)?.name ?? message.user;
    const marker = { new: '●', reply: '  ↳', edit: '  ✎', ephemeral: '  (only you)' }[how];
    const indent = how === 'new' ? '  ' : '      ';
    const body = blocksAsText(message.text, message.blocks)
      .split('\n')
      .map((line) => `${indent}${line}`)
      .join('\n');
    const files = (message.files ?? []).map((f) => `${indent}[file ${f.filename}, ${f.content?.length ?? 0} bytes]`).join('\n');
    this.print.write(`${marker} #${channel} ${who} ${message.ts}\n${body}\n${files ? `${files}\n` : ''}`);
  }

  private messageContent(args: Record<string, unknown>): { text: string; blocks: unknown[] | undefined } {
    const text = typeof args.text === 'string' ? args.text : '';
    const blocks = args.blocks;
    if (blocks !== undefined && !Array.isArray(blocks)) throw new SlackApiError('invalid_blocks_format');
    const payload: Record<string, unknown> = {};
    if (typeof args.text === 'string') payload.text = args.text;
    if (blocks !== undefined) payload.blocks = blocks;
    const violations = checkMessage(payload);
    if (violations.length > 0) throw violationError(violations);
    if (!text && (!blocks || blocks.length === 0) && !args.attachments) throw new SlackApiError('no_text');
    return { text, blocks: blocks as unknown[] | undefined };
  }

  private messageJson(message: StoredMessage, withMetadata = false): Record<string, unknown> {
    const json: Record<string, unknown> = {
      type: 'message',
      user: message.user,
      text: message.text,
      ts: message.ts,
      team: this.teamId,
    };
    if (message.botId) json.bot_id = message.botId;
    if (message.blocks) json.blocks = message.blocks;
    if (message.threadTs) json.thread_ts = message.threadTs;
    if (message.subtype) json.subtype = message.subtype;
    if (withMetadata && message.metadata) json.metadata = message.metadata;
    if (message.edits.length > 0) json.edited = { user: message.user, ts: message.ts };
    if (message.replies.length > 0) {
      json.thread_ts = message.ts;
      json.reply_count = message.replies.length;
    }
    return json;
  }

  private authTest(): Record<string, unknown> {
    return {
      url: `${this.baseUrl}/`,
      team: this.teamName,
      user: 'oo',
      team_id: this.teamId,
      user_id: this.botUserId,
      bot_id: this.botId,
      is_enterprise_install: false,
    };
  }

  private postMessage(args: Record<string, unknown>): Record<string, unknown> {
    const channel = this.channelId(str(args, 'channel'));
    const { text, blocks } = this.messageContent(args);
    const metadata = metadataArgument(args.metadata);
    const message = this.store({ channel, user: this.botUserId, text, blocks, threadTs: str(args, 'thread_ts'), metadata });
    return { channel, ts: message.ts, message: this.messageJson(message) };
  }

  private update(args: Record<string, unknown>): Record<string, unknown> {
    const channel = this.channelId(str(args, 'channel'));
    const ts = required(args, 'ts', 'message_not_found');
    const message = this.message(channel, ts);
    if (!message) throw new SlackApiError('message_not_found');
    if (message.user !== this.botUserId) throw new SlackApiError('cant_update_message');
    const { text, blocks } = this.messageContent(args);
    message.edits.push({ text: message.text, blocks: message.blocks, at: this.now() });
    message.text = text;
    message.blocks = blocks;
    this.printMessage(message, 'edit');
    return { channel, ts, text, message: this.messageJson(message) };
  }

  private postEphemeral(args: Record<string, unknown>): Record<string, unknown> {
    const channel = this.channelId(str(args, 'channel'));
    const user = required(args, 'user', 'user_not_found');
    if (!this.users.has(user)) throw new SlackApiError('user_not_found');
    const { text, blocks } = this.messageContent(args);
    const messageTs = this.nextTs();
    const threadTs = str(args, 'thread_ts');
    this.ephemerals.push({ channel, user, text, blocks, messageTs, at: this.now(), ...(threadTs ? { threadTs } : {}) });
    if (this.print) {
      this.printMessage(
        { channel, ts: messageTs, user: this.botUserId, text, blocks, edits: [], replies: [], postedAt: this.now() },
        'ephemeral',
      );
    }
    return { message_ts: messageTs };
  }

  private getPermalink(args: Record<string, unknown>): Record<string, unknown> {
    const channel = this.channelId(str(args, 'channel'));
    const ts = required(args, 'message_ts', 'message_not_found');
    const message = this.message(channel, ts);
    if (!message) throw new SlackApiError('message_not_found');
    const base = `${this.baseUrl}/archives/${channel}/p${ts.replace('.', '')}`;
    const permalink = message.threadTs ? `${base}?thread_ts=${message.threadTs}&cid=${channel}` : base;
    return { channel, permalink };
  }

  private getUploadUrl(args: Record<string, unknown>): Record<string, unknown> {
    const filename = required(args, 'filename');
    const length = Number(required(args, 'length'));
    if (!Number.isInteger(length) || length < 0) throw new SlackApiError('invalid_arguments', { detail: 'length' });
    const id = `F${randomBytes(5).toString('hex').toUpperCase()}`;
    const file: StoredFile = { id, filename, declaredLength: length, content: undefined };
    const snippetType = str(args, 'snippet_type');
    if (snippetType) file.snippetType = snippetType;
    this.files.push(file);
    return { upload_url: `${this.baseUrl}/upload/v1/${id}`, file_id: id };
  }

  private completeUpload(args: Record<string, unknown>): Record<string, unknown> {
    const list = args.files;
    if (!Array.isArray(list) || list.length === 0) throw new SlackApiError('invalid_arguments', { detail: 'files' });
    const entries = list.map((entry) => {
      const id = entry && typeof entry === 'object' ? (entry as { id?: unknown }).id : undefined;
      const file = this.files.find((f) => f.id === id);
      if (!file || file.content === undefined) throw new SlackApiError('file_not_found');
      const title = (entry as { title?: unknown }).title;
      if (typeof title === 'string') file.title = title;
      return file;
    });
    const channelArg = str(args, 'channel_id') ?? str(args, 'channels');
    const threadTs = str(args, 'thread_ts');
    if (threadTs && !channelArg) throw new SlackApiError('invalid_arguments', { detail: 'thread_ts needs channel_id' });
    if (channelArg) {
      const channel = this.channelId(channelArg);
      const comment = str(args, 'initial_comment') ?? '';
      for (const file of entries) {
        file.sharedTo = threadTs ? { channel, threadTs } : { channel };
        if (comment) file.initialComment = comment;
      }
      this.store({ channel, user: this.botUserId, text: comment, blocks: undefined, threadTs, files: entries, subtype: 'file_share' });
    }
    return {
      files: entries.map((f) => ({
        id: f.id,
        name: f.filename,
        title: f.title ?? f.filename,
        size: f.content?.length ?? 0,
        filetype: f.snippetType ?? 'text',
        permalink: `${this.baseUrl}/files/${f.id}/${encodeURIComponent(f.filename)}`,
      })),
    };
  }

  private conversationsInfo(args: Record<string, unknown>): Record<string, unknown> {
    const channel = this.channels.get(this.channelId(str(args, 'channel'))) as StandinChannel;
    return {
      channel: {
        id: channel.id,
        name: channel.name,
        is_channel: !channel.is_private,
        is_group: Boolean(channel.is_private),
        is_private: Boolean(channel.is_private),
        is_archived: false,
        is_member: true,
        created: 1_700_000_000,
      },
    };
  }

  /**
   * The window and page a conversations.history / .replies call asks for: `oldest`/`latest` exclusive
   * unless `inclusive`, `limit` up to the method's maximum, a cursor from an earlier page.
   */
  private timeline(args: Record<string, unknown>, defaultLimit: number, maxLimit: number) {
    const oldestArg = str(args, 'oldest');
    const latestArg = str(args, 'latest');
    const oldest = oldestArg === undefined ? 0 : tsMicros(oldestArg);
    if (oldest === undefined) throw new SlackApiError('invalid_ts_oldest');
    const latest = latestArg === undefined ? Number.MAX_SAFE_INTEGER : tsMicros(latestArg);
    if (latest === undefined) throw new SlackApiError('invalid_ts_latest');
    const inclusive = flag(args, 'inclusive');
    const limitArg = str(args, 'limit');
    const limit = limitArg === undefined ? defaultLimit : Number(limitArg);
    if (!Number.isInteger(limit) || limit < 0) throw new SlackApiError('invalid_arguments', { detail: 'limit' });
    const cursorArg = str(args, 'cursor');
    return {
      within: (message: StoredMessage) => {
        const ts = tsMicros(message.ts) as number;
        return inclusive ? ts >= oldest && ts <= latest : ts > oldest && ts < latest;
      },
      limit: Math.min(limit === 0 ? defaultLimit : limit, maxLimit),
      cursor: cursorArg === undefined ? undefined : decodeCursor(cursorArg),
      withMetadata: flag(args, 'include_all_metadata'),
    };
  }

  private page(list: StoredMessage[], limit: number, withMetadata: boolean): Record<string, unknown> {
    const page = list.slice(0, limit);
    const next = list[limit];
    return {
      messages: page.map((message) => this.messageJson(message, withMetadata)),
      has_more: next !== undefined,
      response_metadata: { next_cursor: next ? encodeCursor(next.ts) : '' },
    };
  }

  /** Top-level messages, newest first (thread replies are not in a channel's history). */
  private conversationsHistory(args: Record<string, unknown>): Record<string, unknown> {
    const channel = this.channelId(str(args, 'channel'));
    const { within, limit, cursor, withMetadata } = this.timeline(args, 100, 999);
    let list = (this.topLevel.get(channel) ?? []).filter(within).reverse();
    if (cursor !== undefined) list = list.filter((message) => (tsMicros(message.ts) as number) <= cursor);
    return { ...this.page(list, limit, withMetadata), pin_count: 0 };
  }

  /** A thread, parent first, then its replies oldest first; `ts` may name the parent or any reply. */
  private conversationsReplies(args: Record<string, unknown>): Record<string, unknown> {
    const channel = this.channelId(str(args, 'channel'));
    const ts = required(args, 'ts', 'thread_not_found');
    let parent = this.message(channel, ts);
    if (!parent) throw new SlackApiError('thread_not_found');
    if (parent.threadTs !== undefined) parent = this.message(channel, parent.threadTs) as StoredMessage;
    const { within, limit, cursor, withMetadata } = this.timeline(args, 1000, 1000);
    const thread = [parent, ...this.thread(channel, parent.ts).replies];
    let list = thread.filter(within);
    if (cursor !== undefined) list = list.filter((message) => (tsMicros(message.ts) as number) >= cursor);
    return this.page(list, limit, withMetadata);
  }

  private usersInfo(args: Record<string, unknown>): Record<string, unknown> {
    const user = this.users.get(required(args, 'user', 'user_not_found'));
    if (!user) throw new SlackApiError('user_not_found');
    return {
      user: {
        id: user.id,
        team_id: this.teamId,
        name: user.name,
        real_name: user.real_name ?? user.name,
        deleted: Boolean(user.deleted),
        is_admin: Boolean(user.is_admin),
        is_owner: Boolean(user.is_owner),
        is_bot: Boolean(user.is_bot),
        tz: user.tz ?? 'Etc/UTC',
        profile: { real_name: user.real_name ?? user.name, display_name: user.name },
      },
    };
  }

  private usergroupUsers(args: Record<string, unknown>): Record<string, unknown> {
    const members = this.usergroups.get(required(args, 'usergroup', 'no_such_subteam'));
    if (!members) throw new SlackApiError('no_such_subteam');
    return { users: [...members] };
  }

  private viewsOpen(args: Record<string, unknown>): Record<string, unknown> {
    const triggerId = required(args, 'trigger_id', 'invalid_trigger_id');
    const expires = this.triggers.get(triggerId);
    if (expires === undefined) throw new SlackApiError('invalid_trigger_id');
    if (this.now() > expires) throw new SlackApiError('expired_trigger_id');
    const view = args.view;
    const problems = validateView(view);
    if (problems.length > 0) {
      throw new SlackApiError('invalid_arguments', { response_metadata: { messages: problems.map((p) => `[ERROR] ${p}`) } });
    }
    this.triggers.delete(triggerId);
    const id = `V${randomBytes(5).toString('hex').toUpperCase()}`;
    const opened = { id, triggerId, view: view as Record<string, unknown>, at: this.now() };
    this.views.push(opened);
    return {
      view: {
        ...(view as Record<string, unknown>),
        id,
        team_id: this.teamId,
        state: { values: {} },
        hash: randomBytes(8).toString('hex'),
        root_view_id: id,
        bot_id: this.botId,
      },
    };
  }
}
