import { PassThrough } from 'node:stream';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyspace } from '../../../src/queue/keys.js';
import { AuditLog, type AuditRecord } from '../../../src/remediation/audit.js';
import { plainClient, startRedisServer, testPrefix, type TestRedisServer } from '../queue/helpers.js';

let server: TestRedisServer;
let redis: Redis;

beforeAll(async () => {
  server = await startRedisServer();
  redis = plainClient(server);
});
afterAll(async () => {
  redis?.disconnect();
  await server?.stop();
});

const SECRETS = ['hunter2', 'abc.def.ghi', 'xoxb-1234-5678-abcdefgh', 's3cr3tJwt', 'guestpw'];

async function collect(log: AuditLog, filter = {}): Promise<{ count: number; lines: string[] }> {
  const sink = new PassThrough();
  const chunks: Buffer[] = [];
  sink.on('data', (chunk: Buffer) => chunks.push(chunk));
  const count = await log.exportJsonl(sink, filter);
  sink.end();
  const text = Buffer.concat(chunks).toString('utf8');
  return { count, lines: text.split('\n').filter((line) => line !== '') };
}

describe('AuditLog', () => {
  it('records entries with secrets redacted, lists them filtered, and exports JSONL', async () => {
    const log = new AuditLog(redis, keyspace(testPrefix()));
    const base = Date.parse('2025-03-01T10:00:00Z');
    await log.record({ at: new Date(base), kind: 'alert', actor: 'alertmanager', host: 'docs-1', incidentKey: 'inc_a', detail: 'HTTP 502 on /' });
    await log.record({ at: new Date(base + 1000), kind: 'request', actor: 'U0REQ', host: 'docs-1', incidentKey: 'inc_a' });
    await log.record({
      at: new Date(base + 2000),
      kind: 'diagnosis',
      actor: 'oo',
      host: 'docs-1',
      incidentKey: 'inc_a',
      outcome: 'fault',
      detail: 'docservice log: password=hunter2 and Authorization: Bearer abc.def.ghi',
    });
    await log.record({ at: new Date(base + 3000), kind: 'refusal', actor: 'U0NOPE', host: 'docs-1', incidentKey: 'inc_a', action: 'restart_docservice', detail: 'not an approver' });
    await log.record({
      at: new Date(base + 4000),
      kind: 'remediation',
      actor: 'U0APPROVER',
      host: 'docs-1',
      incidentKey: 'inc_a',
      action: 'restart_docservice',
      command: 'curl -H "Authorization: Bearer s3cr3tJwt" amqp://guest:guestpw@localhost',
      outcome: 'verified',
      detail: 'token xoxb-1234-5678-abcdefgh',
    });
    await log.record({ at: new Date(base + 5000), kind: 'alert', actor: 'grafana', host: 'docs-2', incidentKey: 'inc_b' });

    const all = await log.list({ limit: 100 });
    expect(all.map((entry) => entry.kind)).toEqual(['alert', 'request', 'diagnosis', 'refusal', 'remediation', 'alert']);
    const text = JSON.stringify(all);
    for (const secret of SECRETS) expect(text).not.toContain(secret);
    const remediation = all.find((entry) => entry.kind === 'remediation')!;
    expect(remediation.command).toContain('[REDACTED]');
    expect(remediation.command).toContain('amqp://guest:');
    expect(remediation).toMatchObject({ at: new Date(base + 4000).toISOString(), actor: 'U0APPROVER', outcome: 'verified' });

    expect((await log.list({ host: 'docs-2', limit: 10 })).map((entry) => entry.incidentKey)).toEqual(['inc_b']);
    expect(await log.list({ incidentKey: 'inc_a', limit: 10 })).toHaveLength(5);
    expect((await log.list({ kind: 'refusal', limit: 10 }))[0]).toMatchObject({ actor: 'U0NOPE', detail: 'not an approver' });
    // The newest two, oldest first.
    expect((await log.list({ incidentKey: 'inc_a', limit: 2 })).map((entry) => entry.kind)).toEqual(['refusal', 'remediation']);

    const exported = await collect(log);
    expect(exported.count).toBe(6);
    const parsed = exported.lines.map((line) => JSON.parse(line) as AuditRecord);
    expect(parsed.map((entry) => entry.kind)).toEqual(all.map((entry) => entry.kind));
    for (const secret of SECRETS) expect(exported.lines.join('\n')).not.toContain(secret);
    expect((await collect(log, { host: 'docs-2' })).count).toBe(1);
  });

  it('filters by the entries\' time with since', async () => {
    let now = Date.parse('2025-03-02T00:00:00Z');
    const log = new AuditLog(redis, keyspace(testPrefix()), { now: () => now });
    await log.record({ kind: 'alert', actor: 'a', host: 'docs-1' });
    now += 60_000;
    await log.record({ kind: 'resolve', actor: 'a', host: 'docs-1' });
    // An event recorded late with its own (earlier) time.
    await log.record({ kind: 'request', actor: 'a', host: 'docs-1', at: '2025-03-01T23:00:00Z' });
    const after = await log.list({ since: now - 1000, limit: 10 });
    expect(after.map((entry) => entry.kind)).toEqual(['resolve']);
    expect(after[0]!.at).toBe(new Date(now).toISOString());
    expect((await collect(log, { since: new Date(now - 60_000) })).count).toBe(2);
    expect((await log.list({ since: '2025-03-01T00:00:00Z', limit: 10 })).map((entry) => entry.kind)).toEqual([
      'alert',
      'resolve',
      'request',
    ]);
    await expect(log.list({ since: 'yesterday', limit: 1 })).rejects.toThrow(/since/);
  });

  it('stays bounded (MAXLEN ~) and cuts overlong text', async () => {
    const keys = keyspace(testPrefix());
    const log = new AuditLog(redis, keys, { maxLen: 100 });
    for (let index = 0; index < 600; index++) await log.record({ kind: 'alert', actor: 'load', detail: `n${index}` });
    const length = await redis.xlen(keys.audit);
    expect(length).toBeGreaterThanOrEqual(100);
    expect(length).toBeLessThan(600);
    const newest = await log.list({ limit: 1 });
    expect(newest[0]!.detail).toBe('n599');

    await log.record({ kind: 'diagnosis', actor: 'oo', detail: 'x'.repeat(10_000) });
    const [long] = await log.list({ kind: 'diagnosis', limit: 1 });
    expect(long!.detail!.length).toBeLessThan(4100);
    expect(long!.detail!.endsWith('…[cut]')).toBe(true);
  });

  it('rejects entries that are not audit entries', async () => {
    const log = new AuditLog(redis, keyspace(testPrefix()));
    await expect(log.record({ kind: 'hack' as never, actor: 'x' })).rejects.toThrow(/kind/);
    await expect(log.record({ kind: 'alert', actor: '' })).rejects.toThrow(/actor/);
    await expect(log.record({ kind: 'alert', actor: 'x', at: 'not a date' })).rejects.toThrow(/at/);
    await expect(log.list({ limit: 0 })).rejects.toThrow(/limit/);
  });
});
