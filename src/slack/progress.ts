// A message edited as work goes on, no more often than `everyMs` (Slack rate-limits chat.update, and a
// reader cannot follow faster anyway). Intermediate states may be skipped; the last one never is.
import type { MessageContent, SlackOutbox } from './outbox.js';

export class ThrottledMessage {
  private lastSentAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private latest: MessageContent | undefined;
  private finished = false;
  private sending: Promise<void> = Promise.resolve();

  constructor(
    private readonly outbox: Pick<SlackOutbox, 'update'>,
    readonly channel: string,
    readonly ts: string,
    private readonly everyMs: number,
    private readonly onError: (error: unknown) => void = () => undefined,
  ) {}

  /** Shows `content` now, or at the end of the current interval (only the newest content then). */
  set(content: MessageContent): void {
    if (this.finished) return;
    this.latest = content;
    if (this.timer) return;
    const due = this.lastSentAt + this.everyMs - Date.now();
    if (due <= 0) this.flush();
    else {
      this.timer = setTimeout(() => this.flush(), due);
      this.timer.unref();
    }
  }

  /** Shows the final content at once; later set() calls are ignored. Resolves once Slack has it. */
  async finish(content: MessageContent): Promise<void> {
    this.finished = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.latest = content;
    this.flush();
    await this.sending;
  }

  private flush(): void {
    this.timer = undefined;
    const content = this.latest;
    if (!content) return;
    this.latest = undefined;
    this.lastSentAt = Date.now();
    this.sending = this.sending.then(() => this.outbox.update(this.channel, this.ts, content).catch(this.onError));
  }
}

/**
 * A progress message that appears only if the work outlasts `afterMs`. Quick work goes straight to its
 * result: the channel's message budget (about one a second) is kept for the findings, which then arrive
 * as the thread's first reply instead of waiting behind a status message nobody had time to read.
 */
export class DeferredProgress {
  private timer: NodeJS.Timeout | undefined;
  private latest: MessageContent;
  private finished = false;
  private message: Promise<ThrottledMessage | undefined> | undefined;

  constructor(
    private readonly outbox: Pick<SlackOutbox, 'post' | 'update'>,
    private readonly where: { channel: string; threadTs: string },
    initial: MessageContent,
    private readonly options: { afterMs: number; everyMs: number; onError?: (error: unknown) => void },
  ) {
    this.latest = initial;
    if (options.afterMs <= 0) this.show();
    else {
      this.timer = setTimeout(() => this.show(), options.afterMs);
      this.timer.unref();
    }
  }

  /** Newest progress: shown if the message is up (throttled), remembered for when it appears. */
  set(content: MessageContent): void {
    if (this.finished) return;
    this.latest = content;
    void this.message?.then((message) => message?.set(content));
  }

  /** The work ended: the message, if it was shown, gets its final content; otherwise nothing is posted. */
  async finish(content: MessageContent): Promise<void> {
    this.finished = true;
    clearTimeout(this.timer);
    const message = await this.message;
    await message?.finish(content);
  }

  /** Whether the progress message was (or is being) posted. */
  get shown(): boolean {
    return this.message !== undefined;
  }

  private show(): void {
    this.timer = undefined;
    if (this.finished || this.message) return;
    const { channel, threadTs } = this.where;
    const onError = this.options.onError ?? (() => undefined);
    this.message = this.outbox.post(channel, this.latest, threadTs).then(
      (ts) => {
        const message = new ThrottledMessage(this.outbox, channel, ts, this.options.everyMs, onError);
        // Progress that arrived while the post was on its way.
        if (!this.finished) message.set(this.latest);
        return message;
      },
      (error: unknown) => {
        onError(error);
        return undefined;
      },
    );
  }
}
