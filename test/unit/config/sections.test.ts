// The slack, policy, alerts, redis and workers sections of oo.yaml: validated, with defaults, and
// mistakes named with file, line and field.
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/index.js';
import { resolveSettings, SettingsError } from '../../../src/app/settings.js';
import { configProblems } from '../../support/config.js';

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl';
const HOSTS = `hosts:\n  docs-1:\n    address: 10.0.0.12\n    user: ops\n    hostKey: "${KEY}"\n`;
const FILE = '/etc/oo/oo.yaml';

const problems = (text: string) => configProblems(text, FILE);

const ENV = {
  SLACK_BOT_TOKEN: 'xoxb-1-2-abc',
  SLACK_SIGNING_SECRET: 'secret',
  REDIS_URL: 'redis://127.0.0.1:6379',
  OO_ALERT_TOKEN: 'alert-token-0123456789',
};

describe('oo.yaml service sections', () => {
  it('fills in defaults for alerts, redis and workers; leaves slack and policy as written', () => {
    const config = parseConfig(HOSTS, FILE);
    expect(config.alerts).toEqual({
      hostLabels: ['instance', 'host', 'hostname', 'nodename'],
      repeatWindowMs: 60_000,
      maxAlertsPerBody: 1000,
      maxBodyBytes: 4 * 1024 * 1024,
    });
    expect(config.redis).toEqual({ prefix: 'oo' });
    expect(config.workers).toEqual({ diagnosisConcurrency: 4, remediationConcurrency: 2, diagnosisAttempts: 3, diagnosisBackoffMs: 2000 });
    expect(config.slack).toBeUndefined();
    expect(config.policy).toBeUndefined();
  });

  it('reads a full service configuration, the policy through the policy schema', () => {
    const config = parseConfig(
      `${HOSTS}slack:\n  channel: C0OPS\n  actionTtlMinutes: 30\npolicy:\n  approvers:\n    low: [U0ALICE]\n    medium: [U0ALICE, S0ONCALL]\n    high: [U0ALICE, U0CAROL]\n  channels: [C0OPS]\nalerts:\n  hostLabels: [node]\nredis:\n  url: redis://redis.internal:6379\n  prefix: "{oo}"\nworkers:\n  remediationConcurrency: 1\n`,
      FILE,
    );
    expect(config.slack).toEqual({ channel: 'C0OPS', actionTtlMinutes: 30 });
    expect(config.policy).toEqual({
      approvers: { low: ['U0ALICE'], medium: ['U0ALICE', 'S0ONCALL'], high: ['U0ALICE', 'U0CAROL'] },
      channels: ['C0OPS'],
      highRisk: { secondApprover: true, allowSelfApproval: false },
    });
    expect(config.alerts.hostLabels).toEqual(['node']);
    expect(config.redis).toEqual({ url: 'redis://redis.internal:6379', prefix: '{oo}' });
    expect(config.workers.remediationConcurrency).toBe(1);
  });

  it('names each mistake with its line and field', () => {
    expect(problems(`${HOSTS}policy:\n  approvers:\n    low: [alice]\n    medium: []\n    high: [U0A, U0B]\n  channels: []\n`)).toEqual([
      expect.stringMatching(/^8 policy\.approvers\.low\[0\]: must be a Slack user id/),
      expect.stringMatching(/^11 policy\.channels: name at least one channel/),
    ]);
    expect(problems(`${HOSTS}policy:\n  approvers: {low: [], medium: [], high: [U0ALICE]}\n  channels: [C0OPS]\n`)).toEqual([
      expect.stringContaining('policy.approvers.high: highRisk.secondApprover needs at least two different high-risk approvers'),
    ]);
    expect(problems(`${HOSTS}slack:\n  channel: ops\n`)).toEqual([expect.stringContaining('7 slack.channel: must be a channel id')]);
    expect(problems(`${HOSTS}redis:\n  url: http://x\n`)).toEqual([expect.stringContaining('redis.url: must start with redis://')]);
    expect(problems(`${HOSTS}workers:\n  diagnosisConcurrency: 0\n`)).toEqual([expect.stringContaining('workers.diagnosisConcurrency')]);
    expect(problems(`${HOSTS}alerts:\n  hostLabel: [x]\n`)).toEqual([expect.stringContaining('unknown key "hostLabel"')]);
  });

  it('refuses an alert channel that the policy does not cover', () => {
    expect(problems(`${HOSTS}slack:\n  channel: C0OTHER\npolicy:\n  approvers: {low: [U0A], medium: [], high: [S0GROUP]}\n  channels: [C0OPS]\n`)).toEqual([
      expect.stringContaining('7 slack.channel: channel C0OTHER is not in policy.channels (C0OPS)'),
    ]);
  });
});

describe('resolveSettings', () => {
  const config = parseConfig(`${HOSTS}slack:\n  channel: C0OPS\n`, FILE);

  it('takes the environment the contract names', () => {
    const settings = resolveSettings(config, { ...ENV, PORT: '8080', LOG_LEVEL: 'warn' }, 'serve');
    expect(settings).toMatchObject({ mode: 'serve', port: 8080, logLevel: 'warn', alertChannel: 'C0OPS', redisPrefix: 'oo', actionTtlMs: 3_600_000 });
    expect(settings.appToken).toBeUndefined();
  });

  it('does without a signing secret in Socket Mode', () => {
    const { SLACK_SIGNING_SECRET: _unused, ...env } = ENV;
    expect(resolveSettings(config, { ...env, SLACK_APP_TOKEN: 'xapp-1-A0-abc' }, 'serve').appToken).toBe('xapp-1-A0-abc');
  });

  it('names every missing or malformed variable', () => {
    try {
      resolveSettings(parseConfig(`${HOSTS}slack:\n  channel: "#ops"\n`, FILE), { SLACK_BOT_TOKEN: 'nope', PORT: '99999', LOG_LEVEL: 'loud' }, 'serve');
      throw new Error('expected a SettingsError');
    } catch (error) {
      expect(error).toBeInstanceOf(SettingsError);
      const text = (error as SettingsError).problems.join('\n');
      for (const name of ['SLACK_BOT_TOKEN does not look like a bot token', 'SLACK_SIGNING_SECRET is not set', 'REDIS_URL is not set', 'PORT must be', 'OO_ALERT_TOKEN is not set', 'LOG_LEVEL must be one of', 'slack.channel #ops is a name']) {
        expect(text).toContain(name);
      }
    }
  });

  it('lets workers run without the webhook token and the alert channel', () => {
    const bare = parseConfig(HOSTS, FILE);
    expect(resolveSettings(bare, { SLACK_BOT_TOKEN: 'xoxb-1-abc', REDIS_URL: 'redis://127.0.0.1:6379' }, 'worker').mode).toBe('worker');
  });
});
