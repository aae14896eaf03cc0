// Whether the Socket Mode connection is up, for /readyz. In Socket Mode every interaction (slash
// commands, button clicks, shortcuts) arrives over the WebSocket, so a process whose Web API token works
// but whose socket is down must not count as ready.
//
// @slack/socket-mode (3.x) has no public "connected" property (2.x removed it); it reports its lifecycle
// as events: `connecting`, `connected` (Slack's `hello` arrived: events flow from here), `reconnecting`,
// `disconnecting`, `disconnected`, and `close` when the underlying WebSocket closed (it then waits before
// it reconnects, with no lifecycle event in between). `websocket.isActive()` says whether the WebSocket
// is OPEN right now. Connected = the last lifecycle event was `connected` and the WebSocket is open.
import type { SocketModeReceiver } from '@slack/bolt';

type SocketModeClient = SocketModeReceiver['client'];

export type SocketModeState = 'not started' | 'connecting' | 'connected' | 'reconnecting' | 'disconnecting' | 'disconnected';

export interface SocketModeHealth {
  readonly state: SocketModeState;
  /** 'ok' when connected, else what the connection is doing (for /readyz's checks). */
  check(): string;
}

const LIFECYCLE: SocketModeState[] = ['connecting', 'connected', 'reconnecting', 'disconnecting', 'disconnected'];

export function watchSocketMode(client: SocketModeClient): SocketModeHealth {
  let state: SocketModeState = 'not started';
  for (const event of LIFECYCLE) client.on(event, () => (state = event));
  // The WebSocket closed under a connected client: down until it reconnects (or is shut down).
  client.on('close', () => (state = client.websocket?.isActive() ? state : 'disconnected'));
  return {
    get state() {
      return state;
    },
    check() {
      if (state !== 'connected') return `not connected (${state})`;
      return client.websocket?.isActive() ? 'ok' : 'not connected (the WebSocket is not open)';
    },
  };
}
