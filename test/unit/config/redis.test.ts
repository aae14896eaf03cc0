// The redis: section: one server, Sentinel or Cluster; which combinations are refused, with the line
// and the field named; passwords from the environment winning over the file and never printed; and
// the ioredis options each mode and role gets (clients built with lazyConnect: nothing connects here).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveRedisConnection, resolveSettings, SettingsError } from '../../../src/app/settings.js';
import { configCheck } from '../../../src/cli/config-check.js';
import { parseConfig } from '../../../src/config/index.js';
import { OoQueues } from '../../../src/queue/queues.js';
import { createRedisClient, describeConnection, type RedisConnection } from '../../../src/queue/redis.js';
import { redactSecrets } from '../../../src/security/redact.js';
import { configProblems } from '../../support/config.js';

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl';
const HOSTS = `hosts:\n  docs-1:\n    address: 10.0.0.12\n    user: ops\n    hostKey: "${KEY}"\n`;
const FILE = '/etc/oo/oo.yaml';
/** `redis:` is line 6 of every file below; its first field is line 7. */
const redis = (body: string) => `${HOSTS}redis:\n${body}`;

const SENTINEL = redis(`  sentinels:\n    - host: 10.0.0.31\n    - host: sentinel-2.internal\n      port: 26380\n  name: oo-master\n  db: 2\n  username: oo\n  password: file-password\n  sentinelUsername: watcher\n  sentinelPassword: file-sentinel-password\n`);
/** What SENTINEL sets besides the sentinels, as read back. */
const SENTINEL_FIELDS = { name: 'oo-master', db: 2, username: 'oo', password: 'file-password', sentinelUsername: 'watcher', sentinelPassword: 'file-sentinel-password' };
const CLUSTER = redis(`  prefix: "{oo}"\n  cluster:\n    nodes:\n      - host: 10.0.0.41\n      - host: 10.0.0.42\n        port: 7001\n  password: file-password\n  tls: true\n`);


describe('redis: in oo.yaml', () => {
  it('reads a Sentinel section, sentinel ports defaulting to 26379', () => {
    expect(parseConfig(SENTINEL, FILE).redis).toEqual({
      prefix: 'oo',
      sentinels: [
        { host: '10.0.0.31', port: 26379 },
        { host: 'sentinel-2.internal', port: 26380 },
      ],
      ...SENTINEL_FIELDS,
    });
  });

  it('reads a Cluster section with a hash-tag prefix, node ports defaulting to 6379', () => {
    expect(parseConfig(CLUSTER, FILE).redis).toEqual({
      prefix: '{oo}',
      cluster: { nodes: [{ host: '10.0.0.41', port: 6379 }, { host: '10.0.0.42', port: 7001 }] },
      password: 'file-password',
      tls: true,
    });
  });

  it('keeps the one-server section as it was', () => {
    expect(parseConfig(redis('  url: rediss://redis.internal:6380/1\n  password: p\n  username: oo\n  tls: true\n'), FILE).redis).toEqual({
      url: 'rediss://redis.internal:6380/1',
      prefix: 'oo',
      password: 'p',
      username: 'oo',
      tls: true,
    });
  });

  // [what, the redis: section's lines, the problems named: "<line> <field>: <message>" or a pattern]
  const REFUSED: [string, string, (string | RegExp)[]][] = [
    ['url and sentinels', '  url: redis://x:6379\n  sentinels: [{host: s1}]\n  name: m\n', ['8 redis.sentinels: give either url (one Redis server) or sentinels, not both']],
    ['url and cluster', '  url: redis://x:6379\n  prefix: "{oo}"\n  cluster: {nodes: [{host: n1}]}\n', ['9 redis.cluster: give either url (one Redis server) or cluster, not both']],
    [
      'sentinels and cluster',
      '  sentinels: [{host: s1}]\n  name: m\n  prefix: "{oo}"\n  cluster: {nodes: [{host: n1}]}\n',
      ['10 redis.cluster: give either sentinels (Redis Sentinel) or cluster (Redis Cluster), not both'],
    ],
    ['sentinels without the master name', '  sentinels: [{host: s1}]\n', ['7 redis.sentinels: needs name: the master group name the sentinels monitor (sentinel monitor <name> …)']],
    [
      'Sentinel settings without sentinels',
      '  url: redis://x:6379\n  name: m\n  sentinelPassword: p\n',
      ['8 redis.name: name is a Redis Sentinel setting: it needs sentinels', '9 redis.sentinelPassword: sentinelPassword is a Redis Sentinel setting: it needs sentinels'],
    ],
    ['db beside url', '  url: redis://x:6379\n  db: 3\n', ['8 redis.db: db is a Redis Sentinel setting; with url, put the database in the URL (redis://host:6379/<db>)']],
    ['db beside cluster', '  prefix: "{oo}"\n  cluster: {nodes: [{host: n1}]}\n  db: 1\n', ['9 redis.db: Redis Cluster has only database 0: leave db out']],
    ['cluster with a plain prefix', '  prefix: oo\n  cluster: {nodes: [{host: n1}]}\n', [/^7 redis\.prefix: Redis Cluster needs a hash-tag prefix such as "\{oo\}": .*one hash slot \(got "oo"\)$/]],
    ['cluster without a prefix (the default oo)', '  cluster: {nodes: [{host: n1}]}\n', [/^7 redis\.cluster: Redis Cluster needs a hash-tag prefix .*; set prefix: "\{oo\}"$/]],
    [
      'mistakes inside the sentinel list',
      '  sentinels:\n    - host: s1\n      port: 70000\n    - {host: "bad host"}\n  name: m\n',
      [/^9 redis\.sentinels\[0\]\.port: /, '10 redis.sentinels[1].host: must be a host name or an IP address'],
    ],
    [
      'an empty node list and an unknown key',
      '  prefix: "{oo}"\n  cluster:\n    nodes: []\n    natMap: {}\n',
      ['9 redis.cluster.nodes: name at least one cluster node', '10 redis.cluster.natMap: unknown key "natMap"'],
    ],
    ['an empty password', '  url: redis://x:6379\n  password: ""\n', ['8 redis.password: must not be empty (leave it out, or set it in the environment)']],
  ];

  it.each(REFUSED)('refuses %s, naming the line and the field', (_what, body, expected) => {
    expect(configProblems(redis(body), FILE)).toEqual(expected.map((line) => (typeof line === 'string' ? line : expect.stringMatching(line))));
  });
});

describe('resolveRedisConnection: oo.yaml and the environment', () => {
  it('takes the passwords from REDIS_PASSWORD and REDIS_SENTINEL_PASSWORD over the file', () => {
    const config = parseConfig(SENTINEL, FILE);
    expect(resolveRedisConnection(config, {}).connection).toEqual({
      mode: 'sentinel',
      sentinels: config.redis.sentinels,
      ...SENTINEL_FIELDS,
    });
    const fromEnv = resolveRedisConnection(config, { REDIS_PASSWORD: ' env-password\n', REDIS_SENTINEL_PASSWORD: 'env-sentinel' }).connection;
    expect(fromEnv).toMatchObject({ password: 'env-password', sentinelPassword: 'env-sentinel' });
    const cluster = resolveRedisConnection(parseConfig(CLUSTER, FILE), { REDIS_PASSWORD: 'env-password' }).connection;
    expect(cluster).toEqual({ mode: 'cluster', nodes: [{ host: '10.0.0.41', port: 6379 }, { host: '10.0.0.42', port: 7001 }], password: 'env-password', tls: true });
  });

  it('keeps REDIS_URL winning over redis.url, and refuses it next to sentinels or cluster', () => {
    const standalone = parseConfig(redis('  url: redis://file:6379\n'), FILE);
    expect(resolveRedisConnection(standalone, { REDIS_URL: 'redis://env:6379/1', REDIS_PASSWORD: 'pw' }).connection).toEqual({
      mode: 'standalone',
      url: 'redis://env:6379/1',
      password: 'pw',
    });
    expect(resolveRedisConnection(parseConfig(SENTINEL, FILE), { REDIS_URL: 'redis://env:6379' }).problems).toEqual([
      "REDIS_URL is set, but /etc/oo/oo.yaml configures redis.sentinels: unset REDIS_URL (one URL would bypass Sentinel's failover)",
    ]);
    const env = { SLACK_BOT_TOKEN: 'xoxb-1-abc', REDIS_URL: 'redis://env:6379' };
    expect(() => resolveSettings(parseConfig(CLUSTER, FILE), env, 'worker')).toThrow(SettingsError);
    expect(() => resolveSettings(parseConfig(CLUSTER, FILE), env, 'worker')).toThrow(/REDIS_URL is set, but .* configures redis\.cluster/);
    expect(resolveSettings(parseConfig(CLUSTER, FILE), { SLACK_BOT_TOKEN: 'xoxb-1-abc' }, 'worker').redis.mode).toBe('cluster');
  });

  it('describes a connection without its secrets, and the redaction rules hide them in any log line', () => {
    const connection = resolveRedisConnection(parseConfig(SENTINEL, FILE), {}).connection!;
    expect(describeConnection(connection)).toBe('sentinel master oo-master via 10.0.0.31:26379,sentinel-2.internal:26380');
    expect(describeConnection({ mode: 'standalone', url: 'redis://user:hunter2@redis:6379/3' })).toBe('redis://redis:6379/3');
    const logged = redactSecrets(JSON.stringify(connection));
    expect(logged).not.toContain('file-password');
    expect(logged).not.toContain('file-sentinel-password');
  });
});

describe('oo config check with Sentinel or Cluster', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'oo-redis-check-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function check(name: string, text: string, env: NodeJS.ProcessEnv, json = false) {
    const file = path.join(dir, name);
    await writeFile(file, text);
    const io = { out: '', err: '' };
    const code = await configCheck({ config: file, env, ...(json ? { json } : {}) }, { stdout: (t) => (io.out += t), stderr: (t) => (io.err += t) });
    return { code, ...io };
  }

  it('shows where Redis is and where the passwords come from, never the passwords', async () => {
    const text = await check('sentinel.yaml', SENTINEL, { REDIS_SENTINEL_PASSWORD: 'env-sentinel-secret' });
    expect(text.code).toBe(0);
    expect(text.out).toContain(
      'redis: Sentinel master oo-master via 10.0.0.31:26379, sentinel-2.internal:26380, prefix oo, password from redis.password, sentinel password from REDIS_SENTINEL_PASSWORD\n',
    );
    expect(text.err).toMatch(/warning: .*sentinel\.yaml:14:3 redis\.password: a password written in the file: prefer REDIS_PASSWORD/);
    const json = await check('sentinel.yaml', SENTINEL, { REDIS_SENTINEL_PASSWORD: 'env-sentinel-secret' }, true);
    expect(JSON.parse(json.out).redis).toEqual({
      mode: 'sentinel',
      url: 'not used',
      endpoints: ['10.0.0.31:26379', 'sentinel-2.internal:26380'],
      name: 'oo-master',
      prefix: 'oo',
      password: 'from redis.password',
      sentinelPassword: 'from REDIS_SENTINEL_PASSWORD',
    });
    for (const output of [text.out, text.err, json.out, json.err]) {
      for (const secret of ['file-password', 'file-sentinel-password', 'env-sentinel-secret']) expect(output).not.toContain(secret);
    }
  });

  it('warns that REDIS_URL set beside cluster would stop the service', async () => {
    const result = await check('cluster.yaml', CLUSTER, { REDIS_URL: 'redis://elsewhere:6379', REDIS_PASSWORD: 'env-secret' });
    expect(result.code).toBe(0);
    expect(result.out).toContain('redis: Cluster via 10.0.0.41:6379, 10.0.0.42:7001, prefix {oo}, password from REDIS_PASSWORD\n');
    expect(result.err).toMatch(/warning: .*cluster\.yaml:8:3 redis\.cluster: REDIS_URL is set here as well/);
    expect(result.out + result.err).not.toContain('env-secret');
  });
});

describe('createRedisClient: one factory for every mode and role', () => {
  const SENTINEL_CONNECTION: RedisConnection = {
    mode: 'sentinel',
    sentinels: [{ host: '127.0.0.1', port: 1 }],
    name: 'oo-master',
    password: 'pw',
    sentinelPassword: 'spw',
    db: 1,
    tls: true,
  };
  const CLUSTER_CONNECTION: RedisConnection = { mode: 'cluster', nodes: [{ host: '127.0.0.1', port: 1 }], password: 'pw' };

  it('makes a Sentinel client of the master, with the role settings winning', () => {
    for (const role of ['producer', 'worker'] as const) {
      const client = createRedisClient(SENTINEL_CONNECTION, role, { lazyConnect: true, maxRetriesPerRequest: 5 });
      try {
        expect(client).toBeInstanceOf(Redis);
        const options = (client as Redis).options;
        expect(options).toMatchObject({
          sentinels: [{ host: '127.0.0.1', port: 1 }],
          name: 'oo-master',
          role: 'master',
          password: 'pw',
          sentinelPassword: 'spw',
          db: 1,
          enableTLSForSentinelMode: true,
          failoverDetector: true,
          connectionName: `oo-${role}`,
        });
        expect(options.maxRetriesPerRequest).toBe(role === 'worker' ? null : 1);
        expect(options.enableOfflineQueue).toBe(role === 'worker');
      } finally {
        client.disconnect();
      }
    }
  });

  it('makes a Cluster client: per-command settings on the nodes, the offline queue on the cluster', () => {
    for (const role of ['producer', 'worker'] as const) {
      const client = createRedisClient(CLUSTER_CONNECTION, role, { lazyConnect: true });
      try {
        expect(client).toBeInstanceOf(Cluster);
        const { options } = client as Cluster;
        expect(options.enableOfflineQueue).toBe(role === 'worker');
        expect(options.lazyConnect).toBe(true);
        expect(options.redisOptions).toMatchObject({ password: 'pw', connectionName: `oo-${role}`, maxRetriesPerRequest: role === 'worker' ? null : 1 });
        // Nodes connect lazily and must queue their first command; only the cluster fails fast.
        expect(options.redisOptions).not.toHaveProperty('enableOfflineQueue');
      } finally {
        client.disconnect();
      }
    }
  });

  it('OoQueues refuses a Cluster with a prefix that is not a hash tag', () => {
    expect(() => new OoQueues({ redis: CLUSTER_CONNECTION, prefix: 'oo' })).toThrow(/Redis Cluster needs a hash-tag key prefix such as "\{oo\}" \(got "oo"\)/);
    expect(() => new OoQueues({})).toThrow(/needs redis/);
  });
});
