// Everything the bot says in Slack goes through here: one lane per channel. chat.postMessage is paced per
// channel by a token bucket (Slack: "It will generally allow an app to post 1 message per second to a
// specific channel … Generous burst behavior is also granted"): a short burst goes out back to back (a new
// incident's parent and its first reply), the sustained rate stays a little under one a second. A 429
// pauses only that channel's lane for its Retry-After and then sends the same message again. Nothing is
// dropped: a message leaves its lane only once Slack took it, or once Slack refused it for good (an error
// that retrying cannot fix), which is reported.
//
// Nothing is posted twice either. Every post carries message metadata with an id of its own; when a post
// fails without a clear answer (a timeout, a connection lost after the request went out, a 5xx, Slack's
// internal_error), Slack may have posted it all the same, so before sending it again the lane asks Slack
// (conversations.history, or conversations.replies for a thread reply, include_all_metadata) whether a
// message with that id is there; if it is, its ts is the answer and nothing is sent again.
//
// Edits of one message are coalesced: while an edit waits, a newer one replaces it (the latest wins),
// which is what a progress message wants under load.
import { randomUUID } from 'node:crypto';
import type { WebClient } from '@slack/web-api';
import type { FileAttachment } from './blocks.js';

export interface MessageContent {
  text: string;
  blocks?: readonly unknown[];
}

export interface OutboxMetrics {
  onCall?(method: string, outcome: 'ok' | 'rate_limited' | 'error'): void;
}

export interface SlackOutboxOptions {
  /**
   * Sustained chat.postMessage rate per channel, messages a second. Default 1/1.1 (one every 1.1 s, under
   * Slack's 1 a second); `Infinity` turns pacing off.
   */
  postsPerSecond?: number;
  /** Posts a channel may send back to back before the sustained rate applies. Default 2. */
  postBurst?: number;
  /** Older spelling of the sustained rate: one post every `postEveryMs` (0: no pacing). Ignored when `postsPerSecond` is given. */
  postEveryMs?: number;
  /** Calls per message before it is given up (429s and the checks whether a post landed included). Default 30. */
  maxAttempts?: number;
  /** Longest Retry-After honoured as given; longer ones are capped (and tried again). Default 120 s. */
  maxRetryAfterMs?: number;
  /** Pause before retrying a call that failed without a Retry-After (network, 5xx). Default 1 s. */
  errorBackoffMs?: number;
  /** How far before a post's first try the check for it looks (clock skew between us and Slack). Default 60 s. */
  verifyLookbackMs?: number;
  onError?(error: unknown, context: string): void;
  metrics?: OutboxMetrics;
}

/** Slack refused the call for good (e.g. invalid_blocks, channel_not_found), or it kept failing. */
export class SlackCallError extends Error {
  constructor(
    readonly method: string,
    readonly code: string,
    options?: { cause?: unknown },
  ) {
    super(`${method} failed: ${code}`, options);
    this.name = 'SlackCallError';
  }
}

/** The message metadata event type every post carries (its payload: `{ post_id }`). */
export const POST_EVENT_TYPE = 'oo_post';

interface PostState {
  channel: string;
  threadTs: string | undefined;
  /** Travels with every try of this message, so a check can recognise it. */
  postId: string;
  /** When the first try went out (ms); the check looks from a little before it. */
  firstTryAt: number | undefined;
  /** A try failed in a way that leaves open whether Slack posted it: check before sending again. */
  unsure: boolean;
}

interface Task {
  kind: 'post' | 'update' | 'upload';
  /** For updates: `${channel}/${ts}`, so a newer edit can replace a waiting one. */
  key?: string;
  run: () => Promise<unknown>;
  method: string;
  post?: PostState;
  resolvers: { resolve: (value: unknown) => void; reject: (error: unknown) => void }[];
  started: boolean;
}

interface Lane {
  tasks: Task[];
  running: boolean;
  /** chat.postMessage allowance: tokens left, and when they were last topped up. */
  tokens: number;
  refilledAt: number;
  /** No call to this channel before this time (a 429's Retry-After). */
  pausedUntil: number;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const errorCode = (error: unknown) => (error as { code?: string }).code;
const slackError = (error: unknown) => (error as { data?: { error?: string } }).data?.error;

// Slack's own words for these: "It's possible some aspect of the operation succeeded before the error was raised."
const UNSURE_SLACK_ERRORS = new Set(['internal_error', 'fatal_error', 'request_timeout', 'service_unavailable']);
const RETRY_SLACK_ERRORS = new Set(['ratelimited', ...UNSURE_SLACK_ERRORS]);
// Failures to connect at all: the request never left, so Slack cannot have it.
const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);

/** Errors that a later try can fix: rate limits, timeouts, network and Slack-side failures. */
function retryAfterMs(error: unknown, fallbackMs: number): number | undefined {
  const code = errorCode(error);
  if (code === 'slack_webapi_rate_limited_error') {
    const seconds = Number((error as { retryAfter?: number }).retryAfter);
    return Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : fallbackMs;
  }
  if (code === 'slack_webapi_request_error' || code === 'slack_webapi_http_error') return fallbackMs;
  if (code === 'slack_webapi_platform_error' && RETRY_SLACK_ERRORS.has(slackError(error) ?? '')) return fallbackMs;
  return undefined;
}

/** The error codes of an error and of everything it wraps (WebClient → fetch → the socket). */
function nestedCodes(error: unknown, depth = 0): string[] {
  if (!error || typeof error !== 'object' || depth > 5) return [];
  const { code, original, cause, errors } = error as { code?: unknown; original?: unknown; cause?: unknown; errors?: unknown };
  const codes = typeof code === 'string' ? [code] : [];
  for (const inner of [original, cause, ...(Array.isArray(errors) ? errors : [])]) codes.push(...nestedCodes(inner, depth + 1));
  return codes;
}

/**
 * Whether a failed chat.postMessage may have posted the message all the same: Slack got the request but
 * its answer was lost or late (timeout, connection closed after sending, a 5xx from a proxy, Slack's
 * internal_error). Not for 429s and Slack's definite refusals, and not when the connection never opened.
 */
export function mayHaveLanded(error: unknown): boolean {
  const code = errorCode(error);
  if (code === 'slack_webapi_http_error') return true;
  if (code === 'slack_webapi_platform_error') return UNSURE_SLACK_ERRORS.has(slackError(error) ?? '');
  if (code !== 'slack_webapi_request_error') return false;
  return !nestedCodes(error).some((inner) => NOT_SENT_CODES.has(inner));
}

interface HistoryPage {
  messages?: { ts?: string; metadata?: { event_type?: string; event_payload?: { post_id?: unknown } } }[];
  has_more?: boolean;
  response_metadata?: { next_cursor?: string };
}

/** Pages a check reads at most (200 messages each) before it concludes the post is not there. */
const VERIFY_PAGES = 5;

export class SlackOutbox {
  private readonly lanes = new Map<string, Lane>();
  private readonly postsPerSecond: number;
  private readonly postBurst: number;
  private readonly maxAttempts: number;
  private readonly maxRetryAfterMs: number;
  private readonly errorBackoffMs: number;
  private readonly verifyLookbackMs: number;
  private closed = false;
  private readonly idleWaiters = new Set<() => void>();

  constructor(
    readonly client: WebClient,
    private readonly options: SlackOutboxOptions = {},
  ) {
    const fromGap = options.postEveryMs === undefined ? 1 / 1.1 : options.postEveryMs > 0 ? 1000 / options.postEveryMs : Infinity;
    this.postsPerSecond = options.postsPerSecond ?? fromGap;
    this.postBurst = Math.max(1, options.postBurst ?? 2);
    if (!(this.postsPerSecond > 0)) throw new RangeError('SlackOutbox: postsPerSecond must be above 0');
    this.maxAttempts = options.maxAttempts ?? 30;
    this.maxRetryAfterMs = options.maxRetryAfterMs ?? 120_000;
    this.errorBackoffMs = options.errorBackoffMs ?? 1000;
    this.verifyLookbackMs = options.verifyLookbackMs ?? 60_000;
    // The client's own retries would send a post again behind the check's back.
    const retries = (client as unknown as { retryConfig?: { retries?: number } }).retryConfig?.retries;
    if (retries !== undefined && retries > 0) {
      options.onError?.(new Error(`the WebClient retries calls itself (retries: ${retries}); give the outbox one with retryConfig { retries: 0 }`), 'SlackOutbox');
    }
  }

  /**
   * Posts a message (a reply when threadTs is given); resolves with its ts once Slack has it. Posted once:
   * when a try fails without a clear answer, Slack is asked whether the message landed before it is sent again.
   */
  async post(channel: string, content: MessageContent, threadTs?: string): Promise<string> {
    const post: PostState = { channel, threadTs, postId: randomUUID(), firstTryAt: undefined, unsure: false };
    const result = (await this.enqueue(channel, {
      kind: 'post',
      method: 'chat.postMessage',
      post,
      run: () =>
        this.client.apiCall('chat.postMessage', {
          channel,
          text: content.text,
          ...(content.blocks ? { blocks: content.blocks } : {}),
          ...(threadTs ? { thread_ts: threadTs } : {}),
          unfurl_links: false,
          unfurl_media: false,
          metadata: { event_type: POST_EVENT_TYPE, event_payload: { post_id: post.postId } },
        }),
    })) as { ts?: string };
    if (typeof result.ts !== 'string') throw new SlackCallError('chat.postMessage', 'no ts in the answer');
    return result.ts;
  }

  /** Replaces a message's content; a newer update of the same message that arrives first wins. */
  async update(channel: string, ts: string, content: MessageContent): Promise<void> {
    await this.enqueue(channel, {
      kind: 'update',
      key: `${channel}/${ts}`,
      method: 'chat.update',
      run: () =>
        this.client.apiCall('chat.update', {
          channel,
          ts,
          text: content.text,
          blocks: content.blocks ?? [],
        }),
    });
  }

  /** Only `user` sees it; not paced (ephemeral messages do not count against the channel's rate). */
  async ephemeral(channel: string, user: string, content: MessageContent, threadTs?: string): Promise<void> {
    await this.call('chat.postEphemeral', () =>
      this.client.apiCall('chat.postEphemeral', {
        channel,
        user,
        text: content.text,
        ...(content.blocks ? { blocks: content.blocks } : {}),
        ...(threadTs ? { thread_ts: threadTs } : {}),
      }),
    );
  }

  /** Uploads each file into the thread (text that did not fit a message). */
  async upload(channel: string, threadTs: string, files: readonly FileAttachment[]): Promise<void> {
    for (const file of files) {
      await this.enqueue(channel, {
        kind: 'upload',
        method: 'files.uploadV2',
        run: () =>
          this.client.filesUploadV2({
            channel_id: channel,
            thread_ts: threadTs,
            filename: file.filename,
            title: file.filename,
            content: file.content,
          }),
      });
    }
  }

  /** Resolves once every lane is empty (tests, graceful shutdown); bounded by `timeoutMs`. */
  async idle(timeoutMs = 30_000): Promise<boolean> {
    if (this.pending() === 0) return true;
    return new Promise<boolean>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.idleWaiters.delete(done);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.idleWaiters.delete(done);
        resolve(false);
      }, timeoutMs);
      this.idleWaiters.add(done);
    });
  }

  /** Calls waiting or running, all channels. */
  pending(): number {
    let count = 0;
    for (const lane of this.lanes.values()) count += lane.tasks.length;
    return count;
  }

  /** Refuses new calls; waits (bounded) for the queued ones. */
  async close(timeoutMs = 10_000): Promise<void> {
    await this.idle(timeoutMs);
    this.closed = true;
  }

  private newLane(): Lane {
    return { tasks: [], running: false, tokens: this.postBurst, refilledAt: Date.now(), pausedUntil: 0 };
  }

  private lane(channel: string): Lane {
    let lane = this.lanes.get(channel);
    if (!lane) {
      lane = this.newLane();
      this.lanes.set(channel, lane);
    }
    return lane;
  }

  private enqueue(channel: string, spec: Omit<Task, 'resolvers' | 'started'>): Promise<unknown> {
    if (this.closed) return Promise.reject(new Error('the Slack outbox is closed'));
    const lane = this.lane(channel);
    return new Promise((resolve, reject) => {
      if (spec.key !== undefined) {
        const waiting = lane.tasks.find((task) => task.key === spec.key && !task.started);
        if (waiting) {
          waiting.run = spec.run;
          waiting.resolvers.push({ resolve, reject });
          return;
        }
      }
      lane.tasks.push({ ...spec, resolvers: [{ resolve, reject }], started: false });
      if (!lane.running) void this.drain(channel, lane);
    });
  }

  private async drain(channel: string, lane: Lane): Promise<void> {
    lane.running = true;
    try {
      while (lane.tasks.length > 0) {
        const task = lane.tasks[0]!;
        task.started = true;
        try {
          const result = await this.runTask(lane, task);
          for (const { resolve } of task.resolvers) resolve(result);
        } catch (error) {
          this.options.onError?.(error, `${task.method} to ${channel}`);
          for (const { reject } of task.resolvers) reject(error);
        }
        lane.tasks.shift();
      }
    } finally {
      lane.running = false;
      if (this.pending() === 0) for (const waiter of [...this.idleWaiters]) waiter();
    }
  }

  /** Tops up the lane's chat.postMessage allowance; how long until one post may go (0: now). */
  private postWait(lane: Lane, now: number): number {
    if (!Number.isFinite(this.postsPerSecond)) return 0;
    if (now > lane.refilledAt) {
      lane.tokens = Math.min(this.postBurst, lane.tokens + ((now - lane.refilledAt) / 1000) * this.postsPerSecond);
      lane.refilledAt = now;
    }
    return lane.tokens >= 1 ? 0 : Math.ceil(((1 - lane.tokens) / this.postsPerSecond) * 1000);
  }

  /** Waits for the lane's pause and, for a post, for a token, which it takes. */
  private async waitTurn(lane: Lane, isPost: boolean): Promise<void> {
    for (;;) {
      const now = Date.now();
      const wait = Math.max(lane.pausedUntil - now, isPost ? this.postWait(lane, now) : 0);
      if (wait <= 0) break;
      await sleep(wait);
    }
    if (isPost && Number.isFinite(this.postsPerSecond)) lane.tokens -= 1;
  }

  private async runTask(lane: Lane, task: Task): Promise<unknown> {
    const post = task.post;
    for (let attempt = 1; ; attempt++) {
      const checking = post?.unsure === true;
      const method = checking ? (post.threadTs ? 'conversations.replies' : 'conversations.history') : task.method;
      const sending = task.kind === 'post' && !checking;
      await this.waitTurn(lane, sending);
      if (sending && post && post.firstTryAt === undefined) post.firstTryAt = Date.now();
      try {
        if (checking) {
          const ts = await this.findPost(post);
          this.options.metrics?.onCall?.(method, 'ok');
          if (ts !== undefined) return { ok: true, channel: post.channel, ts };
          post.unsure = false; // Slack does not have it: send it again
          continue;
        }
        const result = await task.run();
        this.options.metrics?.onCall?.(method, 'ok');
        return result;
      } catch (error) {
        const retryIn = retryAfterMs(error, this.errorBackoffMs);
        const limited = errorCode(error) === 'slack_webapi_rate_limited_error';
        this.options.metrics?.onCall?.(method, limited ? 'rate_limited' : 'error');
        if (retryIn === undefined) {
          const code = slackError(error) ?? (error as Error).message;
          if (checking) {
            // The check itself is refused (e.g. missing_scope): Slack cannot tell, so send again as before
            // the check existed. Said loudly: the message may now appear twice.
            this.options.onError?.(new SlackCallError(method, code, { cause: error }), `checking whether a post to ${post.channel} landed; sending it again`);
            post.unsure = false;
            continue;
          }
          throw new SlackCallError(task.method, code, { cause: error });
        }
        if (sending && post && mayHaveLanded(error)) post.unsure = true;
        if (attempt >= this.maxAttempts) {
          const outcome = post?.unsure ? ' (Slack may have posted it; not sent again)' : '';
          throw new SlackCallError(task.method, `still failing after ${attempt} tries${outcome}: ${(error as Error).message}`, { cause: error });
        }
        // The pause holds the whole lane: Slack's limit is per channel, not per message.
        lane.pausedUntil = Date.now() + Math.min(retryIn, this.maxRetryAfterMs);
        if (limited && sending) {
          // Slack counted more than we did: after the pause, one post, then the sustained rate.
          lane.tokens = 1;
          lane.refilledAt = Math.max(lane.refilledAt, lane.pausedUntil);
        }
      } finally {
        // Nothing accrues while a post is out: Slack may count it as late as its answer.
        if (sending) lane.refilledAt = Math.max(lane.refilledAt, Date.now());
      }
    }
  }

  /** Looks for the post's id in the channel (or its thread) from a little before its first try. */
  private async findPost(post: PostState): Promise<string | undefined> {
    const oldest = (((post.firstTryAt ?? Date.now()) - this.verifyLookbackMs) / 1000).toFixed(6);
    let cursor: string | undefined;
    for (let page = 0; page < VERIFY_PAGES; page++) {
      const args = {
        channel: post.channel,
        ...(post.threadTs ? { ts: post.threadTs } : {}),
        oldest,
        inclusive: true,
        include_all_metadata: true,
        limit: 200,
        ...(cursor ? { cursor } : {}),
      };
      const answer = (await this.client.apiCall(post.threadTs ? 'conversations.replies' : 'conversations.history', args)) as HistoryPage;
      const found = (answer.messages ?? []).find(
        (message) => message.metadata?.event_type === POST_EVENT_TYPE && message.metadata.event_payload?.post_id === post.postId,
      );
      if (found?.ts) return found.ts;
      cursor = answer.response_metadata?.next_cursor;
      if (!answer.has_more || !cursor) return undefined;
    }
    return undefined;
  }

  /** A call outside any lane (ephemeral messages), still retried on 429 and passing faults. */
  private async call(method: string, run: () => Promise<unknown>): Promise<unknown> {
    const lane = this.newLane();
    lane.running = true;
    return this.runTask(lane, { kind: 'update', method, run, resolvers: [], started: true });
  }
}
