import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import { isHashTagPrefix } from '../queue/keys.js';
import { configSchema, type Config, type HostConfig } from './schema.js';
import { readYaml, YamlFileError, zodProblems, type ParsedYaml, type YamlProblem } from './yaml-errors.js';

/** Any problem with oo.yaml: `file`, `line`, `column` and `field` name the first; `problems` lists all. */
export class ConfigError extends YamlFileError {
  constructor(problems: readonly YamlProblem[]) {
    super(problems);
    this.name = 'ConfigError';
  }
}

export interface ParseConfigOptions {
  /** Replaces the user's home directory when expanding `~` (tests). */
  homeDir?: string;
}

type RawRecord = Record<string, unknown>;

function isRecord(value: unknown): value is RawRecord {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Rules that span fields or entries. They run on the raw data even when the schema found problems, so
 * one run names every mistake; each rule only looks at values whose shape it can trust.
 */
function crossFieldProblems(raw: unknown, parsed: ParsedYaml): YamlProblem[] {
  if (!isRecord(raw)) return [];
  const problems: YamlProblem[] = [];
  const hosts = isRecord(raw.hosts) ? raw.hosts : {};
  const hostNames = new Set(Object.keys(hosts));

  for (const [name, host] of Object.entries(hosts)) {
    if (!isRecord(host)) continue;
    const at = (field: string, message: string, preferKey = false) =>
      problems.push(parsed.problemAt(['hosts', name, field], message, preferKey));

    if (host.hostKey !== undefined && host.hostKeys !== undefined) {
      at('hostKeys', 'give either hostKey or hostKeys, not both', true);
    }
    if (host.hostKey === undefined && host.hostKeys === undefined && host.knownHostsFile === undefined) {
      problems.push(
        parsed.problemAt(
          ['hosts', name],
          'needs hostKey, hostKeys or knownHostsFile: a host key that is neither pinned nor known is never trusted',
          true,
        ),
      );
    }
    if ((host.install === 'docker' || host.processManager === 'docker') && host.container === undefined) {
      problems.push(
        parsed.problemAt(
          ['hosts', name],
          `needs container (the ONLYOFFICE container's name) because ${host.install === 'docker' ? 'install' : 'processManager'} is docker`,
          true,
        ),
      );
    }
    if (typeof host.jump === 'string') {
      if (host.jump === name) at('jump', 'a host cannot be its own jump host');
      else if (!hostNames.has(host.jump)) {
        at('jump', `unknown host "${host.jump}" (hosts: ${[...hostNames].join(', ')})`);
      }
    }
  }

  // Jump cycles: follow each chain; a chain that revisits a host is reported once, on its first member.
  const jumpOf = (name: string): string | undefined => {
    const host = hosts[name];
    return isRecord(host) && typeof host.jump === 'string' && hostNames.has(host.jump) ? host.jump : undefined;
  };
  const reportedCycles = new Set<string>();
  for (const start of hostNames) {
    const chain: string[] = [start];
    for (let next = jumpOf(start); next !== undefined; next = jumpOf(next)) {
      const seenAt = chain.indexOf(next);
      if (seenAt >= 0) {
        const cycle = chain.slice(seenAt);
        const key = [...cycle].sort().join('\u0000');
        if (cycle.length > 1 && !reportedCycles.has(key)) {
          reportedCycles.add(key);
          problems.push(
            parsed.problemAt(['hosts', cycle[0]!, 'jump'], `jump hosts form a cycle: ${[...cycle, next].join(' -> ')}`),
          );
        }
        break;
      }
      chain.push(next);
    }
  }

  // The alert channel is where approvals are clicked: a channel the policy does not cover would show
  // buttons that every click is refused on.
  const slack = isRecord(raw.slack) ? raw.slack : {};
  const policy = isRecord(raw.policy) ? raw.policy : undefined;
  if (typeof slack.channel === 'string' && /^[CG]/.test(slack.channel) && policy && Array.isArray(policy.channels)) {
    if (!policy.channels.includes(slack.channel)) {
      problems.push(
        parsed.problemAt(
          ['slack', 'channel'],
          `channel ${slack.channel} is not in policy.channels (${policy.channels.join(', ')}): approvals there would all be refused`,
        ),
      );
    }
  }

  problems.push(...redisProblems(raw, parsed));

  const groups = isRecord(raw.groups) ? raw.groups : {};
  for (const [group, members] of Object.entries(groups)) {
    if (hostNames.has(group)) {
      problems.push(
        parsed.problemAt(['groups', group], `group "${group}" has the name of a host; give it another name`, true),
      );
    }
    if (!Array.isArray(members)) continue;
    members.forEach((member, index) => {
      if (typeof member === 'string' && !hostNames.has(member)) {
        problems.push(
          parsed.problemAt(
            ['groups', group, index],
            `unknown host "${member}" (hosts: ${[...hostNames].join(', ')})`,
          ),
        );
      }
    });
  }
  return problems;
}

/**
 * The `redis:` section's combinations: one server (`url`), Sentinel (`sentinels` + `name`) or Cluster
 * (`cluster`), never two; Cluster with a hash-tag prefix, because BullMQ's scripts, MULTI and oo's own
 * Lua scripts touch several keys at once, which Redis Cluster only allows within one hash slot.
 */
function redisProblems(raw: RawRecord, parsed: ParsedYaml): YamlProblem[] {
  if (!isRecord(raw.redis)) return [];
  const redis = raw.redis;
  const problems: YamlProblem[] = [];
  const at = (field: string, message: string, preferKey = true) => problems.push(parsed.problemAt(['redis', field], message, preferKey));
  const has = (field: string) => redis[field] !== undefined;

  if (has('sentinels') && has('cluster')) at('cluster', 'give either sentinels (Redis Sentinel) or cluster (Redis Cluster), not both');
  for (const mode of ['sentinels', 'cluster']) {
    if (has('url') && has(mode)) at(mode, `give either url (one Redis server) or ${mode}, not both`);
  }
  if (has('sentinels') && !has('name')) at('sentinels', 'needs name: the master group name the sentinels monitor (sentinel monitor <name> …)');
  for (const field of ['name', 'sentinelUsername', 'sentinelPassword']) {
    if (has(field) && !has('sentinels')) at(field, `${field} is a Redis Sentinel setting: it needs sentinels`);
  }
  if (has('db')) {
    if (has('cluster')) at('db', 'Redis Cluster has only database 0: leave db out');
    else if (!has('sentinels')) at('db', 'db is a Redis Sentinel setting; with url, put the database in the URL (redis://host:6379/<db>)');
  }
  if (has('cluster') && !(typeof redis.prefix === 'string' && isHashTagPrefix(redis.prefix))) {
    const why = 'Redis Cluster needs a hash-tag prefix such as "{oo}": the queues and the incident store change several keys at once, which Redis Cluster only allows when they share one hash slot';
    if (has('prefix')) at('prefix', `${why} (got ${JSON.stringify(redis.prefix)})`, false);
    else at('cluster', `${why}; set prefix: "{oo}"`);
  }
  return problems;
}

function expandPath(file: string, baseDir: string, home: string): string {
  if (file === '~') return home;
  if (file.startsWith('~/')) return path.join(home, file.slice(2));
  // Relative paths are read from the config file's folder, so an inventory and its keys can move together.
  return path.resolve(baseDir, file);
}

/**
 * Top-level `x-…` keys are the operator's own (as in Compose files): a place for `&anchors` that hosts
 * merge with `<<: *name`. They are dropped before validation; any other unknown key is still an error.
 */
function withoutExtensionKeys(raw: unknown): unknown {
  if (!isRecord(raw)) return raw;
  return Object.fromEntries(Object.entries(raw).filter(([key]) => !key.startsWith('x-')));
}

/** Validates the text of an oo.yaml. Throws ConfigError naming every problem with its file, line and field. */
export function parseConfig(text: string, file: string, options: ParseConfigOptions = {}): Config {
  const parsed = readYaml(text, file);
  if (parsed.syntaxProblems.length > 0) throw new ConfigError(parsed.syntaxProblems);
  const raw = withoutExtensionKeys(parsed.data ?? {});

  const result = configSchema.safeParse(raw, { reportInput: true });
  const problems = [...(result.success ? [] : zodProblems(result.error.issues, parsed)), ...crossFieldProblems(raw, parsed)];
  if (problems.length > 0 || !result.success) {
    throw new ConfigError(problems.length > 0 ? problems : [parsed.problemAt([], 'invalid configuration')]);
  }

  const home = options.homeDir ?? homedir();
  const baseDir = path.dirname(path.resolve(file));
  const hosts: Record<string, HostConfig> = {};
  for (const [name, host] of Object.entries(result.data.hosts)) {
    const { hostKey, hostKeys, identityFile, knownHostsFile, ...rest } = host;
    hosts[name] = {
      ...rest,
      hostKeys: [...(hostKey !== undefined ? [hostKey.trim()] : []), ...(hostKeys ?? []).map((key) => key.trim())],
      ...(identityFile !== undefined ? { identityFile: expandPath(identityFile, baseDir, home) } : {}),
      ...(knownHostsFile !== undefined ? { knownHostsFile: expandPath(knownHostsFile, baseDir, home) } : {}),
    };
  }
  const groups: Record<string, string[]> = {};
  for (const [name, members] of Object.entries(result.data.groups)) groups[name] = [...new Set(members)];
  return { ...result.data, hosts, groups, file };
}

/** The config file to read: the argument, else `$OO_CONFIG`, else `./oo.yaml`. */
export function configPath(explicit?: string, env: NodeJS.ProcessEnv = process.env): string {
  return explicit ?? (env.OO_CONFIG ? env.OO_CONFIG : './oo.yaml');
}

export async function loadConfig(file?: string, options: ParseConfigOptions = {}): Promise<Config> {
  const target = configPath(file);
  let text: string;
  try {
    text = await readFile(target, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file (pass --config or set OO_CONFIG)' : (error as Error).message;
    throw new ConfigError([{ file: target, line: 0, column: 0, field: '', message: `cannot read the configuration: ${why}` }]);
  }
  return parseConfig(text, target, options);
}
