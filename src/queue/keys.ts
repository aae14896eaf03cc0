// Every Redis key oo-responder writes, in one place, under one prefix. A Redis Cluster hash tag such as
// `{oo}` as the prefix puts all of them in one slot, which the multi-key Lua scripts here need there.
// BullMQ's own keys live under `<prefix>:q:` so that they can never collide with the state keys
// (BullMQ's job hashes are `<prefix>:<queue>:<jobId>`, the remediation records `<prefix>:remediation:<id>`).

const PREFIX_PATTERN = /^(?:\{[A-Za-z0-9_.-]{1,64}\}|[A-Za-z0-9_.-]{1,64})$/;
/** Host names as the inventory allows them (config/schema.ts HOST_NAME_PATTERN), bounded in length. */
const HOST_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,252}$/;

export class InvalidKeyPartError extends Error {
  constructor(what: string, value: unknown, rule: string) {
    super(`invalid ${what} ${JSON.stringify(typeof value === 'string' ? value.slice(0, 80) : value)}: ${rule}`);
    this.name = 'InvalidKeyPartError';
  }
}

export function assertPrefix(prefix: string): string {
  if (typeof prefix !== 'string' || !PREFIX_PATTERN.test(prefix)) {
    throw new InvalidKeyPartError(
      'key prefix',
      prefix,
      'use 1-64 of A-Z a-z 0-9 _ . - , optionally wrapped in {} as a Redis Cluster hash tag',
    );
  }
  return prefix;
}

/** True when the prefix is a Redis Cluster hash tag as a whole (`{oo}`): every key under it is in one slot. */
export function isHashTagPrefix(prefix: string): boolean {
  return /^\{[^{}]+\}$/.test(prefix);
}

export function assertHost(host: string): string {
  if (typeof host !== 'string' || !HOST_PATTERN.test(host)) {
    throw new InvalidKeyPartError('host', host, 'a host name from the inventory: letters, digits, "_", "." and "-"');
  }
  return host;
}

export interface Keyspace {
  readonly prefix: string;
  /** The `prefix` option for BullMQ queues and workers. */
  readonly bullPrefix: string;
  hostLock(host: string): string;
  hostReaders(host: string): string;
  remediation(actionId: string): string;
  remediationLease(actionId: string): string;
  remediationInfo(actionId: string): string;
  readonly runningRemediations: string;
  /** Actions whose result became unknown and whose verification diagnosis is not queued yet. */
  readonly unverifiedRemediations: string;
  action(actionId: string): string;
  incident(key: string): string;
  readonly openIncidents: string;
  readonly audit: string;
}

export function keyspace(prefix = 'oo'): Keyspace {
  assertPrefix(prefix);
  return {
    prefix,
    bullPrefix: `${prefix}:q`,
    hostLock: (host) => `${prefix}:hostlock:${assertHost(host)}`,
    hostReaders: (host) => `${prefix}:hostreaders:${assertHost(host)}`,
    remediation: (actionId) => `${prefix}:remediation:${actionId}`,
    remediationLease: (actionId) => `${prefix}:remediation:${actionId}:lease`,
    remediationInfo: (actionId) => `${prefix}:remediation:${actionId}:info`,
    runningRemediations: `${prefix}:remediations:running`,
    unverifiedRemediations: `${prefix}:remediations:unverified`,
    action: (actionId) => `${prefix}:action:${actionId}`,
    incident: (key) => `${prefix}:incident:${key}`,
    openIncidents: `${prefix}:incidents:open`,
    audit: `${prefix}:audit`,
  };
}
