// A local stand-in for Slack's Socket Mode endpoint: `apps.connections.open` answers with a ws:// URL on
// the same port, and the WebSocket behind it speaks RFC 6455 (handshake, text frames, ping/pong, close)
// and greets each connection with Slack's `hello`, after which a SocketModeClient counts as connected.
// `auth.test` answers for the bot token too, so a whole `oo serve` in Socket Mode can run against it.
// Tests drop or refuse connections to see what the service does when Socket Mode is down.
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

const WEBSOCKET_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const OPCODE = { text: 0x1, close: 0x8, ping: 0x9, pong: 0xa } as const;

/** One server-to-client frame (servers do not mask). */
function frame(opcode: number, payload: Buffer): Buffer {
  const length = payload.length;
  const header = length < 126 ? Buffer.from([0x80 | opcode, length]) : length < 65_536 ? Buffer.alloc(4) : Buffer.alloc(10);
  if (length >= 126 && length < 65_536) {
    header[0] = 0x80 | opcode;
    header[1] = 126;
    header.writeUInt16BE(length, 2);
  } else if (length >= 65_536) {
    header[0] = 0x80 | opcode;
    header[1] = 127;
    header.writeBigUInt64BE(BigInt(length), 2);
  }
  return Buffer.concat([header, payload]);
}

/** Reads the client's (masked) frames out of `buffer`; returns them and what is left over. */
function readFrames(buffer: Buffer): { frames: { opcode: number; payload: Buffer }[]; rest: Buffer } {
  const frames: { opcode: number; payload: Buffer }[] = [];
  let offset = 0;
  while (buffer.length - offset >= 2) {
    const opcode = buffer[offset]! & 0x0f;
    const masked = (buffer[offset + 1]! & 0x80) !== 0;
    let length = buffer[offset + 1]! & 0x7f;
    let at = offset + 2;
    if (length === 126) {
      if (buffer.length < at + 2) break;
      length = buffer.readUInt16BE(at);
      at += 2;
    } else if (length === 127) {
      if (buffer.length < at + 8) break;
      length = Number(buffer.readBigUInt64BE(at));
      at += 8;
    }
    const mask = masked ? buffer.subarray(at, at + 4) : undefined;
    if (masked) at += 4;
    if (buffer.length < at + length) break;
    const payload = Buffer.from(buffer.subarray(at, at + length));
    if (mask) for (let i = 0; i < payload.length; i++) payload[i]! ^= mask[i % 4]!;
    frames.push({ opcode, payload });
    offset = at + length;
  }
  return { frames, rest: buffer.subarray(offset) };
}

export interface SocketModeStandinOptions {
  /** The app-level token `apps.connections.open` accepts (Bearer). */
  appToken: string;
  /** The bot token `auth.test` accepts (Bearer). */
  botToken?: string;
}

export class SocketModeStandin {
  /** Base URL of the Web API part (`…/api/`), for SLACK_API_URL / slackApiUrl. */
  readonly apiUrl: string;
  /** `apps.connections.open` calls answered (with a URL or an error). */
  opened = 0;
  /** Text frames the clients sent (acknowledgements of envelopes). */
  readonly received: unknown[] = [];
  private readonly sockets = new Set<Socket>();
  private refusing = false;

  private constructor(
    private readonly server: Server,
    private readonly options: SocketModeStandinOptions,
  ) {
    this.apiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/`;
  }

  static async start(options: SocketModeStandinOptions): Promise<SocketModeStandin> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const standin = new SocketModeStandin(server, options);
    server.on('request', (req, res) => standin.onRequest(req, res));
    server.on('upgrade', (req, socket) => standin.onUpgrade(req, socket as Socket));
    return standin;
  }

  /** Open WebSocket connections. */
  get connections(): number {
    return this.sockets.size;
  }

  /** While set, `apps.connections.open` fails as Slack does when it cannot hand out a URL. */
  refuse(refusing: boolean): void {
    this.refusing = refusing;
  }

  /** Cuts every WebSocket connection without a close frame (a network failure, a pod going away). */
  dropConnections(): void {
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
  }

  async close(): Promise<void> {
    this.dropConnections();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    req.resume();
    const answer = (body: unknown) => {
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
      res.end(JSON.stringify(body));
    };
    const method = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (method === '/api/auth.test' && this.options.botToken !== undefined) {
      const authorized = req.headers.authorization === `Bearer ${this.options.botToken}`;
      return answer(authorized ? { ok: true, url: 'https://oo-standin.slack.com/', team: 'oo', user: 'oo', team_id: 'T0OO', user_id: 'U0OOBOT', bot_id: 'B0OO' } : { ok: false, error: 'invalid_auth' });
    }
    if (method !== '/api/apps.connections.open') return answer({ ok: false, error: 'unknown_method' });
    this.opened += 1;
    if (req.headers.authorization !== `Bearer ${this.options.appToken}`) return answer({ ok: false, error: 'invalid_auth' });
    if (this.refusing) return answer({ ok: false, error: 'internal_error' });
    const port = (this.server.address() as AddressInfo).port;
    answer({ ok: true, url: `ws://127.0.0.1:${port}/link/?ticket=${this.opened}` });
  }

  private onUpgrade(req: IncomingMessage, socket: Socket): void {
    const key = req.headers['sec-websocket-key'];
    if (this.refusing || typeof key !== 'string' || !req.url?.startsWith('/link/')) {
      socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
      return;
    }
    const accept = createHash('sha1').update(`${key}${WEBSOCKET_GUID}`).digest('base64');
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: ${accept}\r\n\r\n`);
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => this.sockets.delete(socket));
    let pending: Buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      const { frames, rest } = readFrames(Buffer.concat([pending, chunk]));
      pending = rest;
      for (const { opcode, payload } of frames) {
        if (opcode === OPCODE.ping) socket.write(frame(OPCODE.pong, payload));
        else if (opcode === OPCODE.close) {
          socket.end(frame(OPCODE.close, payload.subarray(0, 2)));
          this.sockets.delete(socket);
        } else if (opcode === OPCODE.text) {
          try {
            this.received.push(JSON.parse(payload.toString('utf8')));
          } catch {
            this.received.push(payload.toString('utf8'));
          }
        }
      }
    });
    // Slack's greeting: the client is connected once it reads this.
    const hello = { type: 'hello', num_connections: this.sockets.size, debug_info: { host: 'oo-standin', approximate_connection_time: 18060 }, connection_info: { app_id: 'A0OOSTANDIN' } };
    socket.write(frame(OPCODE.text, Buffer.from(JSON.stringify(hello))));
  }
}
