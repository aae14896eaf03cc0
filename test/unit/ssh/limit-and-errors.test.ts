import { describe, expect, it } from 'vitest';
import { SshError, reasonForSsh2Error } from '../../../src/ssh/errors.js';
import { Semaphore, mapLimit } from '../../../src/ssh/limit.js';

const tick = () => new Promise((resolve) => setTimeout(resolve, 1));

describe('Semaphore', () => {
  it('admits up to the limit and hands slots over in order', async () => {
    const semaphore = new Semaphore(2);
    const order: number[] = [];
    await semaphore.acquire();
    await semaphore.acquire();
    const third = semaphore.acquire().then(() => order.push(3));
    const fourth = semaphore.acquire().then(() => order.push(4));
    await tick();
    expect(order).toEqual([]);
    expect(semaphore.waiting).toBe(2);
    semaphore.release();
    await third;
    expect(order).toEqual([3]);
    semaphore.release();
    await fourth;
    expect(order).toEqual([3, 4]);
    expect(semaphore.inUse).toBe(2);
  });

  it('lowers its limit without taking slots back', async () => {
    const semaphore = new Semaphore(3);
    await Promise.all([semaphore.acquire(), semaphore.acquire(), semaphore.acquire()]);
    semaphore.setLimit(1);
    let admitted = false;
    const waiter = semaphore.acquire().then(() => (admitted = true));
    semaphore.release();
    semaphore.release();
    await tick();
    expect(admitted).toBe(false);
    semaphore.release();
    await waiter;
    expect(admitted).toBe(true);
  });

  it('fails waiters and later acquires once failed', async () => {
    const semaphore = new Semaphore(1);
    await semaphore.acquire();
    const waiter = semaphore.acquire();
    const error = new Error('connection closed');
    semaphore.fail(error);
    await expect(waiter).rejects.toBe(error);
    await expect(semaphore.acquire()).rejects.toBe(error);
  });

  it('rejects a limit below 1', () => {
    expect(() => new Semaphore(0)).toThrow(/positive integer/);
  });
});

describe('mapLimit', () => {
  it('keeps input order and never exceeds the limit', async () => {
    let running = 0;
    let peak = 0;
    const results = await mapLimit([5, 1, 4, 2, 3, 0, 6], 3, async (delay, index) => {
      running += 1;
      peak = Math.max(peak, running);
      await new Promise((resolve) => setTimeout(resolve, delay * 3));
      running -= 1;
      return index * 10;
    });
    expect(results).toEqual([0, 10, 20, 30, 40, 50, 60]);
    expect(peak).toBe(3);
  });

  it('rejects with the first error and starts nothing after it', async () => {
    const started: number[] = [];
    await expect(
      mapLimit([0, 1, 2, 3, 4], 1, async (item) => {
        started.push(item);
        if (item === 1) throw new Error('boom');
        return item;
      }),
    ).rejects.toThrow('boom');
    expect(started).toEqual([0, 1]);
  });

  it('handles an empty list', async () => {
    expect(await mapLimit([], 4, async () => 1)).toEqual([]);
  });
});

describe('reasonForSsh2Error', () => {
  const tagged = (level: string, code?: string) => Object.assign(new Error('x'), { level, code });
  it.each([
    [tagged('client-socket', 'ECONNREFUSED'), 'refused'],
    [tagged('client-socket', 'ENOTFOUND'), 'dns'],
    [tagged('client-socket', 'EHOSTUNREACH'), 'unreachable'],
    [tagged('client-socket', 'ETIMEDOUT'), 'timeout'],
    [tagged('client-socket', 'ECONNRESET'), 'closed'],
    [tagged('client-timeout'), 'timeout'],
    [tagged('client-authentication'), 'auth'],
    [tagged('agent'), 'auth'],
    [tagged('client-dns'), 'dns'],
    [tagged('protocol'), 'closed'],
  ] as const)('%o → %s', (error, reason) => {
    expect(reasonForSsh2Error(error)).toBe(reason);
  });

  it('SshError carries reason and host', () => {
    const error = new SshError('refused', 'docs-1', 'nope');
    expect(error).toBeInstanceOf(Error);
    expect([error.name, error.reason, error.host, error.message]).toEqual(['SshError', 'refused', 'docs-1', 'nope']);
  });
});
