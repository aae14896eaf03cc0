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
