// Everything the bot says in Slack goes through here: one lane per channel, so chat.postMessage keeps to
// about one message a second per channel, and a 429 pauses only that channel's lane for its Retry-After
// and then sends the same message again. Nothing is dropped: a message leaves its lane only once Slack
// took it, or once Slack refused it for good (an error that retrying cannot fix), which is reported.
// Edits of one message are coalesced: while an edit waits, a newer one replaces it (the latest wins),
// which is what a progress message wants under load.
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
  /** Least time between two chat.postMessage calls to one channel. Default 1100 ms. */
  postEveryMs?: number;
  /** Tries per call before it is given up (429s included). Default 30. */
  maxAttempts?: number;
  /** Longest Retry-After honoured as given; longer ones are capped (and tried again). Default 120 s. */
  maxRetryAfterMs?: number;
  /** Pause before retrying a call that failed without a Retry-After (network, 5xx). Default 1 s. */
  errorBackoffMs?: number;
  onError?(error: unknown, context: string): void;
  metrics?: OutboxMetrics;
}

/** Slack refused the call for good (e.g. invalid_blocks, channel_not_found). */
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

interface Task {
  kind: 'post' | 'update' | 'upload';
  /** For updates: `${channel}/${ts}`, so a newer edit can replace a waiting one. */
  key?: string;
  run: () => Promise<unknown>;
  method: string;
  resolvers: { resolve: (value: unknown) => void; reject: (error: unknown) => void }[];
  started: boolean;
}

interface Lane {
  tasks: Task[];
  running: boolean;
  lastPostAt: number;
  /** No call to this channel before this time (a 429's Retry-After). */
  pausedUntil: number;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Errors that a later try can fix: rate limits, timeouts, network and Slack-side failures. */
function retryAfterMs(error: unknown, fallbackMs: number): number | undefined {
  const code = (error as { code?: string }).code;
  if (code === 'slack_webapi_rate_limited_error') {
    const seconds = Number((error as { retryAfter?: number }).retryAfter);
    return Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : fallbackMs;
  }
  if (code === 'slack_webapi_request_error' || code === 'slack_webapi_http_error') return fallbackMs;
  if (code === 'slack_webapi_platform_error') {
    const slackError = (error as { data?: { error?: string } }).data?.error;
    if (slackError === 'ratelimited' || slackError === 'internal_error' || slackError === 'fatal_error' || slackError === 'service_unavailable') {
      return fallbackMs;
    }
  }
  return undefined;
}

export class SlackOutbox {
  private readonly lanes = new Map<string, Lane>();
  private readonly postEveryMs: number;
  private readonly maxAttempts: number;
  private readonly maxRetryAfterMs: number;
  private readonly errorBackoffMs: number;
  private closed = false;
  private readonly idleWaiters = new Set<() => void>();

  constructor(
    readonly client: WebClient,
    private readonly options: SlackOutboxOptions = {},
  ) {
    this.postEveryMs = options.postEveryMs ?? 1100;
    this.maxAttempts = options.maxAttempts ?? 30;
    this.maxRetryAfterMs = options.maxRetryAfterMs ?? 120_000;
    this.errorBackoffMs = options.errorBackoffMs ?? 1000;
  }

  /** Posts a message (a reply when threadTs is given); resolves with its ts once Slack has it. */
  async post(channel: string, content: MessageContent, threadTs?: string): Promise<string> {
    const result = (await this.enqueue(channel, {
      kind: 'post',
      method: 'chat.postMessage',
      run: () =>
        this.client.apiCall('chat.postMessage', {
          channel,
          text: content.text,
          ...(content.blocks ? { blocks: content.blocks } : {}),
          ...(threadTs ? { thread_ts: threadTs } : {}),
          unfurl_links: false,
          unfurl_media: false,
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

  private lane(channel: string): Lane {
    let lane = this.lanes.get(channel);
    if (!lane) {
      lane = { tasks: [], running: false, lastPostAt: 0, pausedUntil: 0 };
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

  private async runTask(lane: Lane, task: Task): Promise<unknown> {
    for (let attempt = 1; ; attempt++) {
      const now = Date.now();
      let wait = Math.max(0, lane.pausedUntil - now);
      if (task.kind === 'post') wait = Math.max(wait, lane.lastPostAt + this.postEveryMs - now);
      if (wait > 0) await sleep(wait);
      try {
        const result = await task.run();
        this.options.metrics?.onCall?.(task.method, 'ok');
        return result;
      } catch (error) {
        const retryIn = retryAfterMs(error, this.errorBackoffMs);
        const limited = (error as { code?: string }).code === 'slack_webapi_rate_limited_error';
        this.options.metrics?.onCall?.(task.method, limited ? 'rate_limited' : 'error');
        if (retryIn === undefined) {
          const code = (error as { data?: { error?: string } }).data?.error ?? (error as Error).message;
          throw new SlackCallError(task.method, code, { cause: error });
        }
        if (attempt >= this.maxAttempts) {
          throw new SlackCallError(task.method, `still failing after ${attempt} tries: ${(error as Error).message}`, { cause: error });
        }
        // The pause holds the whole lane: Slack's limit is per channel, not per message.
        lane.pausedUntil = Date.now() + Math.min(retryIn, this.maxRetryAfterMs);
      } finally {
        // Paced from when Slack answered: a slow request must not make the next one arrive early.
        if (task.kind === 'post') lane.lastPostAt = Date.now();
      }
    }
  }

  /** A call outside any lane (ephemeral messages), still retried on 429 and passing faults. */
  private async call(method: string, run: () => Promise<unknown>): Promise<unknown> {
    const lane: Lane = { tasks: [], running: true, lastPostAt: 0, pausedUntil: 0 };
    return this.runTask(lane, { kind: 'update', method, run, resolvers: [], started: true });
  }
}
