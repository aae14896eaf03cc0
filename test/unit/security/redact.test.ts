import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { containsKnownSecretPattern, redactSecrets, REDACTED } from '../../../src/security/redact.js';

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
