// Shared by the queue and remediation-state tests: a real redis-server per test file, and bounded waits.
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Finding } from '../../../src/diagnosis/types.js';
import type { CreateActionInput } from '../../../src/remediation/actions.js';
import type { RemediationOutcome } from '../../../src/remediation/execute.js';
import { startRedisServer, type TestRedisServer } from '../../../src/testing/redis-server.js';

export { startRedisServer, type TestRedisServer };

/** A fresh key prefix per test, so tests sharing one server never see each other's keys. */
export function testPrefix(): string {
  return `t${randomBytes(4).toString('hex')}`;
}

export function plainClient(server: TestRedisServer): Redis {
  return new Redis(server.url, { maxRetriesPerRequest: null, connectionName: 'oo-test' });
}

/** Polls until `check` returns a truthy value; fails naming `what` after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => T | Promise<T>,
  { timeoutMs = 10_000, intervalMs = 50 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  const maxPolls = Math.ceil(timeoutMs / intervalMs) + 1;
  let last: T | undefined;
  for (let poll = 0; poll < maxPolls; poll++) {
    last = await check();
    if (last) return last as NonNullable<T>;
    if (Date.now() >= deadline) break;
    await sleep(intervalMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${JSON.stringify(last)})`);
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export function healthyFinding(host: string): Finding {
  return { host, verdict: 'healthy', causes: [], steps: [] };
}

export function verifiedOutcome(host: string, remediation = 'restart_docservice'): RemediationOutcome {
  const now = new Date().toISOString();
  return { remediation, host, status: 'verified', rolledBack: false, steps: [], remaining: [], startedAt: now, finishedAt: now };
}

/** An action id as PendingActionStore makes them (16 random bytes, base64url). */
export function newActionId(): string {
  return randomBytes(16).toString('base64url');
}

/** A pending "Restart docservice" action, as a findings message offers it. */
export function restartAction(fields: Pick<CreateActionInput, 'incidentKey' | 'host' | 'channel' | 'requestedBy' | 'ttlMs'>): CreateActionInput {
  return { ...fields, remediationId: 'restart_docservice', title: 'Restart docservice', risk: 'medium', command: 'supervisorctl restart ds:docservice' };
}
