// What the service runs with: oo.yaml plus the contract's environment variables, checked once at start
// so that a missing token or a bad URL is named before anything listens.
import type { LogLevel } from '@slack/bolt';
import type { Config } from '../config/index.js';
import { isHostOrAddress } from '../config/schema.js';
import type { RedisConnection } from '../queue/redis.js';
import type { PolicyConfig } from '../remediation/policy.js';
import { parseLogLevel } from './logger.js';

export type ServiceMode = 'serve' | 'worker';

export interface ServiceSettings {
  mode: ServiceMode;
  botToken: string;
  /** HTTP mode only. */
  signingSecret?: string;
  /** Socket Mode when set. */
  appToken?: string;
  /** Base URL of the Slack Web API (`…/api/`). */
  slackApiUrl?: string;
  /** One server, Sentinel or Cluster, with the passwords from the environment where set. */
  redis: RedisConnection;
  redisPrefix: string;
  port: number;
  /** Address the HTTP server binds (OO_HOST, then server.host); all interfaces when absent. */
  host?: string;
  /** Bearer token the alert webhooks require (serve only). */
  alertToken?: string;
  logLevel: LogLevel;
  /** Channel id for alert incidents. */
  alertChannel?: string;
  policy?: PolicyConfig;
  actionTtlMs: number;
  progressEveryMs: number;
  /** A diagnosis's progress message appears only after this long. */
  progressAfterMs: number;
  postEveryMs: number;
}

export class SettingsError extends Error {
  constructor(readonly problems: string[]) {
    super(`cannot start: ${problems.join('; ')}`);
    this.name = 'SettingsError';
  }
}

/** A variable's value, trimmed; undefined when unset or blank. */
function envValue(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

/**
 * Where Redis is: REDIS_URL or redis.url (one server), redis.sentinels (Sentinel) or redis.cluster.
 * Passwords come from REDIS_PASSWORD and REDIS_SENTINEL_PASSWORD when set, else from oo.yaml. REDIS_URL
 * next to sentinels or cluster is refused: it would quietly bypass the failover or the cluster.
 */
export function resolveRedisConnection(config: Pick<Config, 'redis' | 'file'>, env: NodeJS.ProcessEnv): { connection?: RedisConnection; problems: string[] } {
  const { redis, file } = config;
  const envUrl = envValue(env, 'REDIS_URL');
  const password = envValue(env, 'REDIS_PASSWORD') ?? redis.password;
  const auth = {
    ...(redis.username !== undefined ? { username: redis.username } : {}),
    ...(password !== undefined ? { password } : {}),
    ...(redis.tls ? { tls: true } : {}),
  };
  const mode = redis.sentinels ? 'sentinels' : redis.cluster ? 'cluster' : undefined;
  if (mode && envUrl) {
    return { problems: [`REDIS_URL is set, but ${file} configures redis.${mode}: unset REDIS_URL (one URL would bypass ${mode === 'cluster' ? 'the cluster' : "Sentinel's failover"})`] };
  }
  if (redis.sentinels) {
    if (redis.name === undefined) return { problems: [`${file}: redis.sentinels needs redis.name (the master group name)`] };
    const sentinelPassword = envValue(env, 'REDIS_SENTINEL_PASSWORD') ?? redis.sentinelPassword;
    return {
      problems: [],
      connection: {
        mode: 'sentinel',
        sentinels: redis.sentinels,
        name: redis.name,
        ...auth,
        ...(redis.db !== undefined ? { db: redis.db } : {}),
        ...(redis.sentinelUsername !== undefined ? { sentinelUsername: redis.sentinelUsername } : {}),
        ...(sentinelPassword !== undefined ? { sentinelPassword } : {}),
      },
    };
  }
  if (redis.cluster) return { problems: [], connection: { mode: 'cluster', nodes: redis.cluster.nodes, ...auth } };
  const url = envUrl ?? redis.url;
  if (!url) return { problems: ['REDIS_URL is not set (and oo.yaml has no redis.url, redis.sentinels or redis.cluster)'] };
  if (!/^rediss?:\/\//.test(url)) return { problems: ['REDIS_URL must start with redis:// or rediss://'] };
  return { problems: [], connection: { mode: 'standalone', url, ...auth } };
}

const SLACK_TOKEN = /^xox[bp]-[A-Za-z0-9-]{4,}$/;
const APP_TOKEN = /^xapp-[A-Za-z0-9-]{4,}$/;

export function resolveSettings(config: Config, env: NodeJS.ProcessEnv, mode: ServiceMode): ServiceSettings {
  const problems: string[] = [];
  const get = (name: string) => envValue(env, name);

  const botToken = get('SLACK_BOT_TOKEN');
  if (!botToken) problems.push('SLACK_BOT_TOKEN is not set (the bot token, xoxb-…)');
  else if (!SLACK_TOKEN.test(botToken)) problems.push('SLACK_BOT_TOKEN does not look like a bot token (xoxb-…)');

  const appToken = get('SLACK_APP_TOKEN');
  if (appToken && !APP_TOKEN.test(appToken)) problems.push('SLACK_APP_TOKEN does not look like an app-level token (xapp-…)');
  const signingSecret = get('SLACK_SIGNING_SECRET');
  if (mode === 'serve' && !appToken && !signingSecret) {
    problems.push('SLACK_SIGNING_SECRET is not set: HTTP mode (no SLACK_APP_TOKEN) must verify every request from Slack');
  }

  const slackApiUrl = get('SLACK_API_URL');
  if (slackApiUrl) {
    try {
      const url = new URL(slackApiUrl);
      if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error('not http(s)');
    } catch {
      problems.push(`SLACK_API_URL is not an http(s) URL: ${JSON.stringify(slackApiUrl.slice(0, 80))}`);
    }
  }

  const redis = resolveRedisConnection(config, env);
  problems.push(...redis.problems);

  const portText = get('PORT') ?? String(config.server?.port ?? 3000);
  const port = Number(portText);
  if (!/^\d{1,5}$/.test(portText) || port > 65535) problems.push(`PORT must be a port number from 0 to 65535 (got ${JSON.stringify(portText)})`);
  const host = get('OO_HOST') ?? config.server?.host;
  if (host !== undefined && !isHostOrAddress(host)) {
    problems.push(`OO_HOST must be an IP address or a host name to listen on, e.g. 127.0.0.1 (got ${JSON.stringify(host.slice(0, 80))})`);
  }

  const alertToken = get('OO_ALERT_TOKEN');
  if (mode === 'serve' && !alertToken) problems.push('OO_ALERT_TOKEN is not set: the alert webhooks must require a bearer token');
  else if (alertToken && alertToken.length < 16) problems.push('OO_ALERT_TOKEN is shorter than 16 characters: too easy to guess');

  let logLevel: LogLevel | undefined;
  try {
    logLevel = parseLogLevel(get('LOG_LEVEL'));
  } catch (error) {
    problems.push((error as Error).message);
  }

  const slack = config.slack ?? {};
  let alertChannel: string | undefined;
  if (slack.channel !== undefined) {
    if (slack.channel.startsWith('#')) {
      problems.push(
        `${config.file}: slack.channel ${slack.channel} is a name; give the channel id (C…): ids survive renames and need no channels:read scope`,
      );
    } else alertChannel = slack.channel;
  } else if (config.policy) {
    alertChannel = config.policy.channels[0];
  }
  if (mode === 'serve' && !alertChannel) problems.push(`${config.file}: set slack.channel (or policy.channels) so alert incidents have a channel`);

  if (problems.length > 0) throw new SettingsError(problems);
  return {
    mode,
    botToken: botToken!,
    ...(signingSecret ? { signingSecret } : {}),
    ...(appToken ? { appToken } : {}),
    ...(slackApiUrl ? { slackApiUrl: slackApiUrl.endsWith('/') ? slackApiUrl : `${slackApiUrl}/` } : {}),
    redis: redis.connection!,
    redisPrefix: config.redis.prefix,
    port,
    ...(host !== undefined ? { host } : {}),
    ...(alertToken ? { alertToken } : {}),
    logLevel: logLevel!,
    ...(alertChannel ? { alertChannel } : {}),
    ...(config.policy ? { policy: config.policy } : {}),
    actionTtlMs: (slack.actionTtlMinutes ?? 60) * 60_000,
    progressEveryMs: slack.progressEveryMs ?? 1500,
    progressAfterMs: slack.progressAfterMs ?? 2000,
    postEveryMs: slack.postEveryMs ?? 1100,
  };
}
