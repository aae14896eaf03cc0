// The real service (startHarness: real redis-server, the Slack stand-in, signed requests) with an
// inventory of hosts nobody answers for: any diagnosis that did start would end quickly as
// "unreachable", and every one that starts is a BullMQ job, so counting jobs counts SSH attempts.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import { alertStreamKey } from '../../src/app/alerts.js';
import { freeLoopbackPort } from '../../src/testing/redis-server.js';
import { startHarness, type Harness, type HarnessOptions } from '../e2e/slack/harness.js';

const KEY = readFileSync(path.join(import.meta.dirname, '../unit/ssh/fixtures/ed25519.pub'), 'utf8').trim();

export async function startUnreachableService(names: string[], options: Omit<HarnessOptions, 'hosts'> = {}): Promise<Harness> {
  const port = await freeLoopbackPort();
  const host = { address: '127.0.0.1', port, user: 'ops', hostKey: KEY, processManager: 'supervisor' };
  return startHarness({ hosts: Object.fromEntries(names.map((name) => [name, host])), ...options });
}

/** Every diagnosis and remediation job ever queued, in any state. */
export async function jobCounts(harness: Harness): Promise<{ diagnosis: number; remediation: number }> {
  const states = ['waiting', 'active', 'delayed', 'completed', 'failed', 'prioritized', 'waiting-children'] as const;
  const sum = (counts: Record<string, number>) => Object.values(counts).reduce((total, n) => total + n, 0);
  return {
    diagnosis: sum(await harness.service.queues.diagnosis.getJobCounts(...states)),
    remediation: sum(await harness.service.queues.remediation.getJobCounts(...states)),
  };
}

/** Entries ever added to the alert intake stream (XINFO's entries-added survives the processor's XDEL). */
export async function alertEntriesAdded(harness: Harness): Promise<number> {
  const redis = new Redis(harness.redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    const key = alertStreamKey(harness.config.redis.prefix);
    if ((await redis.exists(key)) === 0) return 0;
    const info = (await redis.call('XINFO', 'STREAM', key)) as unknown[];
    const at = info.indexOf('entries-added');
    return Number(info[at + 1]);
  } finally {
    redis.disconnect();
  }
}
