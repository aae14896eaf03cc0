import { cite, splitLines, toPort } from './text.js';

export type Dependency = 'postgres' | 'rabbitmq' | 'redis' | 'mysql';

export type ServiceLogKind =
  | 'dependency_unreachable'
  | 'dependency_auth'
  | 'dependency_schema'
  | 'address_in_use'
  | 'no_space'
  | 'too_many_open_files';

export interface ServiceLogFinding {
  kind: ServiceLogKind;
  dependency?: Dependency;
  /** The port named in the message: the dependency's, or the one that could not be bound. */
  port?: number;
  level?: string;
  raw: string;
}

const DEPENDENCY_PORTS: Record<number, Dependency> = {
  5432: 'postgres',
  5672: 'rabbitmq',
  5671: 'rabbitmq',
  6379: 'redis',
  3306: 'mysql',
};

const LOG4JS_LEVEL = /\[\d{4}-\d{2}-\d{2}[T ][\d:.]+\] \[(\w+)\]/;

interface Rule {
  pattern: RegExp;
  finding: (match: RegExpExecArray) => Omit<ServiceLogFinding, 'raw' | 'level'> | undefined;
}

function byPort(portText: string | undefined, kind: ServiceLogKind): Omit<ServiceLogFinding, 'raw' | 'level'> | undefined {
  const port = toPort(portText);
  const dependency = port === undefined ? undefined : DEPENDENCY_PORTS[port];
  return dependency ? { kind, dependency, port: port! } : undefined;
}

/** Ordered: the first rule that yields a finding describes the line. */
const RULES: Rule[] = [
  { pattern: /\b(?:EADDRINUSE|[Aa]ddress already in use)\b[^\n]*?(?::(\d{1,5}))?\s*$/, finding: (m) => addressInUse(m) },
  { pattern: /Redis connection to (\S+?):(\d+) failed/, finding: (m) => ({ kind: 'dependency_unreachable', dependency: 'redis', port: Number(m[2]) }) },
  { pattern: /\b(?:ECONNREFUSED|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH)\s+\[?[\w.:-]*?\]?:(\d{1,5})\b/, finding: (m) => byPort(m[1], 'dependency_unreachable') },
  { pattern: /Waiting for connection to the \S+ host on port (\d+)/, finding: (m) => byPort(m[1], 'dependency_unreachable') },
  { pattern: /ACCESS_REFUSED|ACCESS-REFUSED/, finding: () => ({ kind: 'dependency_auth', dependency: 'rabbitmq' }) },
  { pattern: /\[AMQP\].*(?:ECONNREFUSED|ECONNRESET|Socket closed|connect)/i, finding: () => ({ kind: 'dependency_unreachable', dependency: 'rabbitmq' }) },
  { pattern: /password authentication failed for user/, finding: () => ({ kind: 'dependency_auth', dependency: 'postgres' }) },
  { pattern: /relation "[^"]+" does not exist/, finding: () => ({ kind: 'dependency_schema', dependency: 'postgres' }) },
  { pattern: /database "[^"]+" does not exist|role "[^"]+" does not exist/, finding: () => ({ kind: 'dependency_auth', dependency: 'postgres' }) },
  { pattern: /ER_ACCESS_DENIED_ERROR|ER_BAD_DB_ERROR/, finding: () => ({ kind: 'dependency_auth', dependency: 'mysql' }) },
  { pattern: /ER_NO_SUCH_TABLE/, finding: () => ({ kind: 'dependency_schema', dependency: 'mysql' }) },
  { pattern: /\bENOSPC\b|no space left on device/i, finding: () => ({ kind: 'no_space' }) },
  { pattern: /\bEMFILE\b|too many open files/i, finding: () => ({ kind: 'too_many_open_files' }) },
];

function addressInUse(match: RegExpExecArray): Omit<ServiceLogFinding, 'raw' | 'level'> {
  const port = toPort(match[1]) ?? toPort(/:(\d{1,5})\b/.exec(match[0])?.[1]);
  return port === undefined ? { kind: 'address_in_use' } : { kind: 'address_in_use', port };
}

export function parseServiceLogLine(line: string): ServiceLogFinding | undefined {
  // Stack frames repeat the error above them; the first line is the one to cite.
  if (/^\s+at\s/.test(line)) return undefined;
  for (const rule of RULES) {
    const match = rule.pattern.exec(line);
    if (!match) continue;
    const finding = rule.finding(match);
    if (!finding) continue;
    const level = LOG4JS_LEVEL.exec(line)?.[1];
    return { ...finding, ...(level ? { level } : {}), raw: cite(line) };
  }
  return undefined;
}

/**
 * Findings in ONLYOFFICE docservice/converter logs (log4js `[time] [LEVEL] nodeJS - …`, journald or
 * docker prefixes): dependencies refusing or rejecting, a port already in use, no space, no descriptors.
 */
export function parseServiceLog(text: unknown): ServiceLogFinding[] {
  const findings: ServiceLogFinding[] = [];
  for (const line of splitLines(text)) {
    const finding = parseServiceLogLine(line);
    if (finding) findings.push(finding);
  }
  return findings;
}
