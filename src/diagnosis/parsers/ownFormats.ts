// The runbook's own line formats (docs/evidence-formats.md): probe, dependency, resolve, detect.
import { cite, parseUrl, splitHostPort, splitLines, type ParsedUrl } from './text.js';

export interface HttpProbe {
  name: string;
  url: string;
  parsedUrl?: ParsedUrl;
  /** HTTP status; 0 when there was no HTTP answer (`000`). */
  code: number;
  seconds: number;
  error?: string;
  raw: string;
}

const PROBE = /^probe\s+(\S+)\s+(\S+)\s+(\d{3})\s+(\d+(?:\.\d+)?)(?:\s+(.*))?$/;

export function parseHttpProbes(text: unknown): HttpProbe[] {
  const probes: HttpProbe[] = [];
  for (const line of splitLines(text)) {
    const match = PROBE.exec(line.trim());
    if (!match) continue;
    const parsedUrl = parseUrl(match[2]!);
    const error = match[5]?.trim();
    probes.push({
      name: match[1]!,
      url: match[2]!,
      ...(parsedUrl ? { parsedUrl } : {}),
      code: Number(match[3]),
      seconds: Number(match[4]),
      ...(error ? { error } : {}),
      raw: cite(line),
    });
  }
  return probes;
}

/** True when a probe got a real answer that is not an error (1xx–4xx: the upstream is there and answering). */
export function probeOk(probe: HttpProbe): boolean {
  return probe.code >= 100 && probe.code < 500;
}

export type DependencyState = 'open' | 'closed' | 'timeout';

export interface DependencyCheck {
  dependency: string;
  host: string;
  port: number | undefined;
  state: DependencyState;
  raw: string;
}

const DEPENDENCY = /^dependency\s+(\S+)\s+(\S+)\s+(open|closed|timeout)\s*$/;

export function parseDependencies(text: unknown): DependencyCheck[] {
  const checks: DependencyCheck[] = [];
  for (const line of splitLines(text)) {
    const match = DEPENDENCY.exec(line.trim());
    if (!match) continue;
    const { host, port } = splitHostPort(match[2]!);
    checks.push({ dependency: match[1]!, host, port, state: match[3] as DependencyState, raw: cite(line) });
  }
  return checks;
}

export interface DnsResult {
  name: string;
  addresses: string[];
  resolved: boolean;
  raw: string;
}

const RESOLVE = /^resolve\s+(\S+)\s+(.+?)\s*$/;

export function parseDns(text: unknown): DnsResult[] {
  const results: DnsResult[] = [];
  for (const line of splitLines(text)) {
    const match = RESOLVE.exec(line.trim());
    if (!match) continue;
    const unresolved = match[2] === 'unresolved';
    results.push({ name: match[1]!, addresses: unresolved ? [] : match[2]!.split(/\s+/), resolved: !unresolved, raw: cite(line) });
  }
  return results;
}

export interface Detection {
  /** Absent when the host printed `manager=unknown`: no manager was recognised. */
  manager?: 'systemd' | 'supervisor' | 'docker';
  install?: 'deb' | 'rpm' | 'docker' | 'unknown';
}

export function parseDetect(text: unknown): Detection {
  const detection: Detection = {};
  for (const line of splitLines(text)) {
    const manager = /^manager=(systemd|supervisor|docker)\s*$/.exec(line.trim());
    if (manager) detection.manager = manager[1] as Detection['manager'];
    const install = /^install=(deb|rpm|docker|unknown)\s*$/.exec(line.trim());
    if (install) detection.install = install[1] as Detection['install'];
  }
  return detection;
}

export interface SshFailure {
  reason: 'refused' | 'timeout' | 'no_route' | 'host_key' | 'auth' | 'resolve' | 'closed';
  raw: string;
}

const SSH_FAILURES: Array<[RegExp, SshFailure['reason']]> = [
  [/^ssh: connect to host \S+ port \d+: Connection refused/, 'refused'],
  [/^ssh: connect to host \S+ port \d+: (?:Connection|Operation) timed out/, 'timeout'],
  [/^ssh: connect to host \S+ port \d+: No route to host/, 'no_route'],
  [/^ssh: Could not resolve hostname/, 'resolve'],
  [/^Host key verification failed\.?$/, 'host_key'],
  [/REMOTE HOST IDENTIFICATION HAS CHANGED/, 'host_key'],
  [/^\S+@\S+: Permission denied \(|^Permission denied \((?:publickey|password|keyboard-interactive)/, 'auth'],
  [/^kex_exchange_identification: (?:read: Connection reset by peer|Connection closed by remote host)/, 'closed'],
];

/** OpenSSH client failures an operator pastes when a host could not be reached. */
export function parseSshFailures(text: unknown): SshFailure[] {
  const failures: SshFailure[] = [];
  for (const line of splitLines(text)) {
    const trimmed = line.trim();
    const reason = SSH_FAILURES.find(([pattern]) => pattern.test(trimmed))?.[1];
    if (reason) failures.push({ reason, raw: cite(line) });
  }
  return failures;
}
