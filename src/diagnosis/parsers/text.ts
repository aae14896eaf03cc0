// Shared helpers for the parsers. Every parser reads text an operator or a host produced, so these
// helpers accept anything and never throw: garbage in, empty result out.

/** The lines of a text, without line terminators. Non-strings count as empty text. */
export function splitLines(text: unknown): string[] {
  if (typeof text !== 'string' || text.length === 0) return [];
  return text.split(/\r\n|\r|\n/);
}

/** A line as cited in evidence: trimmed, so it still occurs verbatim in the input. */
export function cite(line: string): string {
  return line.trim();
}

export interface Section {
  /** The command named by a `==> cmd <==` header, or null for text before the first header. */
  command: string | null;
  lines: string[];
}

const SECTION_HEADER = /^==>\s*(.*?)\s*<==\s*$/;

/** Splits a step's output at `==> cmd <==` headers (the runbook separates tools this way, as `tail` does). */
export function splitSections(text: unknown): Section[] {
  const sections: Section[] = [{ command: null, lines: [] }];
  for (const line of splitLines(text)) {
    const header = SECTION_HEADER.exec(line.trim());
    if (header) {
      sections.push({ command: header[1] ?? '', lines: [] });
    } else {
      sections[sections.length - 1]!.lines.push(line);
    }
  }
  return sections.filter((section) => section.command !== null || section.lines.length > 0);
}

export interface NotInstalled {
  tool: string;
  raw: string;
}

const NOT_INSTALLED = /^([A-Za-z0-9_.+-]+): not installed\s*$/;

/** `<tool>: not installed` lines: the runbook's way of saying a tool is absent (evidence, not a failure). */
export function parseNotInstalled(text: unknown): NotInstalled[] {
  const found: NotInstalled[] = [];
  for (const line of splitLines(text)) {
    const match = NOT_INSTALLED.exec(line.trim());
    if (match) found.push({ tool: match[1]!, raw: cite(line) });
  }
  return found;
}

/** True for the loopback names and addresses nginx and docservice use by default. */
export function isLoopbackHost(host: string | undefined): boolean {
  if (!host) return false;
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  return bare === 'localhost' || bare === '::1' || /^127\.\d+\.\d+\.\d+$/.test(bare);
}

export interface HostPort {
  host: string;
  port: number | undefined;
}

/** Splits `host:port`, `[v6]:port`, `:::8000` (netstat), `*:80`; a bare name has no port. */
export function splitHostPort(value: string): HostPort {
  const trimmed = value.trim();
  const bracketed = /^\[([^\]]*)\](?::(\d+))?$/.exec(trimmed);
  if (bracketed) return { host: bracketed[1]!, port: toPort(bracketed[2]) };
  const lastColon = trimmed.lastIndexOf(':');
  if (lastColon < 0) return { host: trimmed, port: undefined };
  const port = toPort(trimmed.slice(lastColon + 1));
  if (port === undefined) return { host: trimmed, port: undefined };
  return { host: trimmed.slice(0, lastColon) || '*', port };
}

export function toPort(value: string | undefined): number | undefined {
  if (value === undefined || !/^\d{1,5}$/.test(value)) return undefined;
  const port = Number(value);
  return port >= 1 && port <= 65535 ? port : undefined;
}

export interface ParsedUrl {
  scheme: string;
  host: string;
  /** Explicit port, or the scheme's default when the host is an address or name (not an upstream group). */
  port: number | undefined;
  explicitPort: boolean;
  path: string;
}

const URL_SHAPE = /^([a-z][a-z0-9+.-]*):\/\/(\[[^\]]*\]|[^/:?#\s]*)(?::(\d+))?([^\s]*)$/i;

/** Parses the URLs nginx prints (`http://127.0.0.1:8000/x`, `http://docservice/x`, `https://[::1]:8443`). */
export function parseUrl(value: string): ParsedUrl | undefined {
  const match = URL_SHAPE.exec(value.trim());
  if (!match) return undefined;
  const scheme = match[1]!.toLowerCase();
  const explicit = toPort(match[3]);
  const defaultPort = scheme === 'https' || scheme === 'grpcs' ? 443 : scheme === 'http' ? 80 : undefined;
  return {
    scheme,
    host: match[2]!.replace(/^\[|\]$/g, ''),
    port: explicit ?? defaultPort,
    explicitPort: explicit !== undefined,
    path: match[4] ?? '',
  };
}

/** The ONLYOFFICE services and dependencies under the names their managers use. */
const SERVICE_ALIASES: Array<[RegExp, string]> = [
  [/docservice/, 'docservice'],
  [/converter|fileconverter/, 'converter'],
  [/example/, 'example'],
  [/metrics/, 'metrics'],
  [/adminpanel/, 'adminpanel'],
  [/spellchecker/, 'spellchecker'],
  [/^(?:ds-)?gc$/, 'gc'],
  [/nginx/, 'nginx'],
  [/postgres/, 'postgres'],
  [/rabbitmq|beam\.smp/, 'rabbitmq'],
  [/redis/, 'redis'],
  [/onlyoffice\/documentserver|documentserver/, 'docservice'],
];

/**
 * Maps a program, unit, container or process name to the service it is: `ds:docservice`,
 * `onlyoffice-documentserver:docservice`, `ds-docservice.service`, `redis-server` … Unknown names
 * come back lower-cased as they are.
 */
export function normalizeServiceName(name: string): string {
  const lower = name.trim().toLowerCase().replace(/\.service$/, '');
  const program = lower.includes(':') ? lower.slice(lower.lastIndexOf(':') + 1) : lower;
  for (const [pattern, service] of SERVICE_ALIASES) {
    if (pattern.test(program)) return service;
  }
  return program;
}

/** Strips what `docker compose logs` and journald put before a log line (`nginx.1    | `, `host sh[12]: `). */
export function stripLogPrefix(line: string): string {
  const compose = /^\s*[\w.-]+\s+\|\s?(.*)$/.exec(line);
  return compose ? compose[1]! : line;
}
