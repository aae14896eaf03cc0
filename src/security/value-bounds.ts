// Where a value ends in the syntaxes secrets are written in: lines, quotes (shell, JSON, YAML, PHP),
// shell words glued from pieces, the rest of a line up to the next key, brackets that enclose the
// pair. Used by redact.ts; every scan here stays linear in the length of the text.

export const REDACTED = '[REDACTED]';

export const OPENERS = '{[(';
export const CLOSERS = '}])';
const NOT_A_VALUE = /^(?:true|false|null|none|nil|yes|no|on|off|~)$/i;

export function lineEndAt(text: string, from: number): number {
  for (let i = from; i < text.length; i++) if (text[i] === '\n' || text[i] === '\r') return i;
  return text.length;
}

export function lineStartAt(text: string, at: number): number {
  let i = at;
  while (i > 0 && text[i - 1] !== '\n' && text[i - 1] !== '\r') i--;
  return i;
}

/**
 * Index of the quote closing the one at `open`, on its line, or -1. Double quotes take backslash
 * escapes; single quotes take none in a shell (`shellQuotes`) but \' in PHP, Python and JavaScript.
 */
export function closingQuote(text: string, open: number, lineEnd: number, shellQuotes = false): number {
  const quote = text[open];
  if (quote === '"') {
    for (let i = open + 1; i < lineEnd; i++) {
      if (text[i] === '\\') i++;
      else if (text[i] === '"') return i;
    }
    // No escapes in XML attributes and .NET strings: `value="…\"` closes at its last quote.
    const last = text.lastIndexOf('"', lineEnd - 1);
    return last > open ? last : -1;
  }
  let first = -1;
  for (let i = open + 1; i < lineEnd; i++) {
    if (text[i] !== quote) continue;
    if (shellQuotes || text[i - 1] !== '\\') return i;
    if (first < 0) first = i;
  }
  return first;
}

/** Index of the quote closing the one at `open` in YAML ('' stands for ' in single quotes), or -1. */
export function closingYamlQuote(text: string, open: number, end: number): number {
  for (let i = open + 1; i < end; i++) {
    if (text[open] === '"' && text[i] === '\\') i++;
    else if (text[i] === text[open]) {
      if (text[open] === "'" && text[i + 1] === "'") i++;
      else return i;
    }
  }
  return -1;
}

/** Where the lines of a text start and end, found once: the scans below ask at every key. */
export class Lines {
  private readonly breaks: number[] = [];

  constructor(private readonly text: string) {
    for (let i = 0; i < text.length; i++) {
      const code = text.charCodeAt(i);
      if (code === 10 || code === 13) this.breaks.push(i);
    }
  }

  /** Index in `breaks` of the first line break at or after `from`. */
  private firstBreak(from: number): number {
    let low = 0;
    let high = this.breaks.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.breaks[middle]! < from) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  end(from: number): number {
    return this.breaks[this.firstBreak(from)] ?? this.text.length;
  }

  start(at: number): number {
    const previous = this.firstBreak(at) - 1;
    return previous >= 0 ? this.breaks[previous]! + 1 : 0;
  }

  /** Brackets opened and not closed on the line up to `counted` (asked in increasing order: counted on from there). */
  private readonly depth = [0, 0, 0];
  private counted = -1;

  /** The closers of brackets opened before `at` on its line and not closed. */
  enclosingClosers(at: number): string {
    const lineStart = this.start(at);
    if (this.counted < lineStart || this.counted > at) {
      this.depth.fill(0);
      this.counted = lineStart;
    }
    for (; this.counted < at; this.counted++) {
      const code = this.text.charCodeAt(this.counted);
      const kind = code === 123 || code === 125 ? 0 : code === 91 || code === 93 ? 1 : code === 40 || code === 41 ? 2 : -1;
      if (kind < 0) continue;
      if (code === 123 || code === 91 || code === 40) this.depth[kind]!++;
      else if (this.depth[kind]! > 0) this.depth[kind]!--;
    }
    return CLOSERS.split('').filter((_closer, kind) => this.depth[kind]! > 0).join('');
  }
}

/** After a closer that may end the enclosing bracket: the end of a token. */
export const AFTER_CLOSER = /[ \t\r\n,;&|"')\]}]|$/y;
/**
 * After `&`, `;`, `,` or `|` inside a bare word, something new starts: white space or the line's end
 * (`x; psql`), the next parameter (`&md5=`, `;Pooling=`, `,uid=0`), or, in JSON written without spaces,
 * the next key (`,"x":`). Glued `&&` and `||` stay in the value (logfmt allows them; hiding more is safe).
 */
const NEXT_PARAMETER = /[ \t\r\n\f\v]|$|[A-Za-z_][\w.[\]-]*=/y;
const NEXT_JSON_KEY = /\\?["']/y;
/** XML character references stand for one character (`&amp;` in an attribute is not a parameter). */
const XML_ENTITY = /&(?:amp|lt|gt|quot|apos|#\d{1,7}|#x[0-9A-Fa-f]{1,6});/y;

export function matchesAt(pattern: RegExp, text: string, at: number): boolean {
  pattern.lastIndex = at;
  return pattern.test(text);
}

/** A span of the text to replace (or, without `replacement`, to leave as it is and search on after). */
export interface Edit {
  start: number;
  end: number;
  replacement?: string;
}

/**
 * `text` with the edits `edit` asks for at the matches of the global `pattern`, left to right: the
 * search goes on after an edited span, or after the match when `edit` returns nothing.
 */
export function rewriteMatches(text: string, pattern: RegExp, edit: (match: RegExpExecArray) => Edit | undefined): string {
  const out: string[] = [];
  let copied = 0;
  let match: RegExpExecArray | null;
  pattern.lastIndex = 0;
  while ((match = pattern.exec(text))) {
    const change = edit(match);
    if (!change) continue;
    if (change.replacement !== undefined && change.replacement !== text.slice(change.start, change.end)) {
      out.push(text.slice(copied, change.start), change.replacement);
      copied = change.end;
    }
    pattern.lastIndex = Math.max(pattern.lastIndex, change.end);
  }
  out.push(text.slice(copied));
  return out.join('');
}

export interface WordOptions {
  /** Closers of brackets opened before the key: one of them at depth 0 ends the value. */
  closers: string;
  /** The separator was `%3D`: the value sits in an encoded query string, so `%26` ends it. */
  encoded?: boolean;
  /** The separator was `:` (JSON written without spaces): `,"next":` ends the value. */
  json?: boolean;
  /** The key followed a `;` (a connection string, a cookie list): only `;` ends the value, not spaces. */
  semicolonList?: boolean;
  /** The value is a string of JSON written inside a JSON string (`\"p w\"`). */
  escapedJson?: boolean;
  /** Single quotes as a shell reads them (no escapes inside), not as PHP or Python do (\'). */
  shellQuotes?: boolean;
}

/**
 * Index just past the `\"` closing the one at `open` in JSON written inside a JSON string
 * (`"{\"dbPass\":\"p\\\"w\"}"`): escapes are undone once, then the inner string is read. -1 if open.
 */
function closingEscapedQuote(text: string, open: number, lineEnd: number): number {
  let escaped = false;
  for (let i = open + 2; i < lineEnd; ) {
    const decoded = text[i] === '\\' ? text[i + 1] : text[i];
    i += text[i] === '\\' ? 2 : 1;
    if (escaped) escaped = false;
    else if (decoded === '\\') escaped = true;
    else if (decoded === '"') return Math.min(i, lineEnd);
  }
  return -1;
}

/** Whether `&;,|` at `at` ends a bare word. */
function endsWord(text: string, at: number, options: WordOptions): boolean {
  const char = text[at]!;
  if (options.semicolonList) return char === ';';
  return matchesAt(NEXT_PARAMETER, text, at + 1) || (options.json === true && matchesAt(NEXT_JSON_KEY, text, at + 1));
}

/**
 * End of one word from `start`: quoted pieces, escapes and bare characters glued together. `'a\'b c'`
 * is two pieces to a shell and one string to PHP or Python: the reading that runs further is taken,
 * since a value cut short leaks its tail.
 */
export function wordEnd(text: string, start: number, lineEnd: number, options: WordOptions): number {
  return Math.max(wordEndAs(text, start, lineEnd, { ...options, shellQuotes: true }), wordEndAs(text, start, lineEnd, { ...options, shellQuotes: false }));
}

function wordEndAs(text: string, start: number, lineEnd: number, options: WordOptions): number {
  let depth = 0;
  let i = start;
  let unclosed = ''; // quotes known not to close before the line ends (keeps long lines linear)
  if (options.escapedJson) {
    const close = closingEscapedQuote(text, start, lineEnd);
    if (close > 0) i = close;
  }
  while (i < lineEnd) {
    const char = text[i]!;
    if ((char === ' ' || char === '\t' || char === '\f' || char === '\v') && !options.semicolonList) break;
    if (char === '\\' && !options.semicolonList) {
      i += 2;
      continue;
    }
    if (char === '"' || char === "'") {
      const close = unclosed.includes(char) ? -1 : closingQuote(text, i, lineEnd, options.shellQuotes);
      if (close < 0) unclosed += char;
      // An unclosed double quote in a `;` list closes the attribute the list is written in.
      if (close < 0 && char === '"' && options.semicolonList) break;
      i = close < 0 ? i + 1 : close + 1;
      continue;
    }
    if (char === '&' && matchesAt(XML_ENTITY, text, i)) {
      i = XML_ENTITY.lastIndex;
      continue;
    }
    if ('&;,|'.includes(char) && i > start && endsWord(text, i, options)) break;
    if (options.encoded && text.startsWith('%26', i)) break;
    if (OPENERS.includes(char)) depth++;
    else if (CLOSERS.includes(char)) {
      if (depth > 0) depth--;
      else if (options.closers.includes(char) && matchesAt(AFTER_CLOSER, text, i + 1)) break;
    }
    i++;
  }
  return Math.min(i, lineEnd);
}

/** Where the rest of a line stops being the value: at the next `key:` (or `key =`), or a trailing comma. */
function nextKeyPattern(separator: ':' | '='): RegExp {
  const key = String.raw`(?:"[^"\r\n]{0,128}"|'[^'\r\n]{0,128}'|[A-Za-z_][\w.-]{0,128})`;
  const next = separator === ':' ? String.raw`${key}[ \t]*:(?=[ \t\r\n]|$)` : String.raw`${key}[ \t]*=[ \t]`;
  return new RegExp(String.raw`(?:[ \t]*[,;][ \t]*|[ \t]+)${next}|[ \t]*,[ \t]*(?=[\r\n]|$)`, 'y');
}
export const NEXT_YAML_KEY = nextKeyPattern(':');
export const NEXT_INI_KEY = nextKeyPattern('=');

/** End of a value that runs to the end of its line (YAML plain scalars, INI, env files). */
export function restOfLineEnd(text: string, start: number, lineEnd: number, stop: RegExp | undefined, closers: string): number {
  let depth = 0;
  let end = lineEnd;
  for (let i = start; i < lineEnd; i++) {
    const char = text[i]!;
    if (stop && depth === 0 && (char === ' ' || char === '\t' || char === ',' || char === ';') && matchesAt(stop, text, i)) {
      end = i;
      break;
    }
    if (OPENERS.includes(char)) depth++;
    else if (CLOSERS.includes(char)) {
      if (depth > 0) depth--;
      else if (closers.includes(char) && matchesAt(AFTER_CLOSER, text, i + 1)) {
        end = i;
        break;
      }
    }
  }
  while (end > start && (text[end - 1] === ' ' || text[end - 1] === '\t')) end--;
  return end;
}

/**
 * A line `KEY=value more words` is an env file's line when nothing after the first word looks like a
 * command being run (`PGPASSWORD=x psql -h db`: a flag) or another assignment (`a=1 b=2`).
 */
export const COMMAND_AFTER_WORD = /[ \t](?:-{1,2}[A-Za-z]|[A-Za-z_]\w*=)/;

/**
 * End of a quoted YAML scalar that does not close on its line: YAML folds quoted scalars over the
 * indented lines below. Past its closing quote when found there (within 64 lines) at the end of a line,
 * else the first line's end.
 */
export function closingQuoteBelow(text: string, open: number, lineEnd: number): number {
  const quote = text[open];
  let lines = 0;
  for (let i = open + 1; i < text.length; i++) {
    const char = text[i]!;
    if (char === '\n') {
      // Continuation lines are indented (or blank); anything else means the quote was never closed.
      if (++lines > 64 || !/^(?:[ \t]|\r?\n|$)/.test(text.slice(i + 1, i + 3))) return lineEnd;
    } else if (quote === '"' && char === '\\') i++;
    else if (char === quote) {
      if (quote === "'" && text[i + 1] === "'") i++;
      // A YAML scalar's closing quote ends its line (a comment may follow); any other is not its end.
      else return lines === 0 || /^(?:[ \t]+#[^\r\n]*)?[ \t]*(?:[\r\n]|$)/.test(text.slice(i + 1, i + 200)) ? i + 1 : lineEnd;
    }
  }
  return lineEnd;
}

/** The replacement for a value: quotes kept around a value that is one quoted string. */
export function hidden(value: string): string {
  const quote = value[0];
  if ((quote === '"' || quote === "'") && value.length >= 2 && closingQuote(value, 0, value.length) === value.length - 1) {
    return `${quote}${REDACTED}${quote}`;
  }
  return REDACTED;
}

/** A value to hide: not empty, not a switch (true, off, …), not only what was hidden already. */
export function worthHiding(value: string): boolean {
  const unquoted = /^(["'])(.*)\1$/s.exec(value)?.[2] ?? value;
  return unquoted.replaceAll(REDACTED, '').replace(/[\s"',;]/g, '') !== '' && !NOT_A_VALUE.test(unquoted.trim());
}
