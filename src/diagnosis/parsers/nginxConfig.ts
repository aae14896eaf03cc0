import { cite, parseUrl, splitHostPort, splitLines, type ParsedUrl } from './text.js';

export interface UpstreamServer {
  address: string;
  host: string;
  port: number | undefined;
  params: string[];
  raw: string;
}

export interface UpstreamBlock {
  name: string;
  servers: UpstreamServer[];
  raw: string;
}

export interface ProxyPass {
  target: string;
  url?: ParsedUrl;
  /** The `location` it sits in, as written (`/example/`, `~ ^(…)(/doc/.*)`). */
  location?: string;
  raw: string;
}

export interface ListenDirective {
  address: string;
  host: string | undefined;
  port: number | undefined;
  params: string[];
  raw: string;
}

export interface ProxySetting {
  /** proxy_connect_timeout, proxy_read_timeout, proxy_send_timeout, proxy_buffer_size, proxy_buffers, … */
  name: string;
  value: string;
  location?: string;
  raw: string;
}

export interface NginxConfig {
  upstreams: UpstreamBlock[];
  proxyPasses: ProxyPass[];
  listens: ListenDirective[];
  settings: ProxySetting[];
}

interface Directive {
  name: string;
  args: string[];
  line: number;
  /** Enclosing blocks, outermost first, each as `name args…`. */
  context: Directive[];
  block: boolean;
}

interface Token {
  text: string;
  line: number;
  quoted: boolean;
}

/** Splits nginx configuration text into words, `{`, `}` and `;`, dropping comments, keeping line numbers. */
function tokenize(lines: string[]): Token[] {
  const tokens: Token[] = [];
  lines.forEach((rawLine, index) => {
    // `nginx -T` prints its verdict before the files; those lines are not configuration.
    if (/^\s*nginx: /.test(rawLine)) return;
    let i = 0;
    while (i < rawLine.length) {
      const ch = rawLine[i]!;
      if (/\s/.test(ch)) {
        i += 1;
      } else if (ch === '#') {
        break;
      } else if (ch === '{' || ch === '}' || ch === ';') {
        tokens.push({ text: ch, line: index, quoted: false });
        i += 1;
      } else if (ch === '"' || ch === "'") {
        let j = i + 1;
        while (j < rawLine.length && rawLine[j] !== ch) j += rawLine[j] === '\\' ? 2 : 1;
        tokens.push({ text: rawLine.slice(i + 1, Math.min(j, rawLine.length)), line: index, quoted: true });
        i = j + 1;
      } else {
        let j = i;
        while (j < rawLine.length && !/[\s{};]/.test(rawLine[j]!)) j += rawLine[j] === '\\' ? 2 : 1;
        tokens.push({ text: rawLine.slice(i, Math.min(j, rawLine.length)), line: index, quoted: false });
        i = j;
      }
    }
  });
  return tokens;
}

function directives(tokens: Token[]): Directive[] {
  const result: Directive[] = [];
  const stack: Directive[] = [];
  let words: Token[] = [];
  for (const token of tokens) {
    if (!token.quoted && (token.text === ';' || token.text === '{')) {
      if (words.length > 0) {
        const directive: Directive = {
          name: words[0]!.text,
          args: words.slice(1).map((word) => word.text),
          line: words[0]!.line,
          context: [...stack],
          block: token.text === '{',
        };
        result.push(directive);
        if (directive.block) stack.push(directive);
      } else if (token.text === '{') {
        // An anonymous block is malformed; track it so the closing brace still balances.
        stack.push({ name: '', args: [], line: token.line, context: [...stack], block: true });
      }
      words = [];
    } else if (!token.quoted && token.text === '}') {
      stack.pop();
      words = [];
    } else {
      words.push(token);
    }
  }
  return result;
}

const PROXY_SETTINGS = new Set([
  'proxy_connect_timeout',
  'proxy_read_timeout',
  'proxy_send_timeout',
  'proxy_buffer_size',
  'proxy_buffers',
  'proxy_busy_buffers_size',
  'proxy_buffering',
  'proxy_next_upstream',
  'large_client_header_buffers',
]);

function locationOf(directive: Directive): string | undefined {
  const location = [...directive.context].reverse().find((block) => block.name === 'location');
  return location ? location.args.join(' ') : undefined;
}

/** Upstream blocks, proxy_pass targets, listen directives and proxy timeouts/buffers from `nginx -T` or config files. */
export function parseNginxConfig(text: unknown): NginxConfig {
  const lines = splitLines(text);
  const all = directives(tokenize(lines));
  const rawOf = (directive: Directive): string => cite(lines[directive.line] ?? '');
  const config: NginxConfig = { upstreams: [], proxyPasses: [], listens: [], settings: [] };
  const upstreamByDirective = new Map<Directive, UpstreamBlock>();
  for (const directive of all) {
    if (directive.name === 'upstream' && directive.block && directive.args[0]) {
      const block: UpstreamBlock = { name: directive.args[0], servers: [], raw: rawOf(directive) };
      upstreamByDirective.set(directive, block);
      config.upstreams.push(block);
      continue;
    }
    const parent = directive.context[directive.context.length - 1];
    const upstream = parent ? upstreamByDirective.get(parent) : undefined;
    if (directive.name === 'server' && upstream && directive.args[0]) {
      const address = directive.args[0];
      const { host, port } = address.startsWith('unix:') ? { host: address, port: undefined } : splitHostPort(address);
      upstream.servers.push({ address, host, port: port ?? (address.startsWith('unix:') ? undefined : 80), params: directive.args.slice(1), raw: rawOf(directive) });
    } else if ((directive.name === 'proxy_pass' || directive.name === 'grpc_pass') && directive.args[0]) {
      const url = parseUrl(directive.args[0]);
      const location = locationOf(directive);
      config.proxyPasses.push({ target: directive.args[0], ...(url ? { url } : {}), ...(location ? { location } : {}), raw: rawOf(directive) });
    } else if (directive.name === 'listen' && directive.args[0]) {
      config.listens.push(listen(directive.args[0], directive.args.slice(1), rawOf(directive)));
    } else if (PROXY_SETTINGS.has(directive.name)) {
      const location = locationOf(directive);
      config.settings.push({ name: directive.name, value: directive.args.join(' '), ...(location ? { location } : {}), raw: rawOf(directive) });
    }
  }
  return config;
}

function listen(address: string, params: string[], raw: string): ListenDirective {
  if (/^\d{1,5}$/.test(address)) return { address, host: undefined, port: Number(address), params, raw };
  if (address.startsWith('unix:')) return { address, host: undefined, port: undefined, params, raw };
  const { host, port } = splitHostPort(address);
  return { address, host, port: port ?? 80, params, raw };
}

export interface NginxTestError {
  message: string;
  file?: string;
  line?: number;
  raw: string;
}

export interface NginxTestResult {
  /** true: `test is successful`; false: `test failed` or an [emerg]; undefined: no nginx -t output seen. */
  ok: boolean | undefined;
  errors: NginxTestError[];
  /** The line that states the verdict, when there is one. */
  verdictLine?: string;
}

const EMERG = /\[emerg\]\s+(?:\d+#\d+:\s+)?(.*)$/;
const IN_FILE = /^(.*?)\s+in\s+(\/\S+?):(\d+)\s*$/;

/** `nginx -t` output: the verdict and each [emerg] with the file and line it names. */
export function parseNginxTest(text: unknown): NginxTestResult {
  const result: NginxTestResult = { ok: undefined, errors: [] };
  for (const line of splitLines(text)) {
    if (/configuration file \S+ test is successful/.test(line)) {
      result.ok = result.ok ?? true;
      result.verdictLine = result.verdictLine ?? cite(line);
    } else if (/configuration file \S+ test failed/.test(line)) {
      result.ok = false;
      result.verdictLine = cite(line);
    }
    const emerg = EMERG.exec(line);
    if (!emerg) continue;
    const located = IN_FILE.exec(emerg[1]!.trim());
    result.ok = false;
    result.errors.push({
      message: (located ? located[1]! : emerg[1]!).trim(),
      ...(located ? { file: located[2]!, line: Number(located[3]) } : {}),
      raw: cite(line),
    });
  }
  return result;
}
