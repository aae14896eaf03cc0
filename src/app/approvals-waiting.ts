// Reads, at scrape time, how many offered remediations are still waiting for approval and how old the
// oldest is. Pending actions are hashes with a TTL and no index (an index would need its own expiry
// bookkeeping), so this walks their keys with SCAN: bounded in rounds and keys, so a scrape stays cheap
// even if Redis holds far more actions than any real channel would. SCAN walks one node: on a Redis
// Cluster every master is walked (the keys share the prefix's hash tag, so one of them holds them all).
import { keyHoldingNodes, type RedisClient } from '../queue/redis.js';

export interface ApprovalsWaiting {
  count: number;
  /** Age of the oldest waiting action, 0 when none waits. */
  oldestAgeMs: number;
  /** True when the bounds stopped the walk before SCAN finished (the numbers are then a lower bound). */
  truncated: boolean;
}

/** Escapes Redis glob characters so a prefix is matched literally. */
export function globLiteral(text: string): string {
  return text.replace(/[*?[\]\\]/g, (char) => `\\${char}`);
}

export async function approvalsWaiting(
  redis: RedisClient,
  actionKeyPrefix: string,
  options: { now?: number; maxRounds?: number; maxKeys?: number } = {},
): Promise<ApprovalsWaiting> {
  const now = options.now ?? Date.now();
  const maxRounds = options.maxRounds ?? 200;
  const maxKeys = options.maxKeys ?? 20_000;
  let rounds = 0;
  let seen = 0;
  let count = 0;
  let oldestAgeMs = 0;
  let truncated = false;
  for (const node of keyHoldingNodes(redis)) {
    let cursor = '0';
    let done = false;
    while (!done && rounds < maxRounds && seen < maxKeys) {
      const [next, keys] = await node.scan(cursor, 'MATCH', `${globLiteral(actionKeyPrefix)}*`, 'COUNT', 500);
      cursor = next;
      done = next === '0';
      rounds += 1;
      seen += keys.length;
      if (keys.length === 0) continue;
      // Through the client, not the node: a Cluster client follows a slot that moved meanwhile.
      const pipeline = redis.pipeline();
      for (const key of keys) pipeline.hmget(key, 'status', 'createdAt', 'expiresAt');
      for (const [error, value] of (await pipeline.exec()) ?? []) {
        if (error) continue;
        const [status, createdAt, expiresAt] = value as (string | null)[];
        // A high-risk action with one of its two approvals stays `pending`; `approved` is already queued.
        if (status !== 'pending' || Number(expiresAt) <= now) continue;
        count += 1;
        oldestAgeMs = Math.max(oldestAgeMs, now - Number(createdAt));
      }
    }
    if (!done) truncated = true;
  }
  return { count, oldestAgeMs, truncated };
}
