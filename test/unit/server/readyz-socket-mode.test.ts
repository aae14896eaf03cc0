// GET /readyz of a whole `oo serve` (startService, real redis-server) in Socket Mode: it is ready only
// while the Socket Mode WebSocket is connected, not merely while the Web API answers. The Slack side is
// a local stand-in speaking the real protocol (apps.connections.open, a WebSocket, `hello`), so the
// client's own reconnection runs. In HTTP mode there is no socket to check and readiness is as before.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { startService, type RunningService } from '../../../src/app/index.js';
import { createLogger } from '../../../src/app/logger.js';
import { parseConfig } from '../../../src/config/index.js';
import { startRedisServer, type TestRedisServer } from '../../../src/testing/redis-server.js';
import { waitFor } from '../../../src/testing/slack-requests.js';
import { SocketModeStandin } from '../../../src/testing/socket-mode-standin.js';

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl';
const APP_TOKEN = 'xapp-1-A0OO-readyz-test';
const BOT_TOKEN = 'xoxb-1-2-readyz-test';
let redis: TestRedisServer;
let standin: SocketModeStandin;

beforeAll(async () => {
  redis = await startRedisServer();
  standin = await SocketModeStandin.start({ appToken: APP_TOKEN, botToken: BOT_TOKEN });
});
afterAll(async () => {
  await standin?.close();
  await redis?.stop();
});

async function serve(slackEnv: Record<string, string>): Promise<RunningService> {
  const config = parseConfig(
    stringify({
      hosts: { 'docs-1': { address: '127.0.0.1', user: 'ops', hostKey: KEY } },
      slack: { channel: 'C0OPS' },
      redis: { prefix: `t${randomBytes(3).toString('hex')}` },
    }),
    'oo.yaml',
  );
  return startService({
    config,
    mode: 'serve',
    host: '127.0.0.1',
    env: { SLACK_BOT_TOKEN: BOT_TOKEN, SLACK_API_URL: standin.apiUrl, REDIS_URL: redis.url, PORT: '0', OO_ALERT_TOKEN: 'alert-token-0123456789abcdef', ...slackEnv },
    logger: createLogger({ write: () => undefined }),
    // Reconnection attempts 400 ms apart (times the attempts so far) instead of 5 s.
    socketModePingTimeoutMs: 400,
  });
}

async function readyz(service: RunningService): Promise<{ status: number; checks: Record<string, string> }> {
  const response = await fetch(`http://127.0.0.1:${service.port}/readyz`);
  return { status: response.status, checks: ((await response.json()) as { checks: Record<string, string> }).checks };
}

describe('/readyz in Socket Mode', () => {
  it('is ready while connected, 503 naming the socket once it drops, ready again after the client reconnects', async () => {
    const service = await serve({ SLACK_APP_TOKEN: APP_TOKEN });
    try {
      expect(service.slack?.mode).toBe('socket');
      expect(await readyz(service)).toEqual({ status: 200, checks: { redis: 'ok', slack: 'ok', slack_socket: 'ok', workers: 'ok' } });

      // The Web API still answers (auth.test is fine); only the WebSocket is gone.
      standin.refuse(true);
      standin.dropConnections();
      const down = await waitFor('/readyz to report the socket', async () => {
        const answer = await readyz(service);
        return answer.status === 503 ? answer : undefined;
      }, 5_000);
      expect(down.checks).toMatchObject({ redis: 'ok', slack: 'ok', workers: 'ok' });
      expect(down.checks.slack_socket).toMatch(/^not connected/);

      // While Slack refuses new connections it stays not ready, then recovers on its own.
      const opened = standin.opened;
      await waitFor('a refused reconnection', () => (standin.opened > opened ? true : undefined), 20_000);
      expect((await readyz(service)).status).toBe(503);
      standin.refuse(false);
      await waitFor('/readyz to be ready again', async () => ((await readyz(service)).status === 200 ? true : undefined), 30_000);
      expect((await readyz(service)).checks.slack_socket).toBe('ok');
    } finally {
      standin.refuse(false);
      await service.close();
    }
  });

  it('in HTTP mode checks Redis, the Web API and the workers, as before (no socket)', async () => {
    const service = await serve({ SLACK_SIGNING_SECRET: 'standin-signing-secret-0123456789' });
    try {
      expect(service.slack?.mode).toBe('http');
      expect(await readyz(service)).toEqual({ status: 200, checks: { redis: 'ok', slack: 'ok', workers: 'ok' } });
    } finally {
      await service.close();
    }
  });
});
