// The schema of oo.yaml (contract: "Configuration file"). Sections may be added, never renamed.
import { isIP } from 'node:net';
import { z } from 'zod';
import { parsePublicKeyLine } from '../ssh/known-hosts.js';
import { DEFAULT_MAX_SESSIONS_PER_CONNECTION } from '../ssh/connection.js';
import { PROCESS_MANAGERS } from '../diagnosis/vocabulary.js';
import { policySchema } from '../remediation/policy.js';

export const HOST_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
/** Docker's own rule for container names; also keeps the name harmless inside a shell command. */
export const CONTAINER_NAME_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/;
const DNS_NAME_PATTERN =
  /^(?=.{1,253}\.?$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?)*\.?$/;
// POSIX portable user names, plus the `user@domain` and `DOMAIN\user` shapes are left out on purpose:
// the name travels to sshd only, but nothing odd should reach logs or messages either.
const USER_NAME_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/;

export const INSTALLS = ['deb', 'rpm', 'docker'] as const;
export type Install = (typeof INSTALLS)[number];

const hostName = z.string().regex(HOST_NAME_PATTERN, {
  message: 'names start with a letter or digit and contain only letters, digits, "_", "." and "-"',
});

/** An IPv4 or IPv6 address, or a DNS host name. */
export function isHostOrAddress(value: string): boolean {
  return isIP(value) !== 0 || DNS_NAME_PATTERN.test(value);
}

const address = z.string().min(1).refine(isHostOrAddress, {
  message: 'must be a host name or an IP address',
});

const publicKeyLine = z.string().superRefine((value, ctx) => {
  try {
    parsePublicKeyLine(value);
  } catch (error) {
    ctx.addIssue({
      code: 'custom',
      message: `not a public key line "<type> <base64> [comment]": ${(error as Error).message}`,
    });
  }
});

const filePath = z.string().min(1, { message: 'must not be empty' });

export const hostSchema = z.strictObject({
  address,
  port: z.number().int().min(1).max(65535).default(22),
  user: z.string().regex(USER_NAME_PATTERN, { message: 'must be a plain user name' }),
  /** Private key file; when absent, the ssh-agent named by SSH_AUTH_SOCK is used. */
  identityFile: filePath.optional(),
  hostKey: publicKeyLine.optional(),
  hostKeys: z.array(publicKeyLine).min(1).optional(),
  knownHostsFile: filePath.optional(),
  install: z.enum(INSTALLS).optional(),
  processManager: z.enum(PROCESS_MANAGERS).optional(),
  container: z
    .string()
    .regex(CONTAINER_NAME_PATTERN, { message: 'must match ^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$ (a Docker container name)' })
    .optional(),
  sudo: z.boolean().default(false),
  jump: hostName.optional(),
});

export const sshSchema = z.strictObject({
  connectTimeoutMs: z.number().int().min(100).max(600_000).default(10_000),
  commandTimeoutMs: z.number().int().min(100).max(3_600_000).default(60_000),
  /** 0 turns keepalives off. */
  keepaliveIntervalMs: z.number().int().min(0).max(600_000).default(15_000),
  // OpenSSH's MaxSessions defaults to 10 channels per connection; stay below it.
  maxSessionsPerConnection: z.number().int().min(1).max(9).default(DEFAULT_MAX_SESSIONS_PER_CONNECTION),
  maxParallelHosts: z.number().int().min(1).max(1000).default(16),
});

/** A Slack channel id (`C…`, private `G…`), or `#name` (resolved to an id at start, see app/settings.ts). */
const SLACK_CHANNEL = /^(?:[CG][A-Z0-9]{2,20}|#[a-z0-9][a-z0-9_-]{0,79})$/;
const PROMETHEUS_LABEL = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

/**
 * The `slack:` section. No defaults here: the section is read back as written (defaults are applied
 * where they are used, app/settings.ts), so `oo hosts --json` shows what the operator wrote.
 */
export const slackSchema = z.strictObject({
  /** Where alert incidents get their parent message; must be one of policy.channels. */
  channel: z.string().regex(SLACK_CHANNEL, { message: 'must be a channel id (C… or G…) or "#name"' }).optional(),
  /** How long a remediation button can be approved. */
  actionTtlMinutes: z.number().int().min(1).max(7 * 24 * 60).optional(),
  /** Least time between two edits of a progress message (Slack allows about one edit a second). */
  progressEveryMs: z.number().int().min(250).max(60_000).optional(),
  /**
   * A diagnosis shows a progress message only once it has run this long (0: at once). A quick one goes
   * straight to its findings, which then take the thread's first message.
   */
  progressAfterMs: z.number().int().min(0).max(60_000).optional(),
  /** Least time between two messages to one channel (chat.postMessage: about 1 per second). */
  postEveryMs: z.number().int().min(0).max(60_000).optional(),
});

export const alertsSchema = z.strictObject({
  /** Labels that name the host, most trusted first; matched against inventory names and addresses. */
  hostLabels: z
    .array(z.string().regex(PROMETHEUS_LABEL, { message: 'must be a Prometheus label name' }))
    .min(1)
    .default(['instance', 'host', 'hostname', 'nodename']),
  /** Least time between two "more alerts" replies in one incident's thread. */
  repeatWindowMs: z.number().int().min(1000).max(24 * 3600 * 1000).default(60_000),
  /** Alerts accepted in one webhook body. */
  maxAlertsPerBody: z.number().int().min(1).max(10_000).default(1000),
  /** Largest webhook body accepted, in bytes. */
  maxBodyBytes: z.number().int().min(1024).max(64 * 1024 * 1024).default(4 * 1024 * 1024),
});

/** A Redis server or Sentinel address; `port` defaults to `defaultPort`. */
const redisEndpoint = (defaultPort: number) =>
  z.strictObject({ host: address, port: z.number().int().min(1).max(65535).default(defaultPort) });
const redisSecret = z.string().min(1, { message: 'must not be empty (leave it out, or set it in the environment)' });
const REDIS_NAME = /^[A-Za-z0-9_.-]{1,64}$/;
const redisUser = z.string().regex(/^[^\s]{1,128}$/, { message: 'must be 1-128 characters without spaces' });

/**
 * The `redis:` section: one server (`url`), a Sentinel-monitored master (`sentinels` + `name`) or a
 * Redis Cluster (`cluster.nodes`, with a hash-tag `prefix`). Which combinations are allowed is checked
 * in config/load.ts (redisProblems), so that one run names every mistake with its line.
 */
export const redisSchema = z.strictObject({
  /** `redis://…`; REDIS_URL wins when set. */
  url: z.string().regex(/^rediss?:\/\//, { message: 'must start with redis:// or rediss://' }).optional(),
  /** Key prefix; `{oo}` (a hash tag) for Redis Cluster. */
  prefix: z
    .string()
    .regex(/^(?:\{[A-Za-z0-9_.-]{1,64}\}|[A-Za-z0-9_.-]{1,64})$/, { message: 'use 1-64 of A-Z a-z 0-9 _ . -, optionally in {}' })
    .default('oo'),
  /** Sentinel: the sentinels to ask for the current master (port 26379 by default). */
  sentinels: z.array(redisEndpoint(26379)).min(1, { message: 'name at least one sentinel' }).optional(),
  /** Sentinel: the master group name (`sentinel monitor <name> …`). */
  name: z.string().regex(REDIS_NAME, { message: 'must be 1-64 of A-Z a-z 0-9 _ . -' }).optional(),
  /** Redis Cluster: some of its nodes (the others are discovered; port 6379 by default). */
  cluster: z
    .strictObject({ nodes: z.array(redisEndpoint(6379)).min(1, { message: 'name at least one cluster node' }) })
    .optional(),
  /** ACL user of the Redis servers (not of the sentinels). */
  username: redisUser.optional(),
  /**
   * Password of the Redis servers; REDIS_PASSWORD wins when set (prefer it: keep secrets out of files).
   * With `url`, a password written in the URL wins over both.
   */
  password: redisSecret.optional(),
  /** ACL user of the sentinels themselves. */
  sentinelUsername: redisUser.optional(),
  /** Password of the sentinels themselves; REDIS_SENTINEL_PASSWORD wins when set. */
  sentinelPassword: redisSecret.optional(),
  /** Sentinel: the database number (with `url` it is the URL's path, `redis://host:6379/<db>`; Cluster has only 0). */
  db: z.number().int().min(0).max(1_000_000).optional(),
  /** TLS to every Redis server (and sentinel), checked against the system CAs (NODE_EXTRA_CA_CERTS adds one). */
  tls: z.boolean().optional(),
});

export const workersSchema = z.strictObject({
  /** Diagnoses run at once by one process (each holds one SSH connection's channels). */
  diagnosisConcurrency: z.number().int().min(1).max(256).default(4),
  /** Remediations run at once by one process (one per host at a time regardless). */
  remediationConcurrency: z.number().int().min(1).max(64).default(2),
  /** Tries per diagnosis, the first included (retried with exponential backoff). */
  diagnosisAttempts: z.number().int().min(1).max(20).default(3),
  diagnosisBackoffMs: z.number().int().min(100).max(600_000).default(2_000),
});

/**
 * The `server:` section: where `oo serve` and `oo worker` listen for HTTP (webhooks, Slack's HTTP mode,
 * /healthz, /readyz, /metrics). Read back as written; OO_HOST and PORT win, app/settings.ts applies them.
 */
export const serverSchema = z.strictObject({
  /** Address to bind: an IP address (127.0.0.1, ::1, 0.0.0.0, ::) or a host name; all interfaces when absent. */
  host: z.string().refine(isHostOrAddress, { message: 'must be an IP address or a host name (e.g. 127.0.0.1, ::1, 0.0.0.0)' }).optional(),
  /** Port to listen on (0: any free port); 3000 when absent. */
  port: z.number().int().min(0).max(65535).optional(),
});

export const configSchema = z.strictObject({
  hosts: z.record(hostName, hostSchema).refine((hosts) => Object.keys(hosts).length > 0, {
    message: 'needs at least one host',
  }),
  groups: z.record(hostName, z.array(hostName).min(1, { message: 'a group needs at least one host' })).default({}),
  ssh: sshSchema.prefault({}),
  slack: slackSchema.optional(),
  /** Who may approve what, where; without it nobody can approve a remediation. */
  policy: policySchema.optional(),
  alerts: alertsSchema.prefault({}),
  redis: redisSchema.prefault({}),
  workers: workersSchema.prefault({}),
  server: serverSchema.optional(),
});

export type HostConfigInput = z.input<typeof hostSchema>;
export type SshSettings = z.output<typeof sshSchema>;
export type SlackSettingsInput = z.output<typeof slackSchema>;
export type AlertSettings = z.output<typeof alertsSchema>;
export type RedisSettings = z.output<typeof redisSchema>;
export type WorkerSettings = z.output<typeof workersSchema>;
export type ServerSettings = z.output<typeof serverSchema>;
type RawConfig = z.output<typeof configSchema>;
type RawHost = z.output<typeof hostSchema>;

/** A host as configured, with paths expanded and the pinned keys gathered into one list. */
export interface HostConfig extends Omit<RawHost, 'hostKey' | 'hostKeys'> {
  /** Pinned public key lines (`hostKey` and `hostKeys` together); may be empty when knownHostsFile is set. */
  hostKeys: string[];
}

export interface Config extends Omit<RawConfig, 'hosts'> {
  hosts: Record<string, HostConfig>;
  /** The file the configuration came from (for messages). */
  file: string;
}
