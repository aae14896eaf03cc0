// Secrets never leave the host in evidence: every value below is replaced by [REDACTED] while the
// rest of the line stays, so the evidence still reads (which key, which URL, which header).

export const REDACTED = '[REDACTED]';

/** Key names whose values are secrets: ONLYOFFICE local.json, env files, query strings, YAML. */
const SECRET_KEY = String.raw`[A-Za-z0-9_.-]*?(?:password|passwd|passphrase|pwd|pass|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key|credentials?)(?:[_-]?(?:string|value|key|id))?`;

interface Rule {
  pattern: RegExp;
  replace: (match: string, ...groups: string[]) => string;
}

const RULES: Rule[] = [
  // A whole private key block; a capped output may cut it before its END line.
  {
    pattern: /-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----[\s\S]*?(?:-----END \1PRIVATE KEY-----|$(?![\s\S]))/g,
    replace: (_match, kind) => `-----BEGIN ${kind}PRIVATE KEY-----\n${REDACTED}\n-----END ${kind}PRIVATE KEY-----`,
  },
  // JSON Web Tokens: ONLYOFFICE's JWT-signed requests and callbacks carry them in URLs and bodies.
  { pattern: /\beyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*/g, replace: () => REDACTED },
  // Slack bot, user, app-level and rotating tokens.
  { pattern: /\bxox[abposer](?:\.xox[abposer])?-[A-Za-z0-9-]+/g, replace: () => REDACTED },
  { pattern: /\bxapp-[A-Za-z0-9-]+/g, replace: () => REDACTED },
  // user:password@ in URLs (amqp://guest:guest@, redis://:pass@, postgres://u:p@).
  {
    pattern: /\b([a-z][a-z0-9+.-]*:\/\/)([^\s:@/'"]*):([^\s@/'"]+)@/gi,
    replace: (_match, scheme, user) => `${scheme}${user}:${REDACTED}@`,
  },
  // Authorization headers and bare bearer tokens.
  {
    pattern: /\b(Authorization\s*[:=]\s*)(Bearer|Basic|Token|Digest)\s+[^\s"',]+/gi,
    replace: (_match, header, scheme) => `${header}${scheme} ${REDACTED}`,
  },
  { pattern: /\b(Bearer)\s+(?!\[REDACTED\])[A-Za-z0-9._~+/-]+=*/g, replace: (_match, scheme) => `${scheme} ${REDACTED}` },
  // JSON string values under secret-looking keys, including local.json's "secret": {"inbox": {"string": "…"}}.
  {
    pattern: new RegExp(String.raw`("(?:${SECRET_KEY}|string)"\s*:\s*")((?:[^"\\]|\\.)*)(")`, 'gi'),
    replace: (_match, before, _value, after) => `${before}${REDACTED}${after}`,
  },
  // key=value, key: value and key => value (env files, query strings, command lines, YAML, Ruby and
  // Perl hashes), the key quoted or not (`'db_password': 'x'` in YAML and Python reprs).
  {
    pattern: new RegExp(String.raw`(\b${SECRET_KEY}['"]?)(\s*(?:=>|[=:])\s*)(?:(["'])(?:(?!\3).)*\3|[^\s"'&,;{}]+)`, 'gi'),
    replace: (_match, key, separator, quote) => (quote ? `${key}${separator}${quote}${REDACTED}${quote}` : `${key}${separator}${REDACTED}`),
  },
  // nginx secure links in ONLYOFFICE's ds.conf: `set $secure_link_secret <secret>;`.
  {
    pattern: /(\$secure_link_secret\s+)(["']?)([^"';\s]+)(["']?)/g,
    replace: (_match, before, open, _value, close) => `${before}${open}${REDACTED}${close}`,
  },
];

/** Replaces every known kind of secret in the text with [REDACTED], keeping the rest of each line. */
export function redactSecrets(text: string): string {
  if (typeof text !== 'string' || text.length === 0) return typeof text === 'string' ? text : '';
  let result = text;
  for (const rule of RULES) {
    result = result.replace(rule.pattern, (match: string, ...groups: unknown[]) =>
      rule.replace(match, ...groups.map((group) => (typeof group === 'string' ? group : ''))),
    );
  }
  return result;
}

/** True when the text holds something redactSecrets would hide. */
export function containsKnownSecretPattern(text: string): boolean {
  return redactSecrets(text) !== text;
}
