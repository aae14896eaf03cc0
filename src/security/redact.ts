// Secrets never leave the host in evidence: every value below is replaced by [REDACTED] while the
// rest of the line stays, so the evidence still reads (which key, which URL, which header).
//
// A value under a secret-looking name ends where the syntax it is written in ends it, and where two
// readings are possible the one that hides more wins:
// - quoted ("…" with backslash escapes, '…'), and shell words glued from quoted and bare pieces
//   ('a'"b"c, YAML's 'it''s'): up to the closing quote, spaces, #, ;, & and braces included;
// - inside a string that holds the whole assignment ("JWT_SECRET=…" in `docker inspect`'s Env):
//   up to that string's closing quote;
// - YAML and header style `key: value`, INI style `key = value`, an env file's line `KEY=value`
//   (`env`, `.env`, compose's `- KEY=value`): to the end of the line, stopping only where the next
//   `other:` key starts (YAML plain scalars cannot hold ": ") or where an enclosing {…} / (…) closes;
// - anything else (`PGPASSWORD=… psql`, query strings, `--password=…`): one shell word; `&`, `;`,
//   `,` and `|` end it only when what follows starts something new (`&md5=`, `; psql`, `;Pooling=`);
// - `key:` with the value on the lines below (YAML mappings, lists, block scalars) and
//   `key: {…}` / `key: […]` (JSON, YAML flow, Python/Ruby hashes): every value inside, keys kept.

import {
  AFTER_CLOSER,
  CLOSERS,
  closingQuote,
  closingQuoteBelow,
  closingYamlQuote,
  COMMAND_AFTER_WORD,
  type Edit,
  hidden,
  lineEndAt,
  Lines,
  lineStartAt,
  matchesAt,
  NEXT_INI_KEY,
  NEXT_YAML_KEY,
  OPENERS,
  REDACTED,
  restOfLineEnd,
  rewriteMatches,
  wordEnd,
  type WordOptions,
  worthHiding,
} from './value-bounds.js';

export { REDACTED };

// --- which names hold secrets ------------------------------------------------------------------------

/** Anywhere in a name: PGPASSWORD, dbPassword, JWT_SECRET_INBOX, X-Auth-Token, api_key, machinekey. */
const SECRET_WORD =
  /password|passwd|passphrase|secret|token|credential|api[_.-]?key|access[_.-]?key|private[_.-]?key|client[_.-]?key|machine[_.-]?key|signing[_.-]?key|encryption[_.-]?key|session[_.-]?key/i;
/** Only as the name's last part (DB_PASS, dbPass, DB_PWD, basic_auth, "jwt"), not bypass, author, JWT_HEADER. */
const SECRET_LAST_PART = new Set(['pass', 'pwd', 'pw', 'auth', 'jwt', 'apikey']);
/** Trailing parts that still name the same secret: DB_PASS_VALUE, jwt_string, AUTH_KEY. */
const QUALIFIER_PART = new Set(['string', 'str', 'value', 'val', 'key', 'hash', 'b64', 'base64', 'text', 'raw', 'plain']);
/** The shell's working directories, not passwords. */
const NOT_SECRET_NAMES = new Set(['pwd', 'oldpwd']);
/**
 * Last parts that make a name describe a secret rather than hold it: PASSWORD_FILE, secretName,
 * secretKeyRef, defaultMode, TOKEN_TYPE, jwt_expires, PASSWORD_MIN_LENGTH.
 */
const ABOUT_A_SECRET = new Set([
  ...['ref', 'refs', 'name', 'names', 'file', 'files', 'path', 'dir', 'mode', 'type', 'enabled', 'enable', 'header', 'algorithm', 'alg'],
  ...['length', 'len', 'min', 'max', 'ttl', 'expires', 'expiry', 'expiration', 'lifetime', 'timeout', 'prefix', 'format', 'version', 'count'],
]);

function nameParts(name: string): string[] {
  return name
    .replace(/^[-$]+/, '')
    .split(/[_.-]+|(?<=[a-z0-9])(?=[A-Z])/)
    .filter((part) => part !== '')
    .map((part) => part.toLowerCase());
}

/** True when the name says what its value is about (a file, a reference, a length), not the secret itself. */
function describesASecret(name: string): boolean {
  const bare = name.replace(/^[-$]+/, '').toLowerCase();
  return NOT_SECRET_NAMES.has(bare) || ABOUT_A_SECRET.has(nameParts(name).at(-1) ?? '');
}

/** True when values under this name (a key, an env variable, a flag, an XML element) are secrets. */
export function isSecretName(name: string): boolean {
  if (describesASecret(name)) return false;
  if (SECRET_WORD.test(name)) return true;
  const parts = nameParts(name);
  while (parts.length > 1 && QUALIFIER_PART.has(parts.at(-1)!)) parts.pop();
  return SECRET_LAST_PART.has(parts.at(-1) ?? '');
}

// --- key/value pairs -----------------------------------------------------------------------------------

/**
 * A name and its separator: `=`, `:`, `=>`, `:=`, `%3D`, the name bare, quoted ("key", 'key', \"key\"),
 * or a flag (-Dpassword=, --password=). Starts only where no name character precedes, so each name is
 * read once (the scan stays linear on long runs of letters).
 */
const KEY = /(?<![\w$.\\/-])(--?|\$)?([A-Za-z_][\w.-]*)(\\?["'])?([ \t]*)(=>|:=|=|:(?![/:])|%3[dD])([ \t]*)/g;
const YAML_BLOCK_START = /^[ \t]*(?:[|>][-+0-9]*[ \t]*)?(?:#.*)?$/;
const YAML_CHILD_KEY = /^((?:-[ \t]+)?(?:"(?:[^"\\]|\\.)*"|'[^']*'|[^\s#'"-][^#]*?|-[^\s#][^#]*?)[ \t]*:)([ \t]+|$)/;
const MAX_DEPTH = 16;

interface ScanState {
  /** Every key counts as secret (inside a structure under a secret name). */
  forced: boolean;
  depth: number;
}

/** For each opening bracket, the index of the one closing it (strings skipped); found in one pass. */
function bracketPairs(text: string): Map<number, number> {
  const pairs = new Map<number, number>();
  const open: number[] = [];
  let lineEnd = -1;
  let unclosed = '';
  for (let i = 0; i < text.length; i++) {
    if (i > lineEnd) {
      lineEnd = lineEndAt(text, i);
      unclosed = '';
    }
    const char = text[i]!;
    if (char === '"' || char === "'") {
      const close = unclosed.includes(char) ? -1 : closingQuote(text, i, lineEnd);
      if (close < 0) unclosed += char;
      else i = close;
    } else if (OPENERS.includes(char)) open.push(i);
    else if (CLOSERS.includes(char) && open.length > 0) {
      const opener = open.pop()!;
      if (OPENERS.indexOf(text[opener]!) === CLOSERS.indexOf(char)) pairs.set(opener, i);
      else open.length = 0; // crossed brackets: nothing opened so far is closed properly
    }
  }
  return pairs;
}

/**
 * How a structure starts: a mapping with a JSON key (`{"a":`), a YAML flow key (`{a: `, the colon then a
 * space), a Ruby key (`{ :a =>`), or nothing; a list with a string, a number, a structure or nothing.
 */
const STRUCTURE_START = /^(?:\{\s*(?:\}|"(?:[^"\\\r\n]|\\.)*"\s*:|'(?:[^'\\\r\n]|\\.)*'\s*(?::|=>)|:?[A-Za-z_$][\w.$-]*\s*(?::\s|=>))|\[\s*(?:[\]{["']|-?\d|true\b|false\b|null\b))/;

/** Strings read left to right (so a closing quote never opens another); keys are followed by a separator. */
const STRUCTURE_TOKEN = /("(?:[^"\\\r\n]|\\.)*"|'(?:[^'\\\r\n]|\\.)*')([ \t]*(?::|=>|=))?|[^"']+|["']/g;

function redactStructure(body: string, state: ScanState): string {
  // A list of bare values (["a", "b"], [a, b]): the whole list.
  if (!new RegExp(KEY.source).test(body)) return body.slice(1, -1).trim() === '' ? body : REDACTED;
  const inner = scanPairs(body, { forced: true, depth: state.depth + 1 });
  // Strings still left are list items (["a", "b"] inside the structure): hidden too.
  return inner.replace(STRUCTURE_TOKEN, (token: string, literal?: string, separator?: string) =>
    literal !== undefined && separator === undefined && worthHiding(literal) ? hidden(literal) : token,
  );
}

/** `key:` followed by more-indented lines: the lines that belong to it, and how to hide them. */
function redactYamlBlock(text: string, keyColumn: number, from: number, blockScalar: boolean, keepMappings: boolean): { end: number; replacement: string } | undefined {
  const lines: { start: number; end: number; indent: number; blank: boolean }[] = [];
  let at = from;
  let sequenceAtKeyColumn = false;
  while (at < text.length) {
    const start = at + (text[at] === '\r' && text[at + 1] === '\n' ? 2 : 1);
    if (start > text.length) break;
    const end = lineEndAt(text, start);
    const line = text.slice(start, end);
    const indent = /^[ \t]*/.exec(line)![0].length;
    const blank = line.trim() === '';
    const isItemAtKey = indent === keyColumn && /^[ \t]*-(?:[ \t]|$)/.test(line);
    if (!blank && indent <= keyColumn && !(isItemAtKey && (lines.length === 0 || sequenceAtKeyColumn))) break;
    if (isItemAtKey) sequenceAtKeyColumn = true;
    lines.push({ start, end, indent, blank });
    at = end;
  }
  while (lines.length > 0 && lines.at(-1)!.blank) lines.pop();
  if (lines.length === 0) return undefined;
  const last = lines.at(-1)!;
  const content = lines.find((line) => !line.blank)!;
  if (blockScalar) {
    return { end: last.end, replacement: `${text.slice(content.start, content.start + content.indent)}${REDACTED}` };
  }
  const firstContent = text.slice(content.start + content.indent, content.end);
  if (keepMappings && (YAML_CHILD_KEY.test(firstContent) || firstContent.startsWith('-'))) return undefined;
  const pieces: string[] = [];
  // Lines deeper than this belong to a child's block scalar or open quoted scalar: hidden whole.
  let scalarIndent = Number.POSITIVE_INFINITY;
  for (const [index, line] of lines.entries()) {
    if (index > 0) pieces.push(text.slice(lines[index - 1]!.end, line.start));
    const indent = text.slice(line.start, line.start + line.indent);
    const body = text.slice(line.start + line.indent, line.end);
    pieces.push(hideYamlLine(indent, body, line.indent > scalarIndent));
    if (!line.blank && line.indent <= scalarIndent) scalarIndent = Number.POSITIVE_INFINITY;
    const child = YAML_CHILD_KEY.exec(body);
    const value = child ? body.slice(child[0].length).trim() : '';
    if (line.indent <= scalarIndent && child && (/^[|>]/.test(value) || (/^["']/.test(value) && closingYamlQuote(value, 0, value.length) < 0))) {
      scalarIndent = line.indent;
    }
  }
  const replacement = pieces.join('');
  return { end: last.end, replacement };
}

/** One line below a secret key: a child's value, a list item, or (inside a scalar) the whole line. */
function hideYamlLine(indent: string, body: string, insideScalar: boolean): string {
  if (body.trim() === '' || (!insideScalar && body.startsWith('#'))) return `${indent}${body}`;
  if (insideScalar) return `${indent}${REDACTED}`;
  const child = YAML_CHILD_KEY.exec(body);
  if (child) {
    const value = body.slice(child[0].length);
    const childName = child[1]!.replace(/^-[ \t]+/, '').replace(/[ \t]*:$/, '').replace(/^(["'])(.*)\1$/, '$2');
    if (value.trim() === '' || YAML_BLOCK_START.test(value) || describesASecret(childName)) return `${indent}${body}`;
    return worthHiding(value) ? `${indent}${child[0]}${hidden(value.trimEnd())}` : `${indent}${body}`;
  }
  const item = /^(-[ \t]+)(.*)$/s.exec(body);
  if (item) return worthHiding(item[2]!) ? `${indent}${item[1]}${hidden(item[2]!.trimEnd())}` : `${indent}${body}`;
  return `${indent}${REDACTED}`;
}

interface PairContext {
  text: string;
  lines: Lines;
  state: ScanState;
  /** Bracket pairs of the text, found once when a structure is first met. */
  pairs?: Map<number, number>;
}

/** Finds `name<sep>value` pairs whose name is secret and hides their values. */
function scanPairs(text: string, state: ScanState): string {
  const context: PairContext = { text, lines: new Lines(text), state };
  // A pattern of its own: structures scan their insides with this function, recursively.
  return rewriteMatches(text, new RegExp(KEY.source, 'g'), (match) => pairEdit(context, match));
}

/** What to do with one `name<sep>` match: hide its value, its structure or its block, or read on. */
function pairEdit(context: PairContext, match: RegExpExecArray): Edit | undefined {
  const { text, lines, state } = context;
  const [whole, dashes = '', name = '', keyQuote = '', spaceBefore = '', arrow = '', spaceAfter = ''] = match as unknown as string[];
  const keyStart = match.index;
  const lineStart = lines.start(keyStart);
  const before = text[keyStart - 1] ?? '';
  // KEY=>value glued, at a line's start or inside a string, is an assignment whose value starts with `>`.
  const startsLine = /^[ \t]*(?:-[ \t]+)?$/.test(text.slice(lineStart, keyStart));
  const glued = arrow === '=>' && spaceBefore === '' && keyQuote === '' && (spaceAfter === '' || startsLine || before === '"' || before === "'");
  const separator = glued ? '=' : arrow;
  const valueStart = glued ? keyStart + whole!.length - spaceAfter.length - 1 : keyStart + whole!.length;
  const jsonString = keyQuote === '"' && before === '"' && name.toLowerCase() === 'string';
  const secret = state.forced ? !describesASecret(name) : jsonString || isSecretName(`${dashes}${name}`);
  if (!secret) return undefined;
  const lineEnd = lines.end(valueStart);
  const first = text[valueStart] ?? '';
  const isToken = name.toLowerCase() === 'token';

  // Structures follow `:` and `=>` (JSON, YAML flow, Ruby, Python dicts) and INI's ` = `; after a glued `=`
  // (shell, env, logfmt) brackets are characters of one word.
  const structured = separator === ':' || separator === '=>' || (separator === '=' && spaceBefore !== '');
  if ((first === '{' || first === '[') && structured && !text.startsWith(REDACTED, valueStart)) {
    // A structure under a secret name: every value inside. ONLYOFFICE's "token": {…} holds switches
    // and header names, not secrets, so it is read key by key instead.
    let close = state.depth < MAX_DEPTH && !isToken ? ((context.pairs ??= bracketPairs(text)).get(valueStart) ?? -1) : -1;
    // `[]abc` is one value, not a list; `{Z3&:x}` is one value, not a mapping.
    if (close > 0 && (!matchesAt(AFTER_CLOSER, text, close + 1) || !STRUCTURE_START.test(text.slice(valueStart, close + 1)))) close = -1;
    if (close > 0) return { start: valueStart, end: close + 1, replacement: redactStructure(text.slice(valueStart, close + 1), state) };
    if (isToken || text.slice(valueStart + 1, lineEnd).trim() === '') return undefined;
  }

  if (separator === ':' && YAML_BLOCK_START.test(text.slice(valueStart, lineEnd))) {
    // `key:` with its value on the lines below (a mapping, a list, a block scalar, a folded plain scalar).
    const keyColumn = keyStart - lineStart - (before === '"' || before === "'" ? 1 : 0);
    const block = redactYamlBlock(text, keyColumn, lineEnd, /^[|>]/.test(text.slice(valueStart, lineEnd).trim()), isToken);
    if (block) return { start: lineEnd + (text.startsWith('\r\n', lineEnd) ? 2 : 1), end: block.end, replacement: block.replacement };
    // Nothing below: `key: #…` is a value after all (an HTTP header's, a log line's).
  }

  const end = scalarEnd(context, { keyStart, keyQuote, before, separator, spaceBefore, spaceAfter, valueStart, lineEnd, envLine: separator === '=' && spaceBefore === '' && startsLine });
  const value = text.slice(valueStart, end);
  return { start: valueStart, end: Math.max(end, valueStart), ...(worthHiding(value) ? { replacement: hidden(value) } : {}) };
}

interface ScalarAt {
  keyStart: number;
  keyQuote: string;
  /** The character before the key. */
  before: string;
  separator: string;
  spaceBefore: string;
  spaceAfter: string;
  valueStart: number;
  lineEnd: number;
  /** `KEY=` starts its line (an env file's line, or a command with an assignment before it). */
  envLine: boolean;
}

/** Where a one-line (or quoted) value ends, by the syntax the key and separator are written in. */
function scalarEnd({ text, lines }: PairContext, at: ScalarAt): number {
  const { keyStart, keyQuote, before, separator, spaceBefore, spaceAfter, valueStart, lineEnd } = at;
  const first = text[valueStart] ?? '';
  const closers = lines.enclosingClosers(keyStart);
  const encloser = before === '"' || before === "'" ? before : '';
  const equals = separator !== ':' && separator !== '=>';
  const quoted = first === '"' || first === "'";
  const quotedStart = quoted && closingQuote(text, valueStart, lineEnd) > 0;
  const escapedJson = keyQuote.startsWith('\\') && text.startsWith('\\"', valueStart);
  const word: WordOptions = { closers, encoded: separator.startsWith('%'), json: separator === ':', escapedJson };
  if (encloser && !keyQuote && equals && first !== encloser) {
    // The string holds the whole assignment ("JWT_SECRET=…" in docker inspect, -e 'PASSWORD=…').
    const close = closingQuote(text, keyStart - 1, lineEnd);
    return close < 0 ? lineEnd : close;
  }
  if (at.envLine) {
    // An env file's line (quotes in `env`'s output are part of the value), unless it runs a command.
    const firstWord = wordEnd(text, valueStart, lineEnd, word);
    return COMMAND_AFTER_WORD.test(text.slice(firstWord, lineEnd)) ? firstWord : restOfLineEnd(text, valueStart, lineEnd, undefined, closers);
  }
  if (before === ';' && separator === '=') return wordEnd(text, valueStart, lineEnd, { ...word, semicolonList: true });
  if (quoted && separator === ':' && spaceAfter !== '' && (!quotedStart || closingQuoteBelow(text, valueStart, lineEnd) > lineEnd)) {
    // A YAML quoted scalar folded over the lines below (indented), or a quote left open.
    return closingQuoteBelow(text, valueStart, lineEnd);
  }
  if (separator === '=' && spaceBefore !== '' && spaceAfter !== '') {
    // INI and TOML: the value is the rest of the line, a quoted string at its start read whole.
    const from = quotedStart ? closingQuote(text, valueStart, lineEnd) + 1 : valueStart;
    return Math.max(from, restOfLineEnd(text, from, lineEnd, NEXT_INI_KEY, closers));
  }
  if (quotedStart || separator === '=>' || separator === ':=' || (separator === ':' && spaceAfter === '') || escapedJson) {
    return wordEnd(text, valueStart, lineEnd, word);
  }
  if (separator === ':') return restOfLineEnd(text, valueStart, lineEnd, NEXT_YAML_KEY, closers);
  return wordEnd(text, valueStart, lineEnd, word);
}

// --- values written next to their name: name: JWT_SECRET / value: … ------------------------------------

/** Kubernetes env entries, `{"name": "X", "value": …}`, .NET's `<add key="X" value="…"/>`. */
const NAMED_VALUE = /\b(?:name|key)["']?[ \t]*[:=][ \t]*(["']?)([A-Za-z_][\w.-]*)\1[ \t]*,?[ \t]*(?:\r?\n[ \t]*)?["']?value["']?([ \t]*)([:=])[ \t]*/gi;

function redactNamedValues(text: string): string {
  const lines = new Lines(text);
  return rewriteMatches(text, NAMED_VALUE, (match) => {
    if (!isSecretName(match[2]!)) return undefined;
    const start = match.index + match[0].length;
    const lineEnd = lines.end(start);
    const closers = lines.enclosingClosers(match.index);
    const quoted = (text[start] === '"' || text[start] === "'") && closingQuote(text, start, lineEnd) > 0;
    const end = quoted || match[4] === '=' ? wordEnd(text, start, lineEnd, { closers }) : restOfLineEnd(text, start, lineEnd, NEXT_YAML_KEY, closers);
    const value = text.slice(start, end);
    return { start, end, ...(worthHiding(value) ? { replacement: hidden(value) } : {}) };
  });
}

// --- private keys ----------------------------------------------------------------------------------------

const PEM_BEGIN = /-----BEGIN ([A-Z0-9 ]*?)PRIVATE KEY( BLOCK)?-----/g;
const PEM_HEADER = /^[A-Za-z][\w-]*: /;
const BASE64_RUN = /^[A-Za-z0-9+/=]*$/;

/**
 * Where the body of a key cut before its END line stops (a capped output): after the lines that are
 * headers (Proc-Type: …) or base64, up to the first line that is neither. Lines are split by newlines,
 * or by "\n" escapes when the key sits in a JSON string (which then never runs past the real line).
 */
function cutKeyBodyEnd(text: string, bodyStart: number): number {
  const escaped = /^\\r?\\n/.test(text.slice(bodyStart, bodyStart + 4));
  const separator = escaped ? /\\r?\\n/y : /\r?\n/y;
  let end = bodyStart;
  let at = bodyStart;
  let base64Seen = false;
  for (;;) {
    separator.lastIndex = at;
    if (!separator.test(text)) break;
    const start = separator.lastIndex;
    const lineEnd = lineEndAt(text, start);
    const next = escaped ? text.indexOf('\\', start) : -1;
    const stop = next >= 0 && next < lineEnd ? next : lineEnd;
    const line = text.slice(start, stop);
    const header = !base64Seen && PEM_HEADER.test(line);
    if (!header && !BASE64_RUN.test(line)) break;
    if (!header && line !== '') base64Seen = true;
    if (line !== '') end = stop;
    at = stop;
  }
  return end;
}

function redactPrivateKeys(text: string): string {
  const missingEnds = new Set<string>(); // END lines not found after an earlier BEGIN: not after a later one either
  return rewriteMatches(text, PEM_BEGIN, (match) => {
    const [begin, kind = '', block = ''] = match as unknown as string[];
    const bodyStart = match.index + begin!.length;
    const newline = text.startsWith('\\n', bodyStart) ? '\\n' : '\n';
    const endLine = `-----END ${kind}PRIVATE KEY${block}-----`;
    const endAt = missingEnds.has(endLine) ? -1 : text.indexOf(endLine, bodyStart);
    if (endAt >= 0) return { start: match.index, end: endAt + endLine.length, replacement: `${begin}${newline}${REDACTED}${newline}${endLine}` };
    missingEnds.add(endLine);
    // Cut before its END line (a capped output): the base64 that follows, not what comes after it.
    const end = cutKeyBodyEnd(text, bodyStart);
    return end === bodyStart ? undefined : { start: match.index, end, replacement: `${begin}${newline}${REDACTED}` };
  });
}

const PEM_END = /-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----/g;
const BASE64_LINE = /^[ \t]*[A-Za-z0-9+/=]+[ \t]*$/;

/** The tail of a key without its BEGIN (`tail` of a key file, an output cut at its start): the base64 lines before END. */
function redactPrivateKeyTails(text: string): string {
  let done = 0;
  return rewriteMatches(text, PEM_END, (match) => {
    const endLineStart = lineStartAt(text, match.index);
    if (text.slice(endLineStart, match.index).trim() !== '') return undefined;
    let bodyStart = endLineStart;
    let bodyEnd = -1;
    while (bodyStart > done) {
      const previousEnd = bodyStart - (text[bodyStart - 1] === '\n' && text[bodyStart - 2] === '\r' ? 2 : 1);
      const previous = lineStartAt(text, previousEnd);
      if (!BASE64_LINE.test(text.slice(previous, previousEnd))) break;
      if (bodyEnd < 0) bodyEnd = previousEnd;
      bodyStart = previous;
    }
    done = match.index;
    // The search goes on after the END line: the edit ends before it.
    return bodyEnd < 0 ? undefined : { start: bodyStart, end: bodyEnd, replacement: REDACTED };
  });
}

/** PuTTY's .ppk: `Private-Lines: N` and the base64 lines after it. */
const PUTTY_PRIVATE = /(Private-Lines:[ \t]*\d+[ \t]*\r?\n)((?:[A-Za-z0-9+/=]+[ \t]*(?:\r?\n|$))+)/g;

// --- tokens, headers, URLs -------------------------------------------------------------------------------

/** `scheme://` and the run after it that may hold `user:password@host` (to the next URL at most). */
const URL_START = /(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]*:\/\//g;
const HOST_AFTER_AT = /(?:\[[0-9A-Fa-f:.]+\]|[^\s/?#@:'"<>[\]]+)(?::\d*)?(?=[/?#'",;)\]}>]|$)/y;

/**
 * user:password@ in URLs (amqp://guest:guest@, redis://:pass@, postgres://u:p@). A password may hold
 * unencoded `@`, `:` and `/` (amqp://user:p@ss@host): it runs to the last `@` that a host follows.
 */
function redactUrlPasswords(text: string): string {
  return rewriteMatches(text, URL_START, (match) => {
    const authority = match.index + match[0].length;
    let runEnd = authority;
    while (runEnd < text.length && !/[\s"<>]/.test(text[runEnd]!) && !text.startsWith('://', runEnd)) runEnd++;
    if (runEnd < text.length && text.startsWith('://', runEnd)) {
      while (runEnd > authority && /[A-Za-z0-9+.-]/.test(text[runEnd - 1]!)) runEnd--;
    }
    const run = text.slice(authority, runEnd);
    const colon = run.search(/[:/?#]/);
    if (colon < 0 || run[colon] !== ':' || /^:\d*(?:[/?#]|$)/.test(run.slice(colon))) return undefined;
    // The last `@` a host follows: a password may hold `@`, `/`, `?` and `#` unencoded, and a path or
    // query holding `@` after a real password only makes more of the URL hidden.
    const hostAt = [...run.matchAll(/@/g)]
      .map((at) => at.index)
      .filter((at) => at > colon && matchesAt(HOST_AFTER_AT, run, at + 1))
      .at(-1);
    if (hostAt === undefined || hostAt === colon + 1) return undefined;
    return { start: authority + colon + 1, end: authority + hostAt, replacement: REDACTED };
  });
}

/** Authorization schemes whose credentials are one token (RFC 7235 token68 and friends). */
const TOKEN_SCHEMES = 'Bearer|Basic|Token|Bot|JWT|ApiKey|Api-Key|Key|OAuth|SSWS|Negotiate|NTLM|Splunk|GenieKey';

interface Rule {
  pattern: RegExp;
  replace: (match: string, ...groups: string[]) => string;
}

const RULES: Rule[] = [
  { pattern: PUTTY_PRIVATE, replace: (_match, header, body) => `${header}${REDACTED}${/\r?\n$/.exec(body)?.[0] ?? ''}` },
  // JSON Web Tokens (and JWE's five parts): ONLYOFFICE's signed requests and callbacks carry them in URLs and bodies.
  { pattern: /(?<![\w-])eyJ[\w-]{4,}(?:\.[\w-]*){1,4}/g, replace: () => REDACTED },
  // Slack bot, user, app-level, rotating, and browser tokens; incoming-webhook URLs (the path is the secret).
  { pattern: /(?<![A-Za-z0-9])xox[a-z](?:\.xox[a-z])?-[A-Za-z0-9%-]+/g, replace: () => REDACTED },
  { pattern: /(?<![A-Za-z0-9])xapp-[A-Za-z0-9-]+/g, replace: () => REDACTED },
  { pattern: /(https?:\/\/hooks\.slack(?:-gov)?\.com\/(?:services|workflows|triggers)\/)[^\s"'<>]+/g, replace: (_match, base) => `${base}${REDACTED}` },
  // Authorization headers: a token scheme stays; Digest's and unknown schemes' parameters go whole
  // (quoted parameters included), up to a quote that closes the string the header was written in.
  {
    pattern: new RegExp(String.raw`\b((?:Proxy-)?Authorization(?:Jwt)?["']?[ \t]*[:=][ \t]*["']?)(?:(${TOKEN_SCHEMES})[ \t]+)?((?:[^\r\n"'\\]|\\.|"[^"\r\n]*"|'[^'\r\n]*')*)`, 'gi'),
    replace: (match, header, scheme, rest) => {
      if (rest!.trim() === '' || rest!.startsWith(REDACTED)) return match;
      if (scheme) return `${header}${scheme} ${REDACTED}${rest!.slice(/^[^\s"'\\]+/.exec(rest!)?.[0].length ?? 0)}`;
      return `${header}${REDACTED}${/[ \t]*$/.exec(rest!)![0]}`;
    },
  },
  { pattern: /\b((?:Set-)?Cookie[ \t]*:[ \t]*)(?!\[REDACTED\])[^\s"'\\][^\r\n"'\\]*/gi, replace: (_match, header) => `${header}${REDACTED}` },
  { pattern: /\b(Bearer)[ \t]+(?!\[REDACTED\])[^\s"'\\]+/g, replace: (_match, scheme) => `${scheme} ${REDACTED}` },
  // XML elements named like a secret: <password>…</password>, <jwtSecret>…</jwtSecret>.
  {
    pattern: /<([A-Za-z_][\w.:-]*)(\s[^<>]*)?>([^<]+)<\/\1>/g,
    replace: (match, name, attributes = '', value) =>
      isSecretName(name!.replace(/^.*:/, '')) && worthHiding(value!) ? `<${name}${attributes}>${REDACTED}</${name}>` : match,
  },
];

/** Secrets passed as separate words: a flag and its value, or a directive and its value. */
interface WordAfter {
  /** Ends just before the value. */
  pattern: RegExp;
  /** The value is secret when this holds of the matched flag or directive. */
  secret?: (flag: string) => boolean;
  /** A program that must appear earlier on the line (within 1 KiB) for the flag to mean a password. */
  program?: RegExp;
}

const WORDS_AFTER: WordAfter[] = [
  // --password hunter2, --token abc, -password x (not --password-file's path: a name, see describesASecret).
  { pattern: /(?<![\w-])(--?[A-Za-z][\w-]*)[ \t]+(?=[^\s-])/g, secret: isSecretName },
  // redis.conf; nginx's secure link secret in ONLYOFFICE's ds.conf.
  { pattern: /^[ \t]*(requirepass|masterauth)[ \t]+/gim },
  { pattern: /(\$secure_link_secret)[ \t]+/g },
  // Flags whose meaning depends on the program: redis-cli -a, sshpass -p, curl -u user:password, mysql -pSECRET.
  { pattern: /(?<=[ \t])(-a)[ \t]+/g, program: /\bredis-cli\b/ },
  { pattern: /(?<=[ \t])(-p)(?=\S)/g, program: /\b(?:mysql|mysqldump|mysqladmin|mariadb|mariadb-dump)\b/ },
  { pattern: /(?<=[ \t])(-p)[ \t]+(?=[^\s-])/g, program: /\bsshpass\b/ },
  { pattern: /(?<=[ \t])(-u|--user)[ \t]*(?=[^\s-])/g, program: /\bcurl\b/ },
];

function redactWordsAfter(text: string): string {
  let result = text;
  for (const { pattern, secret, program } of WORDS_AFTER) {
    const current = result;
    const lines = new Lines(current);
    result = rewriteMatches(current, pattern, (match) => {
      const flag = match[1]!;
      if (secret && !secret(flag)) return undefined;
      if (program && !program.test(current.slice(Math.max(lines.start(match.index), match.index - 1024), match.index))) return undefined;
      const start = match.index + match[0].length;
      const value = current.slice(start, wordEnd(current, start, lines.end(start), { closers: '' }));
      // `$secure_link_secret x;`: the directive's `;` is not part of the value.
      const trimmed = flag === '$secure_link_secret' ? value.replace(/;$/, '') : value;
      return worthHiding(trimmed) ? { start, end: start + trimmed.length, replacement: hidden(trimmed) } : undefined;
    });
  }
  return result;
}

/**
 * Replaces every known kind of secret in the text with [REDACTED], keeping the rest of each line. The
 * rules run again on their own output until it stops changing (twice, nearly always), so redacting
 * redacted text changes nothing even where one rule's [REDACTED] shows another more to hide.
 */
export function redactSecrets(text: string): string {
  if (typeof text !== 'string' || text.length === 0) return typeof text === 'string' ? text : '';
  let result = text;
  for (let pass = 0; pass < 4; pass++) {
    const next = redactOnce(result);
    if (next === result) break;
    result = next;
  }
  return result;
}

function redactOnce(text: string): string {
  let result = redactPrivateKeyTails(redactPrivateKeys(text));
  for (const rule of RULES) {
    result = result.replace(rule.pattern, (match: string, ...groups: unknown[]) =>
      rule.replace(match, ...groups.map((group) => (typeof group === 'string' ? group : ''))),
    );
  }
  result = redactUrlPasswords(result);
  result = redactNamedValues(result);
  result = scanPairs(result, { forced: false, depth: 0 });
  return redactWordsAfter(result);
}

/** True when the text holds something redactSecrets would hide. */
export function containsKnownSecretPattern(text: string): boolean {
  return redactSecrets(text) !== text;
}
