export const SSH_ERROR_REASONS = [
  /** The host presented a key that is neither pinned nor in known_hosts, and nothing is expected for it. */
  'host_key_unknown',
  /** The host presented a key other than the one(s) pinned or known for it. */
  'host_key_mismatch',
  /** The presented key is listed `@revoked`. */
  'host_key_revoked',
  /** TCP connection refused (nothing listens on the port), or the server refused to open any session. */
  'refused',
  /** Connecting, the handshake or authentication took too long, or keepalives went unanswered. */
  'timeout',
  /** The server rejected every key offered, or no key could be offered. */
  'auth',
  /** The host name does not resolve. */
  'dns',
  /** No route to the host or network. */
  'unreachable',
  /** The connection or the session dropped (before the handshake or while a command ran). */
  'closed',
  /** A jump host could not open the tunnel to the next hop. */
  'jump',
] as const;
export type SshErrorReason = (typeof SSH_ERROR_REASONS)[number];

/** Every failure to reach or use a host over SSH. `host` is the name of the hop that failed. */
export class SshError extends Error {
  override readonly name = 'SshError';
  readonly reason: SshErrorReason;
  readonly host: string;

  constructor(reason: SshErrorReason, host: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.reason = reason;
    this.host = host;
  }
}

export function isSshError(value: unknown): value is SshError {
  return value instanceof SshError;
}

const SOCKET_REASONS: Record<string, SshErrorReason> = {
  ECONNREFUSED: 'refused',
  ENOTFOUND: 'dns',
  EAI_AGAIN: 'dns',
  EAI_NONAME: 'dns',
  EAI_NODATA: 'dns',
  EHOSTUNREACH: 'unreachable',
  ENETUNREACH: 'unreachable',
  EHOSTDOWN: 'unreachable',
  EADDRNOTAVAIL: 'unreachable',
  ETIMEDOUT: 'timeout',
  ECONNRESET: 'closed',
  EPIPE: 'closed',
};

/**
 * Maps an ssh2 client error to a reason. ssh2 tags errors with `level`: `client-socket` (with the
 * errno `code`), `client-timeout` (readyTimeout, keepalive), `client-authentication`, `client-dns`,
 * `agent`, `handshake` and `protocol`.
 */
export function reasonForSsh2Error(error: unknown): SshErrorReason {
  const { level, code } = (error ?? {}) as { level?: string; code?: string };
  switch (level) {
    case 'client-authentication':
    case 'agent':
      return 'auth';
    case 'client-timeout':
      return 'timeout';
    case 'client-dns':
      return 'dns';
    case 'client-socket':
      return (code && SOCKET_REASONS[code]) || 'unreachable';
    default:
      return (code && SOCKET_REASONS[code]) || 'closed';
  }
}
