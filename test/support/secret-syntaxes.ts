// Secrets planted in every syntax the redactor reads, each written the way that syntax really writes a
// value (shell quoting, JSON and YAML escapes, percent-encoding, PEM lines), over a wide alphabet: the
// characters a syntax can carry in a value are all allowed in it, `{}@:;#&'"\`, spaces and unicode
// included. Used by the redaction properties in test/unit/security and test/hostile.
//
// `leaks` is the property: no substring of a planted secret, four characters or longer, survives in
// the output, unless that substring also occurs in the text around the secrets (where it proves
// nothing: "pass" in `password=`) or in [REDACTED].
//
// Left out, because the syntax itself reads them otherwise (each filter below says which): in an env
// file's line, a later word that looks like a flag or an assignment (`PGPASSWORD=x psql -h db` is a
// command); inside a YAML plain scalar or header value, ` other: ` (the next key) or a leading
// `{key: ` (a flow mapping), and inside an INI value, ` other = ` (the next key); a URL password with white space, quotes, `<>` or `://`, or digits then `/` (a port);
// a flag's value starting with `-`; an unquoted logfmt value with spaces, quotes or `=`; a connection
// string's unquoted value with `;`; a bare `,` in a shell word before `name=` (an option list).
import fc from 'fast-check';
import { stringify } from 'yaml';
import { REDACTED } from '../../src/security/redact.js';

/** A piece of the text: literal context, or a secret as it is embedded (escaped, quoted) in the text. */
export type Part = string | { secret: string };

export interface Planted {
  syntax: string;
  text: string;
  /** The secrets as they stand in the text (quoted, escaped) or as they were before the syntax wrote them. */
  secrets: string[];
  /** The text around the secrets, without them. */
  context: string;
}

/** A text made of literal pieces and secrets as they are embedded in it. */
export function planted(syntax: string, parts: Part[]): Planted {
  return {
    syntax,
    text: parts.map((part) => (typeof part === 'string' ? part : part.secret)).join(''),
    secrets: parts.flatMap((part) => (typeof part === 'string' ? [] : [part.secret])),
    context: parts.map((part) => (typeof part === 'string' ? part : '\u0000')).join(''),
  };
}

export const ALNUM = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
const PUNCTUATION = `{}@:;#&'"\\ !$%^*()_+-=~.,[]|/<>?\``;
/** Letters outside ASCII, an emoji (two UTF-16 units), a no-break space, a line separator. */
const UNICODE = ['é', 'ß', 'ж', '日', '本', '🔑', 'Ω', '\u00a0', '\u2028'];
const B64 = `${ALNUM}+/`;

/** ASCII letters, digits, punctuation and some unicode, without the characters in `without`. */
function alphabet(without = '', extra: string[] = []): string[] {
  return [...ALNUM, ...PUNCTUATION, ...UNICODE, ...extra].filter((char) => !without.includes(char));
}

const charsOf = (chars: readonly string[], min: number, max: number) =>
  fc.array(fc.constantFrom(...chars), { minLength: min, maxLength: max }).map((list) => list.join(''));

/** A secret over `chars`, never starting or ending with white space (formats trim it). */
function secretOf(chars: readonly string[], min = 8, max = 40): fc.Arbitrary<string> {
  return charsOf(chars, min, max).filter((secret) => secret.trim() === secret && secret.trim().length >= 4);
}

/**
 * The substrings of planted secrets (4 characters or longer) found in `output` that occur neither in
 * the text around the secrets nor in it with [REDACTED] where they stood. For each start, the shortest such substring is the
 * one that matters: anything longer contains it.
 */
export function leaks(output: string, { secrets, context }: Pick<Planted, 'secrets' | 'context'>): string[] {
  // The context with [REDACTED] (quoted or not) in the secrets' places too: `\":[REDACTED]` holds `\":[`.
  const allowed = [context, ...[REDACTED, `"${REDACTED}"`, `'${REDACTED}'`].map((hidden) => context.replaceAll('\u0000', hidden))].join('\u0000');
  const found: string[] = [];
  for (const secret of secrets) {
    const units = [...secret];
    for (let start = 0; start + 4 <= units.length; start++) {
      for (let end = start + 4; end <= units.length; end++) {
        const piece = units.slice(start, end).join('');
        if (allowed.includes(piece)) continue;
        if (output.includes(piece)) found.push(piece);
        break;
      }
    }
  }
  return found;
}

// --- quoting as each language does it ------------------------------------------------------------------

// A bare `,` followed by `name=` reads as the next option of a list (mount -o user=u,password=p,uid=0):
// shell words here escape it, as they may.
const SHELL_BARE = new Set([...ALNUM, ...'{}@:#%+=._~^!-/']);
function shellSingle(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}
function shellDouble(text: string): string {
  return `"${text.replace(/["\\$`]/g, '\\$&')}"`;
}
function shellBare(text: string): string {
  return [...text].map((char) => (SHELL_BARE.has(char) ? char : `\\${char}`)).join('');
}
/** One shell word for `text`: quoted one way, or cut in pieces quoted different ways ('ab'"cd"ef). */
const shellWord = (text: string) =>
  fc
    .array(fc.constantFrom(shellSingle, shellDouble, shellBare), { minLength: 1, maxLength: 3 })
    .chain((quoters) => fc.array(fc.nat(text.length), { minLength: quoters.length - 1, maxLength: quoters.length - 1 }).map((cuts) => ({ quoters, cuts })))
    .map(({ quoters, cuts }) => {
      const bounds = [0, ...[...cuts].sort((a, b) => a - b), text.length];
      return quoters.map((quote, i) => (bounds[i]! < bounds[i + 1]! ? quote(text.slice(bounds[i], bounds[i + 1])) : '')).join('') || shellSingle(text);
    });

/** A single-quoted string as PHP, Python and JavaScript write it (\' and \\ escaped). */
function backslashSingle(text: string): string {
  return `'${text.replace(/[\\']/g, '\\$&').replace(/\n/g, '\\n')}'`;
}
function xmlEscape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
const json = (text: string) => JSON.stringify(text).slice(1, -1);

// --- the syntaxes --------------------------------------------------------------------------------------

const shellCommand = secretOf(alphabet('', ['\t']))
  .filter((secret) => !secret.startsWith('-'))
  .chain((secret) => fc.tuple(shellWord(secret), fc.constantFrom('PGPASSWORD', 'JWT_SECRET', 'REDIS_SERVER_PASS')))
  .chain(([word, name]) =>
    fc.constantFrom<Planted>(
      planted('shell: env VAR=… command', [`sudo -u postgres env ${name}=`, { secret: word }, ` psql -h localhost -U onlyoffice -c 'select 1'`]),
      planted('shell: VAR=… command', [`${name}=`, { secret: word }, ' psql -h localhost -U onlyoffice']),
      planted('shell: export', ['export ', name, '=', { secret: word }, '; exec node server.js']),
      planted('shell: docker run -e', ['docker run -d -e ', name, '=', { secret: word }, ' -e JWT_ENABLED=true onlyoffice/documentserver']),
      planted('shell: --flag=…', ['node server.js --jwt-secret=', { secret: word }, ' --port 8000']),
      planted('shell: --flag …', ['/usr/bin/documentserver-jwt-status.sh --password ', { secret: word }, ' --verbose']),
      planted('shell: mysql -p…', ['mysql -u root -p', { secret: word }, ' onlyoffice']),
      planted('shell: redis-cli -a', ['redis-cli -h 127.0.0.1 -a ', { secret: word }, ' ping']),
    ),
  );

/** A value of an env file's line may hold anything but a newline; words that read as a command are left out. */
const envValue = secretOf(alphabet('', ['\t'])).filter((secret) => !/[ \t\u00a0](?:-{1,2}[A-Za-z]|[A-Za-z_]\w*=)/.test(secret));
const envLines = fc.tuple(envValue, fc.constantFrom('JWT_SECRET', 'DB_PWD', 'AMQP_PASSWORD', 'POSTGRES_PASSWORD')).chain(([secret, name]) =>
  fc.constantFrom<Planted>(
    planted('env output', ['HOSTNAME=0f1e2d3c\n', name, '=', { secret }, '\nPATH=/usr/local/sbin:/usr/bin\n']),
    planted('compose environment list', ['    environment:\n      - JWT_ENABLED=true\n      - ', name, '=', { secret }, '\n']),
  ),
);

const dockerInspect = secretOf(alphabet('', ['\n', '\t'])).map((secret) =>
  planted('docker inspect Env', [
    '[\n  {\n    "Config": {\n      "Env": [\n        "JWT_ENABLED=true",\n        "JWT_SECRET=',
    { secret: json(secret) },
    '",\n        "JWT_HEADER=Authorization"\n      ]\n    }\n  }\n]',
  ]),
);

const localJson = fc
  .tuple(secretOf(alphabet('', ['\n'])), secretOf(alphabet('', ['\n'])), secretOf(alphabet('', ['\n'])), fc.constantFrom(0, 2, 4), fc.boolean())
  .map(([inbox, outbox, dbPass, indent, bare]) => {
    const marks = ['@@INBOX@@', '@@OUTBOX@@', '@@DBPASS@@'];
    const secret = bare ? { inbox: marks[0], outbox: marks[1], session: marks[0] } : { inbox: { string: marks[0] }, outbox: { string: marks[1] }, session: { string: marks[0] } };
    const document = {
      services: {
        CoAuthoring: {
          sql: { type: 'postgres', dbHost: 'localhost', dbPort: '5432', dbUser: 'onlyoffice', dbPass: marks[2] },
          token: { enable: { request: { inbox: true, outbox: true }, browser: true }, inbox: { header: 'Authorization', inBody: false } },
          secret,
        },
      },
      jwt: marks[1],
    };
    const values: Record<string, string> = { [marks[0]!]: json(inbox), [marks[1]!]: json(outbox), [marks[2]!]: json(dbPass) };
    const text = JSON.stringify(document, null, indent);
    const parts = text.split(/(@@[A-Z]+@@)/).map((piece): Part => (values[piece] !== undefined ? { secret: values[piece] } : piece));
    return planted(`local.json (indent ${indent}${bare ? ', bare secrets' : ''})`, parts);
  });

const YAML_STYLES = ['PLAIN', 'QUOTE_DOUBLE', 'QUOTE_SINGLE', 'BLOCK_LITERAL', 'BLOCK_FOLDED'] as const;
/**
 * YAML as the yaml library writes it in each scalar style (it quotes, folds or uses a block scalar
 * where a style cannot carry the value). The secret is checked as it was before YAML wrote it: every
 * run of it that YAML leaves unescaped stands in the text.
 */
const yamlDocument = fc
  .tuple(
    // A run YAML never escapes, so the secret can be seen in the text (the property is not vacuous).
    secretOf(alphabet('', ['\n'])).filter((secret) => /[A-Za-z0-9]{4}/.test(secret)),
    fc.constantFrom(...YAML_STYLES),
    fc.constantFrom('compose', 'helm', 'nested'),
  )
  .map(([secret, style, shape]): Planted => {
    const document = (value: string) =>
      shape === 'compose'
        ? { services: { documentserver: { image: 'onlyoffice/documentserver', environment: { JWT_ENABLED: 'true', JWT_SECRET: value } } } }
        : shape === 'helm'
          ? { jwt: { enabled: true, secret: value, header: 'Authorization' }, connections: { dbPassword: value, dbHost: 'postgresql' } }
          : { secret: { inbox: value, outbox: { string: value } }, services: { port: 8000 } };
    const options = { defaultStringType: style, defaultKeyType: 'PLAIN' as const, lineWidth: 0 };
    return { syntax: `YAML ${style} ${shape}`, text: stringify(document(secret), options), secrets: [secret], context: stringify(document('\u0000'), options) };
  });

/** URL passwords as they are really written: unencoded @ : / ? # included, or percent-encoded. */
const urlPassword = secretOf(alphabet(` "<>\`\u00a0\u2028\t`)).filter((secret) => !secret.includes('://') && !/^\d*[/?#]/.test(secret));
const url = fc
  .tuple(fc.oneof(urlPassword, secretOf(alphabet('\n')).map(encodeURIComponent)), fc.constantFrom('amqp', 'postgres', 'redis', 'rediss', 'mongodb+srv'), fc.constantFrom('guest', 'onlyoffice', '', 'svc@corp'))
  .chain(([password, scheme, user]) =>
    fc.constantFrom<Planted>(
      planted('URL in a log line', [`nodeJS - [AMQP] Error: connect ECONNREFUSED ${scheme}://${user}:`, { secret: password }, `@rabbitmq:5672/onlyoffice`]),
      planted('URL in JSON', [`{"rabbitmq": {"url": "${scheme}://${user}:`, { secret: json(password) }, `@localhost"}}`]),
      planted('URL in env', [`AMQP_URI=${scheme}://${user}:`, { secret: password }, `@[::1]:5672`]),
    ),
  );

const TOKEN68 = [...`${ALNUM}-._~+/`];
const authorization = fc
  .tuple(
    secretOf(TOKEN68, 16, 60).map((token) => `${token}==`),
    // `X-Auth-Token: a b: c` reads as YAML's next key: values that hold one are left out (YAML cannot hold them either).
    secretOf(alphabet(`"'\\\n\u2028`)).filter((raw) => !/(?:^\{|[ \t,;])["']?[A-Za-z_][\w.-]*["']?[ \t]*:(?:[ \t]|$)/.test(raw)),
  )
  .chain(([token, raw]) =>
    fc.constantFrom<Planted>(
      planted('Authorization: Bearer (curl -H "…")', ['curl -sS -H "Authorization: Bearer ', { secret: token }, '" http://127.0.0.1:8000/coauthoring/CommandService.ashx']),
      planted('Authorization: Bearer (raw header)', ['> GET /healthcheck HTTP/1.1\r\n> Authorization: Bearer ', { secret: token }, '\r\n> Host: docs']),
      planted('AuthorizationJwt in JSON', ['{"headers": {"AuthorizationJwt": "Bearer ', { secret: token }, '"}}']),
      planted('Authorization: Basic', ["curl -H 'Authorization: Basic ", { secret: token }, "' http://docs/"]),
      planted('Authorization without a scheme', ['Authorization: ', { secret: raw }, '\nHost: docs']),
      planted('X-Auth-Token header', ['X-Auth-Token: ', { secret: raw }, '\nAccept: */*']),
      planted('Cookie header', ['Cookie: ', { secret: raw }, '\nAccept: */*']),
    ),
  );

const slack = fc
  .tuple(fc.constantFrom('xoxb', 'xoxp', 'xoxe.xoxp', 'xoxe', 'xapp'), charsOf([...'0123456789'], 10, 13), secretOf([...ALNUM], 20, 32))
  .chain(([kind, team, tail]) =>
    fc.constantFrom<Planted>(
      planted('Slack token', ['token in text ', { secret: `${kind}-${team}-${team}-${tail}` }, ' was used']),
      planted('Slack webhook URL', ['posting to https://hooks.slack.com/services/', { secret: `T${team}/B${team}/${tail}` }, ' failed']),
    ),
  );

const pemBody = fc.array(secretOf([...B64], 64, 64), { minLength: 2, maxLength: 6 }).map((lines) => lines.join('\n'));
const pem = fc.tuple(fc.constantFrom('RSA ', 'OPENSSH ', 'EC ', 'ENCRYPTED ', ''), pemBody, fc.nat(), fc.constantFrom('whole', 'cut', 'tail', 'json', 'json-cut', 'headers')).map(
  ([kind, body, at, shape]): Planted => {
    const begin = `-----BEGIN ${kind}PRIVATE KEY-----`;
    const end = `-----END ${kind}PRIVATE KEY-----`;
    const cut = 4 + (at % (body.length - 4));
    switch (shape) {
      case 'cut':
        return planted('PEM cut before END', [`==> /etc/ssl/private/docs.key <==\n${begin}\n`, { secret: body.slice(0, cut) }, '\n[output truncated]']);
      case 'tail':
        return planted('PEM tail without BEGIN', ['==> tail -n 4 docs.key <==\n', { secret: body.slice(body.length - cut).replace(/^\n/, '') }, `\n${end}\nafter`]);
      case 'json':
        return planted('PEM in a JSON string', [`{"type": "service_account", "private_key": "${begin}\\n`, { secret: body.replace(/\n/g, '\\n') }, `\\n${end}\\n", "client_email": "x@y"}`]);
      case 'json-cut':
        return planted('PEM in a JSON string, cut', [`{"private_key": "${begin}\\n`, { secret: body.slice(0, cut).replace(/\n/g, '\\n') }]);
      case 'headers':
        return planted('PEM with headers', [`-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,0A1B2C3D4E5F\n\n`, { secret: body }, '\n-----END RSA PRIVATE KEY-----\nafter']);
      default:
        return planted('PEM', [`before\n${begin}\n`, { secret: body }, `\n${end}\nafter`]);
    }
  },
);

const keyValue = fc
  .tuple(
    secretOf(alphabet()),
    // INI: a value holding ` other = ` reads as the next key.
    secretOf(alphabet()).filter((secret) => !/[ \t,;]["']?[A-Za-z_][\w.-]*["']?[ \t]*=[ \t]/.test(secret)),
    // A connection string's unquoted value cannot hold `;` (nor the attribute's quote).
    secretOf(alphabet(';"')),
    // logfmt: an unquoted value holds no white space, quote or `=`.
    secretOf(alphabet(' "=\u00a0')),
  )
  .chain(([secret, ini, noSemicolon, logfmt]) =>
    fc.constantFrom<Planted>(
      planted('INI key = value', ['[client]\npassword = ', { secret: ini }, '\nhost = db\n']),
      planted('TOML key = "…"', ['[redis]\npassword = ', { secret: JSON.stringify(secret) }, '\nport = 6379\n']),
      planted('PHP array', ["$CONFIG = array(\n  'onlyoffice' => array('jwt_secret' => ", { secret: backslashSingle(secret) }, ", 'jwt_header' => 'Authorization'),\n);"]),
      planted('Ruby hash', ['{ :secret => ', { secret: JSON.stringify(secret) }, ', :user => "ds" }']),
      planted('Python repr', ["{'password': ", { secret: backslashSingle(secret) }, ", 'host': 'db'}"]),
      planted('.NET connection string', ['<add name="default" connectionString="Server=localhost;Database=onlyoffice;User ID=root;Password=', { secret: xmlEscape(noSemicolon) }, ';Pooling=true" />']),
      planted('.NET appSettings', ['<add key="core.machinekey" value="', { secret: xmlEscape(secret) }, '" />']),
      planted('XML element', ['<settings><password>', { secret: xmlEscape(secret) }, '</password><user>ds</user></settings>']),
      planted('Kubernetes env (YAML)', ['        - name: JWT_SECRET\n          value: ', { secret: JSON.stringify(secret) }, '\n        - name: JWT_ENABLED\n          value: "true"\n']),
      planted('Kubernetes env (JSON)', ['{"name": "JWT_SECRET", "value": ', { secret: JSON.stringify(secret) }, '}']),
      planted('query string', ['"GET /coauthoring/CommandService.ashx?token=', { secret: encodeURIComponent(secret) }, '&md5=abc HTTP/1.1"']),
      planted('nginx secure link', ['    set $secure_link_secret ', { secret: JSON.stringify(secret) }, ';']),
      planted('redis.conf', ['requirepass ', { secret: JSON.stringify(secret) }, '\nport 6379']),
      planted('logfmt', ['level=error msg="auth failed" password=', { secret: logfmt }, ' user=ds']),
      planted('escaped JSON in a log', ['message: "{\\"dbPass\\":\\"', { secret: json(json(secret)) }, '\\",\\"dbHost\\":\\"db\\"}"']),
    ),
  );

const jwt = fc
  .tuple(charsOf([...`${ALNUM}-_`], 10, 40), charsOf([...`${ALNUM}-_`], 10, 80), charsOf([...`${ALNUM}-_`], 20, 43))
  .map(([header, payload, signature]) =>
    planted('JWT in a converter URL', [
      '[ERROR] nodeJS - error downloadFile:url=https://docs:4433/apps/onlyoffice/empty?doc=',
      { secret: `eyJ${header}.${payload}.${signature}` },
      ';attempt=3;code:null',
    ]),
  );

/** Every syntax, each on its own (for properties that name the syntax that leaked). */
export const SYNTAXES: Record<string, fc.Arbitrary<Planted>> = {
  shellCommand,
  envLines,
  dockerInspect,
  localJson,
  yamlDocument,
  url,
  authorization,
  slack,
  pem,
  keyValue,
  jwt,
};

/** Several planted secrets after some lines of real evidence (which must come out unchanged). */
export function plantedAmong(noise: readonly string[]): fc.Arbitrary<{ planted: Planted; noise: string[] }> {
  return fc
    .tuple(fc.array(fc.oneof(...Object.values(SYNTAXES)), { minLength: 1, maxLength: 4 }), fc.array(fc.constantFrom(...noise), { maxLength: 4 }))
    .map(([all, lines]) => {
      const head = lines.map((line) => `${line}\n`).join('');
      return {
        planted: {
          syntax: all.map((one) => one.syntax).join(' + '),
          text: head + all.map((one) => one.text).join('\n'),
          secrets: all.flatMap((one) => one.secrets),
          context: head + all.map((one) => one.context).join('\n'),
        },
        noise: lines,
      };
    });
}
