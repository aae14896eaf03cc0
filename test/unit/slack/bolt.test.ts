// Which Bolt receiver the service builds: Socket Mode with an app-level token, HTTP mode otherwise.
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/app/logger.js';
import { createSlackApp, type SlackHandlers } from '../../../src/slack/bolt.js';

const handlers: SlackHandlers = {
  command: async () => ({ reply: { text: 'ok' } }),
  click: async () => ({ text: 'ok' }),
  explainMessage: async () => ({ text: 'ok' }),
  ephemeral: async () => undefined,
  onError: () => undefined,
};
const quiet = createLogger({ write: () => undefined });
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

describe('createSlackApp', () => {
  it('selects Socket Mode when an app token is given, and opens the connection with that token at SLACK_API_URL', async () => {
    const seen: { url: string; authorization: string | undefined }[] = [];
    const api = createServer((req: IncomingMessage, res) => {
      seen.push({ url: req.url ?? '', authorization: req.headers.authorization });
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json' });
      // An unrecoverable answer, so the client gives up instead of retrying.
      res.end(JSON.stringify({ ok: false, error: 'invalid_auth' }));
    });
    await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
    closers.push(() => new Promise((resolve) => api.close(() => resolve())));
    const slack = createSlackApp({
      botToken: 'xoxb-test-token',
      appToken: 'xapp-1-A0OO-test',
      slackApiUrl: `http://127.0.0.1:${(api.address() as AddressInfo).port}/api/`,
      logger: quiet,
      handlers,
    });
    expect(slack.mode).toBe('socket');
    expect(slack.requestListener).toBeUndefined();
    await expect(slack.start()).rejects.toThrow(/invalid_auth/);
    expect(seen).toEqual([{ url: '/api/apps.connections.open', authorization: 'Bearer xapp-1-A0OO-test' }]);
  });

  it('selects HTTP mode without an app token, and needs the signing secret for it', () => {
    const slack = createSlackApp({ botToken: 'xoxb-test-token', signingSecret: 'secret', logger: quiet, handlers });
    expect(slack.mode).toBe('http');
    expect(typeof slack.requestListener).toBe('function');
    expect(() => createSlackApp({ botToken: 'xoxb-test-token', logger: quiet, handlers })).toThrow(/SLACK_SIGNING_SECRET/);
  });
});
