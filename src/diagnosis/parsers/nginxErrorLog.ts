import { cite, parseUrl, splitLines, type ParsedUrl } from './text.js';

export type NginxErrorKind =
  | 'connect_refused'
  | 'connect_no_route'
  | 'connect_permission_denied'
  | 'connect_timeout'
  | 'read_timeout'
  | 'too_big_header'
  | 'premature_close'
  | 'no_live_upstreams'
  | 'host_not_found'
  | 'unresolved'
  | 'ssl_upstream'
  | 'too_many_open_files'
  | 'no_space'
  | 'upstream_other';

export interface NginxErrorEvent {
  kind: NginxErrorKind;
  level?: string;
  time?: string;
  /** The upstream URL as printed, parsed; for `host not found in upstream "x"` the named host. */
  upstream?: string;
  upstreamUrl?: ParsedUrl;
  client?: string;
  server?: string;
  request?: string;
  host?: string;
  raw: string;
}

/** Ordered: the first pattern that matches a line names its kind. */
const KINDS: Array<[RegExp, NginxErrorKind]> = [
  [/\(111: Connection refused\) while connecting to upstream/, 'connect_refused'],
  [/\(113: No route to host\) while connecting to upstream/, 'connect_no_route'],
  [/\(13: Permission denied\) while connecting to upstream/, 'connect_permission_denied'],
  [/\(110: [^)]*\) while connecting to upstream/, 'connect_timeout'],
  [/upstream timed out \(110: [^)]*\)/, 'read_timeout'],
  [/upstream sent too big header/, 'too_big_header'],
  [/upstream prematurely closed connection/, 'premature_close'],
  [/no live upstreams/, 'no_live_upstreams'],
  [/host not found in upstream/, 'host_not_found'],
  [/could not be resolved/, 'unresolved'],
  [/while SSL handshaking to upstream|upstream SSL certificate (?:verify error|does not match)/, 'ssl_upstream'],
  [/\(24: Too many open files\)/, 'too_many_open_files'],
  [/\(28: No space left on device\)/, 'no_space'],
];

const HEADER = /(\d{4}\/\d{2}\/\d{2} \d{2}:\d{2}:\d{2}) \[(\w+)\]/;

function field(line: string, name: string, quoted: boolean): string | undefined {
  const pattern = quoted ? new RegExp(`\\b${name}: "([^"]*)"`) : new RegExp(`\\b${name}: ([^,]*)`);
  return pattern.exec(line)?.[1];
}

/** One nginx error-log line, or undefined when it is not one of the kinds a 502/504 comes from. */
export function parseNginxErrorLine(line: string): NginxErrorEvent | undefined {
  const kind = KINDS.find(([pattern]) => pattern.test(line))?.[1] ?? otherUpstreamError(line);
  if (!kind) return undefined;
  const header = HEADER.exec(line);
  const upstream = field(line, 'upstream', true) ?? /host not found in upstream "([^"]*)"/.exec(line)?.[1] ?? /"?([\w.-]+)"? could not be resolved/.exec(line)?.[1];
  const upstreamUrl = upstream ? parseUrl(upstream) : undefined;
  const client = field(line, 'client', false);
  const server = field(line, 'server', false);
  const request = field(line, 'request', true);
  const host = field(line, 'host', true);
  return {
    kind,
    ...(header ? { time: header[1]!, level: header[2]! } : {}),
    ...(upstream !== undefined ? { upstream } : {}),
    ...(upstreamUrl ? { upstreamUrl } : {}),
    ...(client !== undefined ? { client: client.trim() } : {}),
    ...(server !== undefined ? { server: server.trim() } : {}),
    ...(request !== undefined ? { request } : {}),
    ...(host !== undefined ? { host } : {}),
    raw: cite(line),
  };
}

/** An error about the upstream that fits no known kind still shows the proxy failing. */
function otherUpstreamError(line: string): NginxErrorKind | undefined {
  return /\[(error|crit|alert|emerg)\]/.test(line) && /\bupstream: "/.test(line) ? 'upstream_other' : undefined;
}

/** Every line of an nginx error log (any prefix: docker compose, journald, `tail` headers) that bears on a 5xx. */
export function parseNginxErrorLog(text: unknown): NginxErrorEvent[] {
  const events: NginxErrorEvent[] = [];
  for (const line of splitLines(text)) {
    const event = parseNginxErrorLine(line);
    if (event) events.push(event);
  }
  return events;
}
