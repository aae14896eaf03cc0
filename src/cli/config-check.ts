// `oo config check`: validates oo.yaml and the runbooks without connecting to anything (no SSH, no
// Redis, no Slack), so an operator, a CI job or a unit's ExecStartPre can stop a bad file before a
// service starts on it. Exit 0 with a summary, or 2 with every problem as "file:line:col field: message".
import { access, readFile } from 'node:fs/promises';
import { constants } from 'node:fs';
import { ConfigError, configPath, formatProblem, parseConfig, type Config, type YamlProblem } from '../config/index.js';
import { readYaml } from '../config/yaml-errors.js';
import { RISKS } from '../diagnosis/vocabulary.js';
import { bindRunbook, loadRunbooks, RunbookError, runbooksDir, type Runbook } from '../runbooks/index.js';

export interface ConfigCheckIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

export interface ConfigCheckOptions {
  config?: string;
  json?: boolean;
  /** The runbooks folder (tests); the package's own by default, as `oo serve` reads it. */
  runbooksDir?: string;
  /** The environment the service would see (REDIS_URL); process.env by default. */
  env?: NodeJS.ProcessEnv;
}

export interface ConfigCheckSummary {
  file: string;
  hosts: { name: string; target: string; install: string; processManager: string; hostKey: string; jump?: string }[];
  groups: Record<string, string[]>;
  channel: string | null;
  policy: { channels: string[]; approvers: Record<string, string[]>; secondApprover: boolean; allowSelfApproval: boolean } | null;
  /** Where Redis is and where its passwords come from: never a URL or a password itself. */
  redis: {
    mode: 'standalone' | 'sentinel' | 'cluster';
    /** One server: where the URL comes from (`from REDIS_URL`, `from redis.url`, `not set`); else `not used`. */
    url: string;
    /** Sentinel: the sentinels; Cluster: the nodes named (host:port). */
    endpoints?: string[];
    /** Sentinel: the master group name. */
    name?: string;
    prefix: string;
    /** `from REDIS_PASSWORD`, `from redis.password` or `none`. */
    password: string;
    /** Sentinel only: the same for the sentinels' own password. */
    sentinelPassword?: string;
  };
  runbooks: { id: string; steps: number; remediations: number }[];
  /** Things that are valid YAML and schema but that a service would trip on (file:line:col field: …). */
  warnings: string[];
}

async function readable(file: string): Promise<boolean> {
  try {
    await access(file, constants.R_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * What parseConfig accepts but a running service would refuse or fail on. These are warnings, not
 * errors, because the check may run on a machine other than the service's (paths, environment).
 */
async function warningsFor(config: Config, text: string, env: NodeJS.ProcessEnv): Promise<string[]> {
  const parsed = readYaml(text, config.file);
  const warnings: YamlProblem[] = [];
  for (const [name, host] of Object.entries(config.hosts)) {
    if (host.identityFile !== undefined && !(await readable(host.identityFile))) {
      warnings.push(parsed.problemAt(['hosts', name, 'identityFile'], `${host.identityFile} is not readable here`));
    }
    if (host.knownHostsFile !== undefined && !(await readable(host.knownHostsFile))) {
      warnings.push(parsed.problemAt(['hosts', name, 'knownHostsFile'], `${host.knownHostsFile} is not readable here`));
    }
  }
  const channel = config.slack?.channel;
  if (channel?.startsWith('#')) {
    // app/settings.ts refuses channel names at start: ids survive renames and need no extra scope.
    warnings.push(parsed.problemAt(['slack', 'channel'], `${channel} is a name: oo serve needs the channel id (C…)`));
  }
  if (channel === undefined && !config.policy) {
    warnings.push(parsed.problemAt([], 'no slack.channel and no policy.channels: oo serve has nowhere to post alert incidents'));
  }
  if (!config.policy) {
    warnings.push(parsed.problemAt([], 'no policy: section: nobody can approve a remediation'));
  }
  const redis = config.redis;
  const redisUrlHere = (env.REDIS_URL ?? '').trim() !== '';
  const section = redis.sentinels ? 'sentinels' : redis.cluster ? 'cluster' : undefined;
  if (section && redisUrlHere) {
    warnings.push(parsed.problemAt(['redis', section], `REDIS_URL is set here as well: oo serve and oo worker refuse to start with both (unset REDIS_URL)`, true));
  }
  if (!section && !redisUrlHere && redis.url === undefined) {
    warnings.push(parsed.problemAt([], 'no redis.url and REDIS_URL is not set here: oo serve and oo worker need one'));
  }
  for (const [field, variable] of [['password', 'REDIS_PASSWORD'], ['sentinelPassword', 'REDIS_SENTINEL_PASSWORD']] as const) {
    if (redis[field] !== undefined) {
      warnings.push(parsed.problemAt(['redis', field], `a password written in the file: prefer ${variable} in the service's environment`, true));
    }
  }
  return warnings.map(formatProblem);
}

function summarize(config: Config, runbooks: Runbook[], warnings: string[], env: NodeJS.ProcessEnv): ConfigCheckSummary {
  const channel = config.slack?.channel ?? config.policy?.channels[0] ?? null;
  const redis = config.redis;
  // The URL may hold a password: show where it comes from, never the URL itself; the same for passwords.
  const source = (variable: string, field: 'password' | 'sentinelPassword') =>
    (env[variable] ?? '').trim() ? `from ${variable}` : redis[field] !== undefined ? `from redis.${field}` : 'none';
  const endpoints = (redis.sentinels ?? redis.cluster?.nodes)?.map(({ host, port }) => `${host}:${port}`);
  const urlSource = (env.REDIS_URL ?? '').trim() ? 'from REDIS_URL' : redis.url !== undefined ? 'from redis.url' : 'not set';
  return {
    file: config.file,
    hosts: Object.entries(config.hosts).map(([name, host]) => ({
      name,
      target: `${host.user}@${host.address}:${host.port}`,
      install: host.install ?? 'detect',
      processManager: host.processManager ?? 'detect',
      hostKey: host.hostKeys.length > 0 ? `${host.hostKeys.length} pinned` : `known_hosts ${host.knownHostsFile}`,
      ...(host.jump ? { jump: host.jump } : {}),
    })),
    groups: config.groups,
    channel,
    policy: config.policy
      ? {
          channels: config.policy.channels,
          approvers: Object.fromEntries(RISKS.map((risk) => [risk, config.policy!.approvers[risk]])),
          secondApprover: config.policy.highRisk.secondApprover,
          allowSelfApproval: config.policy.highRisk.allowSelfApproval,
        }
      : null,
    redis: {
      mode: redis.sentinels ? 'sentinel' : redis.cluster ? 'cluster' : 'standalone',
      url: endpoints ? 'not used' : urlSource,
      ...(endpoints ? { endpoints } : {}),
      ...(redis.name !== undefined ? { name: redis.name } : {}),
      prefix: redis.prefix,
      password: source('REDIS_PASSWORD', 'password'),
      ...(redis.sentinels ? { sentinelPassword: source('REDIS_SENTINEL_PASSWORD', 'sentinelPassword') } : {}),
    },
    runbooks: runbooks.map((runbook) => ({ id: runbook.id, steps: runbook.steps.length, remediations: runbook.remediations.length })),
    warnings,
  };
}

function renderRedis(redis: ConfigCheckSummary['redis']): string {
  const where =
    redis.mode === 'sentinel'
      ? `Sentinel master ${redis.name} via ${redis.endpoints?.join(', ')}`
      : redis.mode === 'cluster'
        ? `Cluster via ${redis.endpoints?.join(', ')}`
        : redis.url;
  const passwords = [
    ...(redis.password !== 'none' ? [`password ${redis.password}`] : []),
    ...(redis.sentinelPassword !== undefined && redis.sentinelPassword !== 'none' ? [`sentinel password ${redis.sentinelPassword}`] : []),
  ];
  return [where, `prefix ${redis.prefix}`, ...passwords].join(', ');
}

function render(summary: ConfigCheckSummary): string {
  const lines = [`${summary.file}: valid`, '', `hosts (${summary.hosts.length})`];
  for (const host of summary.hosts) {
    lines.push(`  ${host.name}\t${host.target}${host.jump ? ` via ${host.jump}` : ''}\t${host.install}/${host.processManager}\t${host.hostKey}`);
  }
  const groups = Object.entries(summary.groups);
  lines.push(`groups (${groups.length})`);
  for (const [name, members] of groups) lines.push(`  ${name}: ${members.join(', ')}`);
  lines.push(`alert channel: ${summary.channel ?? 'none'}`);
  if (summary.policy) {
    lines.push(`policy: channels ${summary.policy.channels.join(', ')}`);
    for (const risk of RISKS) {
      const approvers = summary.policy.approvers[risk] ?? [];
      lines.push(`  ${risk}-risk approvers: ${approvers.length > 0 ? approvers.join(', ') : 'nobody'}`);
    }
    lines.push(
      `  high risk: ${summary.policy.secondApprover ? 'two approvers' : 'one approver'}, ${summary.policy.allowSelfApproval ? 'self-approval allowed' : 'no self-approval'}`,
    );
  } else {
    lines.push('policy: none (nobody can approve a remediation)');
  }
  lines.push(`redis: ${renderRedis(summary.redis)}`);
  lines.push(`runbooks (${summary.runbooks.length})`);
  for (const runbook of summary.runbooks) lines.push(`  ${runbook.id}: ${runbook.steps} steps, ${runbook.remediations} remediations`);
  return `${lines.join('\n')}\n`;
}

/** Runs the check; returns the exit code (0 valid, 2 invalid), never throws for a bad file. */
export async function configCheck(options: ConfigCheckOptions, io: ConfigCheckIo): Promise<number> {
  const env = options.env ?? process.env;
  const file = configPath(options.config, env);
  const problems: string[] = [];

  let config: Config | undefined;
  let text = '';
  try {
    text = await readFile(file, 'utf8');
    config = parseConfig(text, file);
  } catch (error) {
    if (error instanceof ConfigError) problems.push(...error.problems.map(formatProblem));
    else {
      const code = (error as NodeJS.ErrnoException).code;
      problems.push(`${file}: cannot read the configuration: ${code === 'ENOENT' ? 'no such file (pass --config or set OO_CONFIG)' : (error as Error).message}`);
    }
  }

  // Runbooks are checked even when the config failed, so one run names every mistake.
  let runbooks: Runbook[] = [];
  try {
    runbooks = await loadRunbooks(options.runbooksDir ?? runbooksDir());
    // Binding checks the templates' placeholders against what a host can supply, as the service does.
    for (const runbook of runbooks) bindRunbook(runbook);
  } catch (error) {
    if (error instanceof RunbookError) problems.push(...error.problems.map(formatProblem));
    else problems.push(`runbooks: ${(error as Error).message}`);
  }

  if (problems.length > 0 || !config) {
    io.stderr(`${problems.join('\n')}\n`);
    return 2;
  }
  const summary = summarize(config, runbooks, await warningsFor(config, text, env), env);
  if (options.json) io.stdout(`${JSON.stringify(summary, null, 2)}\n`);
  else {
    io.stdout(render(summary));
    for (const warning of summary.warnings) io.stderr(`warning: ${warning}\n`);
  }
  return 0;
}
