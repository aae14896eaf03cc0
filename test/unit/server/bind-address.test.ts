// Where `oo serve` listens, through startService as the CLI runs it (no test-only host option): with
// server.host (or OO_HOST) set to 127.0.0.1 it answers there and nowhere else, so 127.0.0.2 (loopback
// too on Linux, but another address) is refused; without it, it listens on every interface, as before.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { startService, type RunningService } from '../../../src/app/index.js';
import { createLogger } from '../../../src/app/logger.js';
import { parseConfig } from '../../../src/config/index.js';
import { startRedisServer, type TestRedisServer } from '../../../src/testing/redis-server.js';

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl';
let redis: TestRedisServer;

beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(async () => {
  await redis?.stop();
});

async function serve(server: Record<string, unknown> | undefined, env: Record<string, string> = {}): Promise<RunningService> {
  const config = parseConfig(
    stringify({
      hosts: { 'docs-1': { address: '127.0.0.1', user: 'ops', hostKey: KEY } },
      slack: { channel: 'C0OPS' },
      redis: { prefix: `t${randomBytes(3).toString('hex')}` },
      ...(server ? { server } : {}),
    }),
    'oo.yaml',
  );
  return startService({
    config,
    mode: 'serve',
    env: {
      SLACK_BOT_TOKEN: 'xoxb-1-2-bind-test',
      SLACK_SIGNING_SECRET: 'standin-signing-secret-0123456789',
      SLACK_API_URL: 'http://127.0.0.1:9/api/',
      REDIS_URL: redis.url,
      PORT: '0',
      OO_ALERT_TOKEN: 'alert-token-0123456789abcdef',
      ...env,
    },
    logger: createLogger({ write: () => undefined }),
  });
}

/** The status of GET /healthz at `address`, or the connection error's code. */
async function healthz(address: string, port: number): Promise<number | string> {
  try {
    return (await fetch(`http://${address}:${port}/healthz`, { signal: AbortSignal.timeout(5000) })).status;
  } catch (error) {
    return ((error as { cause?: { code?: string } }).cause?.code ?? String(error)) as string;
  }
}

describe('the HTTP bind address', () => {
  it('server.host: 127.0.0.1 answers on 127.0.0.1 and refuses 127.0.0.2', async () => {
    const service = await serve({ host: '127.0.0.1', port: 0 }, { PORT: '' });
    try {
      expect(service.settings.host).toBe('127.0.0.1');
      expect(await healthz('127.0.0.1', service.port)).toBe(200);
      expect(await healthz('127.0.0.2', service.port)).toBe('ECONNREFUSED');
    } finally {
      await service.close();
    }
  });

  it('OO_HOST does the same, over server.host', async () => {
    const service = await serve({ host: '0.0.0.0' }, { OO_HOST: '127.0.0.1' });
    try {
      expect(await healthz('127.0.0.1', service.port)).toBe(200);
      expect(await healthz('127.0.0.2', service.port)).toBe('ECONNREFUSED');
    } finally {
      await service.close();
    }
  });

  it('without either, listens on every interface (127.0.0.2 answers too), as before the setting', async () => {
    const service = await serve(undefined);
    try {
      expect(service.settings.host).toBeUndefined();
      expect(await healthz('127.0.0.1', service.port)).toBe(200);
      expect(await healthz('127.0.0.2', service.port)).toBe(200);
    } finally {
      await service.close();
    }
  });
});
