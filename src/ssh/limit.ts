/**
 * Small concurrency helpers. Hand-written rather than p-limit because the per-connection queue must
 * lower its limit when a server refuses channels and must fail its waiters when the connection dies,
 * which p-limit does not offer.
 */

/** A FIFO counting semaphore whose waiters can all be rejected at once (the connection closed). */
export class Semaphore {
  private active = 0;
  private readonly waiters: { resolve: () => void; reject: (error: Error) => void }[] = [];
  private failure: Error | null = null;

  constructor(private limitValue: number) {
    if (!Number.isInteger(limitValue) || limitValue < 1) throw new Error(`concurrency limit ${limitValue} must be a positive integer`);
  }

  get limit(): number {
    return this.limitValue;
  }

  get inUse(): number {
    return this.active;
  }

  get waiting(): number {
    return this.waiters.length;
  }

  /** Lowers (or raises) the limit; running holders keep their slots. */
  setLimit(limit: number): void {
    this.limitValue = Math.max(1, Math.floor(limit));
    this.drain();
  }

  acquire(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.active < this.limitValue) {
      this.active += 1;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  release(): void {
    if (this.active === 0) throw new Error('Semaphore.release() without a matching acquire()');
    this.active -= 1;
    this.drain();
  }

  /** Rejects every waiter and every later acquire with `error`. */
  fail(error: Error): void {
    this.failure = error;
    for (const waiter of this.waiters.splice(0)) waiter.reject(error);
  }

  private drain(): void {
    while (this.active < this.limitValue && this.waiters.length > 0) {
      const next = this.waiters.shift();
      if (!next) break;
      this.active += 1;
      next.resolve();
    }
  }
}

/**
 * Maps `fn` over `items` with at most `limit` calls in flight; results keep the input order.
 * The first rejection rejects the whole map and no new items start after it. Callers that want
 * per-item failures (one host down must not hide the others) catch inside `fn`.
 */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  if (!Number.isInteger(limit) || limit < 1) throw new Error(`mapLimit limit ${limit} must be a positive integer`);
  const results = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (!failed && next < items.length) {
      const index = next;
      next += 1;
      try {
        results[index] = await fn(items[index] as T, index);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
