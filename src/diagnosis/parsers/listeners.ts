import { cite, splitHostPort, splitLines } from './text.js';

export interface Listener {
  protocol: 'tcp' | 'udp';
  address: string;
  host: string;
  port: number;
  /** Process name as the tool prints it (`nginx`, `docservice`, `python3`); absent without -p or root. */
  process?: string;
  pid?: number;
  raw: string;
}

export interface ListenerTable {
  listeners: Listener[];
  /** True when the text held an `ss` or `netstat` table, even an empty one: then a missing port means nobody listens. */
  seen: boolean;
  /** The table's header line, cited when the table shows that nothing listens. */
  header?: string;
}

const SS_HEADER = /^(?:Netid\s+)?(?:State\s+)?Recv-Q\s+Send-Q\s+Local Address:Port\s+Peer Address:Port/;
const NETSTAT_HEADER = /^Proto\s+Recv-Q\s+Send-Q\s+Local Address\s+Foreign Address/;
const SS_USERS = /users:\(\("([^"]+)",pid=(\d+)/;
const NETSTAT_ROW = /^(tcp6?|udp6?)\s+\d+\s+\d+\s+(\S+)\s+\S+\s+(?:(LISTEN)\s+)?(?:(\d+)\/(\S+)|-)?/;
const SS_ROW = /^(?:(tcp|udp)\s+)?(?:(LISTEN|UNCONN)\s+)?\d+\s+\d+\s+(\S+)\s+\S+/;

function ssRow(line: string): Listener | undefined {
  const row = SS_ROW.exec(line.trim());
  if (!row) return undefined;
  const { host, port } = splitHostPort(row[3]!);
  if (port === undefined) return undefined;
  const users = SS_USERS.exec(line);
  return {
    protocol: row[1] === 'udp' || row[2] === 'UNCONN' ? 'udp' : 'tcp',
    address: row[3]!,
    host,
    port,
    ...(users ? { process: users[1]!, pid: Number(users[2]) } : {}),
    raw: cite(line),
  };
}

function netstatRow(line: string): Listener | undefined {
  const row = NETSTAT_ROW.exec(line.trim());
  if (!row) return undefined;
  const protocol = row[1]!.startsWith('udp') ? 'udp' : 'tcp';
  if (protocol === 'tcp' && row[3] !== 'LISTEN') return undefined;
  const { host, port } = splitHostPort(row[2]!);
  if (port === undefined) return undefined;
  return {
    protocol,
    address: row[2]!,
    host,
    port,
    ...(row[5] ? { process: row[5].replace(/:$/, ''), pid: Number(row[4]) } : {}),
    raw: cite(line),
  };
}

/** Listening sockets from `ss -ltnp` / `ss -tulnp` or `netstat -tulnp` (rows may appear without their header). */
export function parseListeners(text: unknown): ListenerTable {
  const table: ListenerTable = { listeners: [], seen: false };
  for (const line of splitLines(text)) {
    const trimmed = line.trim();
    if (SS_HEADER.test(trimmed) || NETSTAT_HEADER.test(trimmed) || /^Active Internet connections/.test(trimmed)) {
      table.seen = true;
      table.header = table.header ?? cite(line);
      continue;
    }
    const listener = /^(tcp6?|udp6?)\s/.test(trimmed) && !/\busers:\(/.test(trimmed) ? netstatRow(line) : ssRow(line);
    if (listener) {
      table.seen = true;
      table.listeners.push(listener);
    }
  }
  return table;
}
