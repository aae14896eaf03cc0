// A per-host readers-writer lock in Redis. A remediation holds it exclusively (SET NX PX with a random
// token); diagnoses hold it shared (a sorted set of tokens scored by expiry), because two read-only
// diagnoses may run side by side while nothing may run beside a remediation. Holders renew their lease
// while they work, so a crashed holder frees the host after one TTL; only the token's owner can renew
// or release (compare-and-delete in Lua). Expiry uses the Redis server's clock, the one clock every
// replica shares.
import { randomBytes } from 'node:crypto';
import { assertHost, type Keyspace } from './keys.js';
import { runScript, sleep, type RedisClient } from './redis.js';

export type HostLockMode = 'exclusive' | 'shared';

const NOW = `local t = redis.call('TIME') local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

// Keeps the readers key alive exactly as long as its longest-lived reader.
const EXPIRE_READERS = `
local last = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
if last[2] then redis.call('PEXPIREAT', KEYS[2], math.ceil(tonumber(last[2]))) end`;

const ACQUIRE_EXCLUSIVE = `${NOW}
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if redis.call('ZCARD', KEYS[2]) > 0 then return 0 end
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
return 0`;

const ACQUIRE_SHARED = `${NOW}
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), ARGV[1])
${EXPIRE_READERS}
return 1`;

const RENEW_EXCLUSIVE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`;

const RENEW_SHARED = `${NOW}
local score = redis.call('ZSCORE', KEYS[2], ARGV[1])
if not score or tonumber(score) <= now then
  redis.call('ZREM', KEYS[2], ARGV[1])
  return 0
end
redis.call('ZADD', KEYS[2], 'XX', now + tonumber(ARGV[2]), ARGV[1])
${EXPIRE_READERS}
return 1`;

const RELEASE_EXCLUSIVE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

const RELEASE_SHARED = `return redis.call('ZREM', KEYS[2], ARGV[1])`;

export interface HostLockOptions {
  /** Lease length; a holder that stops renewing (crashed) frees the host after this long. Default 30 s. */
  ttlMs?: number;
  /** How often a holder renews its lease. Default a third of the TTL. */
  renewEveryMs?: number;
  /** How often a waiting acquirer tries again. Default 250 ms. */
  pollMs?: number;
  /** Called when a renewal finds the lease gone (another process may now hold the host). */
  onLost?: (lock: HeldHostLock) => void;
  onError?: (error: unknown, context: string) => void;
}

export interface HeldHostLock {
  readonly host: string;
  readonly mode: HostLockMode;
  readonly token: string;
  /** True once a renewal found the lease gone. */
  readonly lost: boolean;
  /** Stops renewing and frees the host if this holder still owns it; true when it did. */
  release(): Promise<boolean>;
}

export interface HostLockState {
  /** The exclusive holder's token (its owner label comes first), or null. */
  exclusive: string | null;
  /** Live shared holders' tokens. */
  shared: string[];
}

export class HostLock {
  private readonly ttlMs: number;
  private readonly renewEveryMs: number;
  private readonly pollMs: number;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keyspace,
    private readonly options: HostLockOptions = {},
  ) {
    this.ttlMs = options.ttlMs ?? 30_000;
    if (!Number.isInteger(this.ttlMs) || this.ttlMs < 100) throw new Error('host lock ttlMs must be an integer >= 100');
    this.renewEveryMs = options.renewEveryMs ?? Math.max(50, Math.floor(this.ttlMs / 3));
    if (this.renewEveryMs >= this.ttlMs) throw new Error('host lock renewEveryMs must be shorter than ttlMs');
    this.pollMs = options.pollMs ?? 250;
  }

  private keysFor(host: string): string[] {
    return [this.keys.hostLock(host), this.keys.hostReaders(host)];
  }

  /** One attempt; null when the host is busy in a way that excludes `mode`. */
  async tryAcquire(host: string, mode: HostLockMode, owner = 'oo'): Promise<HeldHostLock | null> {
    assertHost(host);
    const token = `${owner.replace(/[^A-Za-z0-9_.:-]/g, '_').slice(0, 80)}|${randomBytes(12).toString('hex')}`;
    const script = mode === 'exclusive' ? ACQUIRE_EXCLUSIVE : ACQUIRE_SHARED;
    const got = await runScript(this.redis, script, this.keysFor(host), [token, this.ttlMs]);
    return Number(got) === 1 ? this.held(host, mode, token) : null;
  }

  /**
   * Tries until the host is free for `mode` or `waitMs` has passed (then null). `signal` aborts the
   * wait early (also null).
   */
  async acquire(
    host: string,
    mode: HostLockMode,
    options: { waitMs: number; owner?: string; signal?: AbortSignal },
  ): Promise<HeldHostLock | null> {
    const deadline = Date.now() + Math.max(0, options.waitMs);
    const maxTries = Math.ceil(Math.max(0, options.waitMs) / Math.max(1, this.pollMs)) + 1;
    for (let attempt = 0; attempt < maxTries; attempt++) {
      const lock = await this.tryAcquire(host, mode, options.owner);
      if (lock) return lock;
      const left = deadline - Date.now();
      if (left <= 0 || options.signal?.aborted) return null;
      await sleep(Math.min(this.pollMs, left));
    }
    return null;
  }

  async state(host: string): Promise<HostLockState> {
    const [lockKey, readersKey] = this.keysFor(host) as [string, string];
    const time = await this.redis.time();
    const now = Number(time[0]) * 1000 + Math.floor(Number(time[1]) / 1000);
    const [exclusive, shared] = await Promise.all([
      this.redis.get(lockKey),
      this.redis.zrangebyscore(readersKey, `(${now}`, '+inf'),
    ]);
    return { exclusive, shared };
  }

  private held(host: string, mode: HostLockMode, token: string): HeldHostLock {
    const keys = this.keysFor(host);
    const renewScript = mode === 'exclusive' ? RENEW_EXCLUSIVE : RENEW_SHARED;
    const releaseScript = mode === 'exclusive' ? RELEASE_EXCLUSIVE : RELEASE_SHARED;
    let lost = false;
    let released = false;
    const lock: HeldHostLock = {
      host,
      mode,
      token,
      get lost() {
        return lost;
      },
      release: async () => {
        if (released) return false;
        released = true;
        clearInterval(timer);
        return Number(await runScript(this.redis, releaseScript, keys, [token])) === 1;
      },
    };
    const timer = setInterval(() => {
      if (released || lost) return;
      runScript(this.redis, renewScript, keys, [token, this.ttlMs]).then(
        (renewed) => {
          if (Number(renewed) !== 1 && !released) {
            lost = true;
            clearInterval(timer);
            this.options.onLost?.(lock);
          }
        },
        // A failed renewal is retried on the next tick; the lease outlives a few misses.
        (error: unknown) => this.options.onError?.(error, `renewing the ${mode} lock on ${host}`),
      );
    }, this.renewEveryMs);
    timer.unref();
    return lock;
  }
}
