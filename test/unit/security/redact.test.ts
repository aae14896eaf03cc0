import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { containsKnownSecretPattern, redactSecrets, REDACTED } from '../../../src/security/redact.js';
import { leaks, SYNTAXES } from '../../support/secret-syntaxes.js';

// The shape of ONLYOFFICE's /etc/onlyoffice/documentserver/local.json (JWT secrets, database password, broker URL).
const LOCAL_JSON = `{
  "services": {
    "CoAuthoring": {
      "sql": {
        "type": "postgres",
        "dbHost": "localhost",
        "dbPort": "5432",
        "dbName": "onlyoffice",
        "dbUser": "onlyoffice",
        "dbPass": "Pg-Pa55word"
      },
      "token": {
        "enable": { "request": { "inbox": true, "outbox": true }, "browser": true }
      },
      "secret": {
        "inbox": { "string": "jwt-inbox-secret" },
        "outbox": { "string": "jwt-outbox-secret" },
        "session": { "string": "jwt-session-secret" }
      }
    }
  },
  "rabbitmq": { "url": "amqp://ds:Rabbit-Pass@localhost" },
  "storage": { "fs": { "secretString": "secure-link-secret" } }
}`;

describe('redactSecrets', () => {
  it('hides the JWT secrets and the database password in local.json, keeping its structure', () => {
    const redacted = redactSecrets(LOCAL_JSON);
    for (const secret of ['Pg-Pa55word', 'jwt-inbox-secret', 'jwt-outbox-secret', 'jwt-session-secret', 'Rabbit-Pass', 'secure-link-secret']) {
      expect(redacted).not.toContain(secret);
    }
    expect(redacted).toContain('"inbox": { "string": "[REDACTED]" }');
    expect(redacted).toContain('"dbPass": "[REDACTED]"');
    expect(redacted).toContain('"dbUser": "onlyoffice"');
    expect(redacted).toContain('"amqp://ds:[REDACTED]@localhost"');
    expect(redacted).toContain('"browser": true');
    expect(JSON.parse(redacted).services.CoAuthoring.sql.dbHost).toBe('localhost');
  });

  it('hides a plain "secret": "…" value', () => {
    expect(redactSecrets('"secret": "abc123"')).toBe('"secret": "[REDACTED]"');
  });

  it('hides password=, PGPASSWORD= and similar key=value pairs', () => {
    expect(redactSecrets('PGPASSWORD=onlyoffice psql -h localhost -U onlyoffice')).toBe('PGPASSWORD=[REDACTED] psql -h localhost -U onlyoffice');
    expect(redactSecrets("host=db user=ds password='p@ss w0rd'")).toBe("host=db user=ds password='[REDACTED]'");
    expect(redactSecrets('DB_PASSWORD: hunter2')).toBe('DB_PASSWORD: [REDACTED]');
    expect(redactSecrets('SLACK_SIGNING_SECRET=8f742231b10e8888abcd99yyyzzz85a5')).toBe('SLACK_SIGNING_SECRET=[REDACTED]');
  });

  it('hides credentials in amqp:// and redis:// URLs, keeping user, host and port', () => {
    expect(redactSecrets('AMQP_URI=amqp://guest:guest@rabbit:5672/vhost')).toBe('AMQP_URI=amqp://guest:[REDACTED]@rabbit:5672/vhost');
    expect(redactSecrets('REDIS_URL=redis://:s3cret@127.0.0.1:6379/0')).toBe('REDIS_URL=redis://:[REDACTED]@127.0.0.1:6379/0');
    expect(redactSecrets('postgres://onlyoffice:pw@localhost:5432/onlyoffice')).toBe('postgres://onlyoffice:[REDACTED]@localhost:5432/onlyoffice');
    expect(redactSecrets('see http://example.com:8080/path')).toBe('see http://example.com:8080/path');
  });

  it('hides Authorization headers and bearer tokens', () => {
    expect(redactSecrets('Authorization: Bearer abc.DEF-123_456')).toBe('Authorization: Bearer [REDACTED]');
    expect(redactSecrets('authorization=Basic dXNlcjpwYXNz')).toBe('authorization=Basic [REDACTED]');
    expect(redactSecrets('curl -H "X: 1" --oauth2-bearer x Bearer zzz999')).toBe('curl -H "X: 1" --oauth2-bearer x Bearer [REDACTED]');
  });

  it('hides Slack tokens of every kind', () => {
    for (const token of ['xoxb-1234567890-0987654321-AbCdEfGhIjKl', 'xoxp-1-2-3-abcdef', 'xapp-1-A0123-456-abcdef0123', 'xoxe.xoxp-1-Mi0yLTEy', 'xoxe-1-My0xLTEy']) {
      const redacted = redactSecrets(`token in text ${token} end`);
      expect(redacted).toBe(`token in text ${REDACTED} end`);
    }
  });

  it('hides private key blocks whole, even when the output was cut before END', () => {
    const key = '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\nQyNTUxOQAAACD\n-----END OPENSSH PRIVATE KEY-----';
    expect(redactSecrets(`before\n${key}\nafter`)).toBe('before\n-----BEGIN OPENSSH PRIVATE KEY-----\n[REDACTED]\n-----END OPENSSH PRIVATE KEY-----\nafter');
    expect(redactSecrets('-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA')).not.toContain('MIIEpAIBAAKCAQEA');
    const publicCert = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----';
    expect(redactSecrets(publicCert)).toBe(publicCert);
  });

  it('hides JWTs, as in ONLYOFFICE converter URLs, keeping the rest of the log line', () => {
    // From ONLYOFFICE/onlyoffice-owncloud#247: a signed ?doc= parameter in a converter error.
    const line =
      '[2019-02-28T13:12:51.412] [ERROR] nodeJS - error downloadFile:url=https://xxx.xxx.xxx.xxx:4433/apps/onlyoffice/empty?doc=eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJhY3Rpb24iOiJlbXB0eSJ9.RD7_W06LPPrSfuPds0lmx-tshZeoXSmdaTsHKiqkL0I;attempt=3;code:null;connect:null;(id=conv_check_1850776178_docx)';
    const redacted = redactSecrets(line);
    expect(redacted).toBe(
      '[2019-02-28T13:12:51.412] [ERROR] nodeJS - error downloadFile:url=https://xxx.xxx.xxx.xxx:4433/apps/onlyoffice/empty?doc=[REDACTED];attempt=3;code:null;connect:null;(id=conv_check_1850776178_docx)',
    );
  });

  it('hides generic token=, secret=, api_key= values and the nginx secure-link secret', () => {
    expect(redactSecrets('GET /cache?token=abc123&md5=x')).toBe('GET /cache?token=[REDACTED]&md5=x');
    expect(redactSecrets('secret=topsecret other=1')).toBe('secret=[REDACTED] other=1');
    expect(redactSecrets('api_key: AKIA123 region: eu')).toBe('api_key: [REDACTED] region: eu');
    expect(redactSecrets('apiKey=zzz')).toBe('apiKey=[REDACTED]');
    expect(redactSecrets('  set $secure_link_secret verysecretstring;')).toBe('  set $secure_link_secret [REDACTED];');
  });

  it('leaves evidence without secrets untouched', () => {
    const lines = [
      '2022/01/20 13:41:52 [error] 3990391#3990391: *6 connect() failed (111: Connection refused) while connecting to upstream, client: 192.168.1.40, server: , request: "GET /welcome/ HTTP/1.1", upstream: "http://127.0.0.1:8000/welcome/", host: "192.168.1.12"',
      'ds:docservice                    RUNNING   pid 910, uptime 0:24:04',
      'psql: FATAL:  password authentication failed for user "onlyoffice"',
      'hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIH"',
      'Permission denied (publickey,password).',
      // Names that describe a secret without holding it, and look-alikes.
      'JWT_ENABLED=true',
      'JWT_HEADER=Authorization',
      'PASSWORD_FILE=/run/secrets/db',
      'secretName: oo-responder-ssh',
      'defaultMode: 0440',
      "Access denied for user 'onlyoffice'@'localhost' (using password: YES)",
      'PWD=/var/www/onlyoffice',
      'upstream: "http://127.0.0.1:8000/cache/files/a@b.docx"',
      'ssh://git@github.com:22/org/repo',
      'author: Jane Doe',
      'bypass=1',
    ];
    for (const line of lines) expect(redactSecrets(line)).toBe(line);
  });

  it('is idempotent and total', () => {
    const once = redactSecrets(LOCAL_JSON);
    expect(redactSecrets(once)).toBe(once);
    expect(redactSecrets('')).toBe('');
    expect(redactSecrets(undefined as unknown as string)).toBe('');
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (text) => {
        const result = redactSecrets(text);
        expect(redactSecrets(result)).toBe(result);
      }),
      { numRuns: 300 },
    );
  });
});

describe('containsKnownSecretPattern', () => {
  it('says whether redaction would change the text', () => {
    expect(containsKnownSecretPattern(LOCAL_JSON)).toBe(true);
    expect(containsKnownSecretPattern('xoxb-1-2-abc')).toBe(true);
    expect(containsKnownSecretPattern('ds:example                       STOPPED   Not started')).toBe(false);
  });

  it('hides values after => as Ruby and Perl hashes write them', () => {
    const line = `{ :secret => "s3cr3t-value", 'password' => 'hunter2x' }`;
    const redacted = redactSecrets(line);
    expect(redacted).not.toContain('s3cr3t-value');
    expect(redacted).not.toContain('hunter2x');
    expect(redacted).toContain(':secret =>');
  });
});

// --- edge cases: the value runs as far as its syntax says --------------------------------------------

describe('redactSecrets on values written the way real configs and attackers write them', () => {
  const cases: [string, string, string][] = [
    // [what, input, expected]
    ['braces in a bare shell word', 'PGPASSWORD=ab{cd}ef psql -h db', 'PGPASSWORD=[REDACTED] psql -h db'],
    ['an unencoded @ in a URL password', 'amqp://user:p@ss@host:5672/', 'amqp://user:[REDACTED]@host:5672/'],
    ['an unencoded @ and : in a URL password', 'postgres://u:pa@ss:wd@db/x', 'postgres://u:[REDACTED]@db/x'],
    ['a / in a URL password', 'AMQP_URI=amqp://ds:pa/ss?w#d@rabbit:5672/vh', 'AMQP_URI=amqp://ds:[REDACTED]@rabbit:5672/vh'],
    ['a user name holding @', 'postgres://svc@corp:pw@db:5432/oo', 'postgres://svc@corp:[REDACTED]@db:5432/oo'],
    ['a percent-encoded URL password', 'redis://:p%40ss%3Aw@127.0.0.1:6379/0', 'redis://:[REDACTED]@127.0.0.1:6379/0'],
    ['#, ; and & in an env line', 'JWT_SECRET=abc#def;ghi&jkl', 'JWT_SECRET=[REDACTED]'],
    ['spaces in `env` output', 'HOME=/root\nJWT_SECRET=my jwt secret\nPATH=/usr/bin', 'HOME=/root\nJWT_SECRET=[REDACTED]\nPATH=/usr/bin'],
    ['docker inspect Env', '"Env": ["JWT_SECRET=a b\\"c", "JWT_ENABLED=true"]', '"Env": ["JWT_SECRET=[REDACTED]", "JWT_ENABLED=true"]'],
    ["shell quoting glued together", `export JWT_SECRET='ab"cd'"ef'gh"ij; exec node`, 'export JWT_SECRET=[REDACTED]; exec node'],
    ['YAML double quotes with escaped quotes', 'password: "he said \\"hi there\\" ok"', 'password: "[REDACTED]"'],
    ["YAML single quotes with ''", "password: 'it''s a secret'", 'password: [REDACTED]'],
    ['a YAML plain scalar with spaces and #', 'POSTGRES_PASSWORD: pa ss#wo rd', 'POSTGRES_PASSWORD: [REDACTED]'],
    ['a YAML block scalar', 'jwt:\n  secret: |\n    line one\n    line: two\n  header: Authorization\nport: 1', 'jwt:\n  secret: |\n    [REDACTED]\n    [REDACTED]\n  header: Authorization\nport: 1'],
    ['a YAML quoted scalar folded over lines', "secret: 'ab cd\n\n  ef gh'\nport: 1", "secret: '[REDACTED]'\nport: 1"],
    ['a mapping under a secret key', 'secret:\n  inbox: in-secret\n  outbox:\n    string: out-secret\nother: kept', 'secret:\n  inbox: [REDACTED]\n  outbox:\n    string: [REDACTED]\nother: kept'],
    ['local.json secrets, bare', '"secret": {"inbox": "in-s3cret", "session": {"string": "s-s3cret"}}', '"secret": {"inbox": "[REDACTED]", "session": {"string": "[REDACTED]"}}'],
    ['"jwt" and "token" strings', '{"jwt": "jwt-s3cret", "token": "tok-s3cret", "token_type": "bearer"}', '{"jwt": "[REDACTED]", "token": "[REDACTED]", "token_type": "bearer"}'],
    ["ONLYOFFICE's token section stays (switches and header names)", '"token": {"enable": {"browser": true}, "inbox": {"header": "Authorization"}}', '"token": {"enable": {"browser": true}, "inbox": {"header": "Authorization"}}'],
    ['minified JSON with a number', '{"dbPass":12345678,"dbHost":"db"}', '{"dbPass":[REDACTED],"dbHost":"db"}'],
    ['JSON inside a JSON string', 'msg: "{\\"dbPass\\":\\"p w\\\\\\"x\\",\\"dbHost\\":\\"db\\"}"', 'msg: "{\\"dbPass\\":[REDACTED],\\"dbHost\\":\\"db\\"}"'],
    ['Authorization with a quoted scheme-less value', '{"Authorization": "raw-token-123"}', '{"Authorization": "[REDACTED]"}'],
    ['Digest parameters', `curl -H 'Authorization: Digest username="u", response="abc123"' x`, `curl -H 'Authorization: [REDACTED]' x`],
    ['a Slack webhook URL', 'POST https://hooks.slack.com/services/T000/B000/XXXXsecret failed', 'POST https://hooks.slack.com/services/[REDACTED] failed'],
    ['an encrypted PEM key, cut', '-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIFHzBJBgkqhkiG\nGHIJKL\n[output truncated]', '-----BEGIN ENCRYPTED PRIVATE KEY-----\n[REDACTED]\n[output truncated]'],
    ['a PGP private key block', '-----BEGIN PGP PRIVATE KEY BLOCK-----\nlQdGBF4\n-----END PGP PRIVATE KEY BLOCK-----', '-----BEGIN PGP PRIVATE KEY BLOCK-----\n[REDACTED]\n-----END PGP PRIVATE KEY BLOCK-----'],
    ['the tail of a key without BEGIN', '==> tail <==\nQyNTUxOQAAACD\nb3BlbnNzaC1rZX\n-----END OPENSSH PRIVATE KEY-----', '==> tail <==\n[REDACTED]\n-----END OPENSSH PRIVATE KEY-----'],
    ['a key in a JSON string', '{"private_key": "-----BEGIN PRIVATE KEY-----\\nMIIEvQ\\n-----END PRIVATE KEY-----\\n"}', '{"private_key": "[REDACTED]"}'],
    ['INI with spaces', '[client]\npassword = two words\nhost = db', '[client]\npassword = [REDACTED]\nhost = db'],
    ['a .NET connection string', 'connectionString="Server=db;User ID=root;Password=a b&amp;c;Pooling=true"', 'connectionString="Server=db;User ID=root;Password=[REDACTED];Pooling=true"'],
    ['.NET appSettings', '<add key="core.machinekey" value="mk-s3cret" />', '<add key="core.machinekey" value="[REDACTED]" />'],
    ['an XML element', '<password>x&lt;y</password><user>ds</user>', '<password>[REDACTED]</password><user>ds</user>'],
    ['a Kubernetes env entry', '- name: JWT_SECRET\n  value: "k8s s3cret"\n- name: JWT_ENABLED\n  value: "true"', '- name: JWT_SECRET\n  value: "[REDACTED]"\n- name: JWT_ENABLED\n  value: "true"'],
    ['redis.conf and redis-cli', 'requirepass "a b"\nredis-cli -a pw123456 ping', 'requirepass "[REDACTED]"\nredis-cli -a [REDACTED] ping'],
    ['a flag and its value', 'node server.js --password "two words" --port 8000', 'node server.js --password "[REDACTED]" --port 8000'],
    ['mysql -p', 'mysql -u root -p-S3cret onlyoffice', 'mysql -u root -p[REDACTED] onlyoffice'],
    ['PHP with \\\'', `'jwt_secret' => 'it\\'s; "x"', 'jwt_header' => 'Authorization'`, `'jwt_secret' => '[REDACTED]', 'jwt_header' => 'Authorization'`],
    ['nginx secure link, quoted', '  set $secure_link_secret "a b;c";', '  set $secure_link_secret "[REDACTED]";'],
    ['a query string keeps its other parameters', 'GET /x?token=a%26b%3Dc&md5=x HTTP/1.1', 'GET /x?token=[REDACTED]&md5=x HTTP/1.1'],
    ['a cookie header', 'Cookie: session=abc; csrftoken=def', 'Cookie: [REDACTED]'],
  ];
  it.each(cases)('%s', (_what, input, expected) => {
    expect(redactSecrets(input)).toBe(expected);
    expect(redactSecrets(expected)).toBe(expected);
  });

  it('stays fast on hostile input (1 MiB of each pathological shape)', () => {
    const shapes = [
      'password=x '.repeat(95_000),
      'secret: '.repeat(130_000),
      '"secret": {x\n'.repeat(80_000),
      '-----BEGIN RSA PRIVATE KEY-----\nabc\n'.repeat(28_000),
      'x\n-----END RSA PRIVATE KEY-----\n'.repeat(33_000),
      'amqp://u:p@'.repeat(95_000),
      'password="'.repeat(100_000),
      'a-'.repeat(500_000),
      'mysql '.repeat(170_000),
    ];
    const started = Date.now();
    for (const shape of shapes) redactSecrets(shape);
    // Linear work takes well under a second here; a quadratic scan would take minutes.
    expect(Date.now() - started).toBeLessThan(20_000);
  });
});

describe('redaction property: planted secrets in every syntax', () => {
  it.each(Object.entries(SYNTAXES))('%s: no run of 4+ characters of a secret survives, and redaction is idempotent', (_name, syntax) => {
    fc.assert(
      fc.property(syntax, (planted) => {
        // Not vacuous: the secret stands in the input.
        expect(leaks(planted.text, planted), planted.syntax).not.toEqual([]);
        const once = redactSecrets(planted.text);
        expect(leaks(once, planted), `${planted.syntax}\n${planted.text}\n=>\n${once}`).toEqual([]);
        expect(redactSecrets(once)).toBe(once);
      }),
      { numRuns: Number(process.env.REDACT_RUNS ?? 300) },
    );
  });
});
