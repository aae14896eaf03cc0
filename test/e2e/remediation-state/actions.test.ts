import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyspace } from '../../../src/queue/keys.js';
import {
  ACTION_ID_PATTERN,
  InvalidActionIdError,
  PendingActionStore,
  type CreateActionInput,
} from '../../../src/remediation/actions.js';
import { freeLoopbackPort } from '../../../src/testing/redis-server.js';
import { plainClient, sleep, startRedisServer, testPrefix, waitFor, type TestRedisServer } from '../queue/helpers.js';

let server: TestRedisServer;
let redis: Redis;
let replica: Redis;

beforeAll(async () => {
  server = await startRedisServer();
  redis = plainClient(server);
  // A second connection, as a second replica of the bot would have.
  replica = plainClient(server);
});
afterAll(async () => {
  redis?.disconnect();
  replica?.disconnect();
  await server?.stop();
});

const action = (overrides: Partial<CreateActionInput> = {}): CreateActionInput => ({
  incidentKey: 'inc_0123abcd',
  host: 'docs-1',
  remediationId: 'restart_docservice',
  title: 'Restart docservice',
  risk: 'medium',
  command: 'sudo -n supervisorctl restart ds:docservice',
  requestedBy: 'U0REQUEST',
  channel: 'C0OPS',
  ttlMs: 15 * 60 * 1000,
  ...overrides,
});

describe('PendingActionStore', () => {
  it('creates opaque ids and keeps the action server-side', async () => {
    const store = new PendingActionStore(redis, keyspace(testPrefix()));
    const ids = await Promise.all(Array.from({ length: 20 }, () => store.create(action())));
    expect(new Set(ids).size).toBe(20);
    for (const id of ids) expect(id).toMatch(ACTION_ID_PATTERN);
    const stored = await store.get(ids[0]!);
    expect(stored).toMatchObject({
      id: ids[0],
      host: 'docs-1',
      remediationId: 'restart_docservice',
      risk: 'medium',
      command: 'sudo -n supervisorctl restart ds:docservice',
      status: 'pending',
      approvers: [],
    });
    expect(stored!.expiresAt - stored!.createdAt).toBe(15 * 60 * 1000);
    expect(await store.attachMessage(ids[0]!, '1712345678.000100')).toBe(true);
    expect((await store.get(ids[0]!))?.messageTs).toBe('1712345678.000100');
  });

  it('rejects bad input naming the field', async () => {
    const store = new PendingActionStore(redis, keyspace(testPrefix()));
    await expect(store.create(action({ host: 'docs-1 && reboot' }))).rejects.toThrow(/host/);
    await expect(store.create(action({ channel: '#ops' }))).rejects.toThrow(/channel/);
    await expect(store.create(action({ risk: 'extreme' as never }))).rejects.toThrow(/risk/);
    await expect(store.create(action({ ttlMs: 10 }))).rejects.toThrow(/ttlMs/);
  });

  it('validates ids before touching Redis', async () => {
    // A client that cannot reach any server: a Redis call would fail with a connection error instead.
    const port = await freeLoopbackPort();
    const offline = new Redis({ port, host: '127.0.0.1', lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0 });
    const store = new PendingActionStore(offline, keyspace(testPrefix()));
    const bad = ['', 'abc', `${'A'.repeat(21)}B`, 'AAAAAAAAAAAAAAAAAAAAA/', 'AAAAAAAAAAAAAAAAAAAAA:', `${'A'.repeat(21)}A\n`, 'A'.repeat(23)];
    for (const id of bad) {
      await expect(store.get(id)).rejects.toBeInstanceOf(InvalidActionIdError);
      await expect(store.approve(id, 'U0A', 1)).rejects.toBeInstanceOf(InvalidActionIdError);
      await expect(store.claim(id)).rejects.toBeInstanceOf(InvalidActionIdError);
    }
    await expect(store.claim('A'.repeat(21) + 'A')).rejects.not.toBeInstanceOf(InvalidActionIdError);
    offline.disconnect();
  });

  it('approves once enough distinct people approved; a double click counts once', async () => {
    const store = new PendingActionStore(redis, keyspace(testPrefix()));
    const id = await store.create(action({ risk: 'high' }));
    const [a, b] = await Promise.all([store.approve(id, 'U0AAA', 2), store.approve(id, 'U0AAA', 2)]);
    expect(a.status).toBe('waiting_second_approver');
    expect(b.status).toBe('waiting_second_approver');
    expect((await store.get(id))?.approvers).toEqual(['U0AAA']);
    expect(await store.claim(id)).toBe('not_approved');
    const second = await store.approve(id, 'U0BBB', 2);
    expect(second).toEqual({ status: 'approved', approvers: ['U0AAA', 'U0BBB'] });
    expect((await store.approve(id, 'U0CCC', 2)).status).toBe('already_done');
  });

  it('lets exactly one of many concurrent approvers and claimers win', async () => {
    const keys = keyspace(testPrefix());
    const stores = [new PendingActionStore(redis, keys), new PendingActionStore(replica, keys)];
    const id = await stores[0]!.create(action({ risk: 'high' }));
    const approvals = await Promise.all(
      Array.from({ length: 50 }, (_, index) => stores[index % 2]!.approve(id, `U0USER${index}`, 2)),
    );
    const byStatus = (status: string) => approvals.filter((result) => result.status === status).length;
    expect(byStatus('waiting_second_approver')).toBe(1);
    expect(byStatus('approved')).toBe(1);
    expect(byStatus('already_done')).toBe(48);
    expect((await stores[1]!.get(id))?.approvers).toHaveLength(2);

    const claims = await Promise.all(Array.from({ length: 50 }, (_, index) => stores[index % 2]!.claim(id)));
    expect(claims.filter((result) => result === 'claimed')).toHaveLength(1);
    expect(claims.filter((result) => result === 'already_claimed')).toHaveLength(49);
    expect((await stores[0]!.get(id))?.status).toBe('running');

    expect(await stores[0]!.finish(id, 'verified')).toBe(true);
    expect(await stores[0]!.finish(id, 'verified')).toBe(false);
    expect(await stores[1]!.get(id)).toMatchObject({ status: 'done', result: 'verified' });
    expect(await stores[1]!.claim(id)).toBe('already_claimed');
    expect((await stores[1]!.approve(id, 'U0LATE', 1)).status).toBe('already_done');
  });

  it('expires: by its expiresAt at once, and by Redis TTL afterwards', async () => {
    let now = 1_700_000_000_000;
    const keys = keyspace(testPrefix());
    const store = new PendingActionStore(redis, keys, { now: () => now, expiredGraceMs: 60_000 });
    const id = await store.create(action({ ttlMs: 60_000 }));
    const approvedThenLate = await store.create(action({ ttlMs: 60_000 }));
    expect((await store.approve(approvedThenLate, 'U0A', 1)).status).toBe('approved');
    now += 60_001;
    expect((await store.get(id))?.status).toBe('expired');
    expect((await store.approve(id, 'U0A', 1)).status).toBe('expired');
    expect(await store.claim(id)).toBe('expired');
    // Approved in time but not run in time: too late to run now.
    expect(await store.claim(approvedThenLate)).toBe('expired');
    expect(await store.cancel(id, 'U0A')).toBe('expired');
    const ttl = await redis.pttl(keys.action(id));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(120_000);

    const shortLived = new PendingActionStore(redis, keys, { expiredGraceMs: 0 });
    const gone = await shortLived.create(action({ ttlMs: 1_000 }));
    await waitFor('the key to expire', async () => (await redis.exists(keys.action(gone))) === 0, { timeoutMs: 3000 });
    expect(await shortLived.get(gone)).toBeNull();
    expect((await shortLived.approve(gone, 'U0A', 1)).status).toBe('not_found');
    expect(await shortLived.claim(gone)).toBe('not_found');
  });

  it('keeps a claimed action long after its approval window', async () => {
    const keys = keyspace(testPrefix());
    const store = new PendingActionStore(redis, keys, { retentionMs: 3_600_000, expiredGraceMs: 0 });
    const id = await store.create(action({ ttlMs: 1_000 }));
    await store.approve(id, 'U0A', 1);
    expect(await store.claim(id)).toBe('claimed');
    await sleep(1_200);
    expect((await store.get(id))?.status).toBe('running');
    expect(await redis.pttl(keys.action(id))).toBeGreaterThan(3_000_000);
  });

  it('cancels a pending or approved action, not a running one', async () => {
    const store = new PendingActionStore(redis, keyspace(testPrefix()));
    const pending = await store.create(action());
    expect(await store.cancel(pending, 'U0REQUEST')).toBe('cancelled');
    expect((await store.approve(pending, 'U0A', 1)).status).toBe('already_done');
    expect(await store.claim(pending)).toBe('already_claimed');
    const running = await store.create(action());
    await store.approve(running, 'U0A', 1);
    await store.claim(running);
    expect(await store.cancel(running, 'U0A')).toBe('already_done');
  });
});
