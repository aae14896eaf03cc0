// The Bolt app: Socket Mode when an app-level token is given, HTTP mode otherwise. In HTTP mode Bolt's
// HTTPReceiver verifies each request's signature (v0 HMAC, timestamps within five minutes) and answers
// 401 to a forged or stale one before any listener runs; our HTTP server hands it /slack/events. Every
// listener acknowledges first and works afterwards, so Slack's 3-second limit holds.
import { App, HTTPReceiver, SocketModeReceiver, type Logger } from '@slack/bolt';
import { REMEDIATE_ACTION_PREFIX } from './blocks.js';
import type { MessageContent } from './outbox.js';
import { SLACK_SIGNATURE_MAX_AGE_SEC } from './signing.js';
import { watchSocketMode, type SocketModeHealth } from './socket-mode-health.js';

type BoltApp = App;

export const EXPLAIN_SHORTCUT_ID = 'oo_explain_502';
export const SLASH_COMMAND = '/oo';

export interface SlackHandlers {
  /** Returns the ephemeral answer (sent with the ack) and, optionally, work to do after it. */
  command(input: { text: string; userId: string; channelId: string }): Promise<{ reply: MessageContent; after?: () => Promise<void> }>;
  /** Runs after the ack; returns the ephemeral message for the clicker. */
  click(input: { buttonActionId: string; value?: string; userId: string; channelId: string; messageTs?: string }): Promise<MessageContent>;
  /** Runs after the ack; returns the ephemeral explanation for the user. */
  explainMessage(input: { text: string; userId: string; channelId: string }): Promise<MessageContent>;
  ephemeral(channel: string, user: string, content: MessageContent, threadTs?: string): Promise<void>;
  onError(error: unknown, context: string): void;
}

export interface SlackAppOptions {
  botToken: string;
  signingSecret?: string;
  appToken?: string;
  slackApiUrl?: string;
  logger: Logger;
  handlers: SlackHandlers;
  /**
   * Socket Mode: how long a pong may take, which is also the pause before each reconnection attempt
   * (times the attempts so far); @slack/socket-mode's default, 5 s, when absent. Tests shorten it.
   */
  socketModePingTimeoutMs?: number;
}

export interface SlackApp {
  app: BoltApp;
  mode: 'socket' | 'http';
  /** HTTP mode: the request listener for POST /slack/events. */
  requestListener?: (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => void;
  /** Socket Mode: whether the WebSocket to Slack is connected (for /readyz). */
  socketMode?: SocketModeHealth;
  /** Socket Mode: connects; HTTP mode: nothing to do (our server listens). */
  start(): Promise<void>;
  stop(): Promise<void>;
}

function messageText(message: { text?: string; attachments?: { text?: string; fallback?: string }[]; blocks?: unknown[] }): string {
  const parts = [message.text ?? ''];
  for (const attachment of message.attachments ?? []) parts.push(attachment.text ?? attachment.fallback ?? '');
  return parts.filter((part) => part.trim() !== '').join('\n');
}

export function createSlackApp(options: SlackAppOptions): SlackApp {
  const clientOptions = {
    ...(options.slackApiUrl ? { slackApiUrl: options.slackApiUrl } : {}),
    // 429s are handled by our per-channel outbox; Bolt's own calls (auth.test) may retry briefly.
    retryConfig: { retries: 2, factor: 2, minTimeout: 200, maxTimeout: 2000 },
  };
  let app: BoltApp;
  let mode: SlackApp['mode'];
  let requestListener: SlackApp['requestListener'];
  let socketMode: SocketModeHealth | undefined;
  if (options.appToken) {
    mode = 'socket';
    const receiver = new SocketModeReceiver({
      appToken: options.appToken,
      logger: options.logger,
      // apps.connections.open goes to the same Web API base as everything else.
      installerOptions: { clientOptions },
      ...(options.socketModePingTimeoutMs !== undefined ? { clientPingTimeout: options.socketModePingTimeoutMs } : {}),
    });
    socketMode = watchSocketMode(receiver.client);
    app = new App({ token: options.botToken, receiver, socketMode: true, clientOptions, logger: options.logger, tokenVerificationEnabled: false });
  } else {
    if (!options.signingSecret) throw new Error('HTTP mode needs SLACK_SIGNING_SECRET');
    mode = 'http';
    const receiver = new HTTPReceiver({
      signingSecret: options.signingSecret,
      endpoints: ['/slack/events'],
      logger: options.logger,
      signatureVerification: true,
    });
    app = new App({ token: options.botToken, receiver, clientOptions, logger: options.logger, tokenVerificationEnabled: false });
    requestListener = (req, res) => {
      // Bolt refuses timestamps older than five minutes but not ones from the future; Slack's rule (and
      // verifySlackSignature's) is five minutes either way, so a request signed ahead cannot be replayed.
      const timestampSec = Number(req.headers['x-slack-request-timestamp']);
      if (Number.isFinite(timestampSec) && timestampSec - Math.floor(Date.now() / 1000) > SLACK_SIGNATURE_MAX_AGE_SEC) {
        req.resume();
        res.writeHead(401);
        res.end();
        return;
      }
      try {
        receiver.requestListener(req, res);
      } catch (error) {
        options.handlers.onError(error, 'slack request');
        if (!res.headersSent) {
          res.writeHead(404);
          res.end();
        }
      }
    };
  }
  const { handlers } = options;

  app.command(SLASH_COMMAND, async ({ command, ack }) => {
    const answer = await handlers.command({ text: command.text ?? '', userId: command.user_id, channelId: command.channel_id });
    await ack({ response_type: 'ephemeral', text: answer.reply.text, ...(answer.reply.blocks ? { blocks: answer.reply.blocks as never } : {}) });
    if (answer.after) {
      await answer.after().catch(async (error: unknown) => {
        handlers.onError(error, `/oo ${command.text}`);
        await handlers
          .ephemeral(command.channel_id, command.user_id, { text: `:x: \`/oo ${command.text.slice(0, 80)}\` failed after it was accepted: ${(error as Error).message}` })
          .catch((failure: unknown) => handlers.onError(failure, 'reporting a failed command'));
      });
    }
  });

  app.action(new RegExp(`^${REMEDIATE_ACTION_PREFIX.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`), async ({ ack, body, action }) => {
    await ack();
    const actionBody = body as { user: { id: string }; channel?: { id: string }; container?: { message_ts?: string; channel_id?: string }; message?: { ts?: string; thread_ts?: string } };
    const button = action as { action_id: string; value?: string };
    const channelId = actionBody.channel?.id ?? actionBody.container?.channel_id ?? '';
    const messageTs = actionBody.message?.ts ?? actionBody.container?.message_ts;
    try {
      const reply = await handlers.click({
        buttonActionId: button.action_id,
        ...(button.value !== undefined ? { value: button.value } : {}),
        userId: actionBody.user.id,
        channelId,
        ...(messageTs ? { messageTs } : {}),
      });
      await handlers.ephemeral(channelId, actionBody.user.id, reply, actionBody.message?.thread_ts);
    } catch (error) {
      handlers.onError(error, 'remediation click');
      await handlers
        .ephemeral(channelId, actionBody.user.id, { text: `:x: The click could not be handled: ${(error as Error).message}` }, actionBody.message?.thread_ts)
        .catch(() => undefined);
    }
  });

  app.shortcut(EXPLAIN_SHORTCUT_ID, async ({ ack, shortcut }) => {
    await ack();
    if (shortcut.type !== 'message_action') return;
    const text = messageText(shortcut.message as Parameters<typeof messageText>[0]);
    try {
      const reply = await handlers.explainMessage({ text, userId: shortcut.user.id, channelId: shortcut.channel.id });
      const threadTs = (shortcut.message as { thread_ts?: string }).thread_ts;
      await handlers.ephemeral(shortcut.channel.id, shortcut.user.id, reply, threadTs);
    } catch (error) {
      handlers.onError(error, 'explain shortcut');
    }
  });

  app.error(async (error) => handlers.onError(error, 'bolt'));

  return {
    app,
    mode,
    ...(requestListener ? { requestListener } : {}),
    ...(socketMode ? { socketMode } : {}),
    async start() {
      if (mode === 'socket') await app.start();
    },
    async stop() {
      if (mode === 'socket') await app.stop();
    },
  };
}
