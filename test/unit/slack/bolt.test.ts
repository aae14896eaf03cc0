// Which Bolt receiver the service builds: Socket Mode with an app-level token, HTTP mode otherwise.
// And Socket Mode readiness with the real client: Bolt's SocketModeReceiver and its @slack/socket-mode
// client connect over a real WebSocket to a local stand-in (apps.connections.open, RFC 6455 handshake,
// Slack's `hello`). Connected only once `hello` arrived and while the socket is open; a dropped socket
// or a refused reconnection reads as not connected until the client is back.
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/app/logger.js';
import { createSlackApp, type SlackApp, type SlackHandlers } from '../../../src/slack/bolt.js';
import { waitFor } from '../../../src/testing/slack-requests.js';
import { SocketModeStandin } from '../../../src/testing/socket-mode-standin.js';

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
  for (const close of closers.splice(0).reverse()) await close();
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

const APP_TOKEN = 'xapp-1-A0OO-socket-test';

async function socketApp(): Promise<{ standin: SocketModeStandin; slack: SlackApp }> {
  const standin = await SocketModeStandin.start({ appToken: APP_TOKEN });
  closers.push(() => standin.close());
  // A short ping timeout makes the client's pause before reconnecting short too.
  const slack = createSlackApp({ botToken: 'xoxb-test-token', appToken: APP_TOKEN, slackApiUrl: standin.apiUrl, logger: quiet, handlers, socketModePingTimeoutMs: 300 });
  closers.push(() => slack.stop().catch(() => undefined));
  return { standin, slack };
}

const connectedAgain = (slack: SlackApp) => waitFor('the Socket Mode connection to come back', () => (slack.socketMode!.check() === 'ok' ? true : undefined), 15_000);

describe('Socket Mode health', () => {
  it('is not connected before start, connected after Slack says hello, and not after stop', async () => {
    const { standin, slack } = await socketApp();
    expect(slack.socketMode).toBeDefined();
    expect(slack.socketMode!.check()).toBe('not connected (not started)');
    await slack.start();
    expect(slack.socketMode!.check()).toBe('ok');
    expect(slack.socketMode!.state).toBe('connected');
    expect(standin.connections).toBe(1);
    await slack.stop();
    expect(slack.socketMode!.check()).toMatch(/^not connected \((disconnected|disconnecting)\)$/);
  });

  it('reads a dropped socket as not connected at once, and connected again once the client is back', async () => {
    const { standin, slack } = await socketApp();
    await slack.start();
    standin.dropConnections();
    await waitFor('the drop to be seen', () => (slack.socketMode!.check() !== 'ok' ? true : undefined), 5_000);
    expect(slack.socketMode!.check()).toMatch(/^not connected/);
    await connectedAgain(slack);
    expect(standin.opened).toBeGreaterThanOrEqual(2);
    expect(standin.connections).toBe(1);
  });

  it('stays not connected while Slack refuses new connections', async () => {
    const { standin, slack } = await socketApp();
    await slack.start();
    standin.refuse(true);
    standin.dropConnections();
    const opened = standin.opened;
    await waitFor('reconnection attempts to be refused', () => (standin.opened > opened ? true : undefined), 10_000);
    expect(slack.socketMode!.check()).toMatch(/^not connected \((disconnected|reconnecting)\)$/);
    standin.refuse(false);
    await connectedAgain(slack);
  });

  it('is absent in HTTP mode (nothing to connect)', () => {
    const slack = createSlackApp({ botToken: 'xoxb-test-token', signingSecret: 'secret', logger: quiet, handlers });
    expect(slack.socketMode).toBeUndefined();
  });
});
