// The `server:` section (where `oo serve` / `oo worker` listen) and OO_HOST / PORT over it: validated by
// the schema (an IP address or a host name, a port), applied by resolveSettings, defaults as before.
import { describe, expect, it } from 'vitest';
import { resolveSettings, SettingsError } from '../../../src/app/settings.js';
import { parseConfig } from '../../../src/config/index.js';
import { configProblems } from '../../support/config.js';

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl';
const HOSTS = `hosts:\n  docs-1:\n    address: 10.0.0.12\n    user: ops\n    hostKey: "${KEY}"\nslack:\n  channel: C0OPS\n`;
const FILE = '/etc/oo/oo.yaml';
const ENV = {
  SLACK_BOT_TOKEN: 'xoxb-1-2-abc',
  SLACK_SIGNING_SECRET: 'secret',
  REDIS_URL: 'redis://127.0.0.1:6379',
  OO_ALERT_TOKEN: 'alert-token-0123456789',
};

const withServer = (server: string) => `${HOSTS}server:\n${server}`;
const settings = (yaml: string, env: Record<string, string> = {}) => resolveSettings(parseConfig(yaml, FILE), { ...ENV, ...env }, 'serve');

describe('server: in oo.yaml', () => {
  it('is optional, and absent means all interfaces on port 3000, as before it existed', () => {
    expect(parseConfig(HOSTS, FILE).server).toBeUndefined();
    const resolved = settings(HOSTS);
    expect(resolved.host).toBeUndefined();
    expect(resolved.port).toBe(3000);
  });

  it('accepts IPv4 and IPv6 addresses and host names', () => {
    for (const host of ['127.0.0.1', '0.0.0.0', '::1', '::', 'fd00::12', 'localhost', 'oo.internal.example.com']) {
      expect(parseConfig(withServer(`  host: "${host}"\n  port: 8080\n`), FILE).server).toEqual({ host, port: 8080 });
      expect(settings(withServer(`  host: "${host}"\n  port: 8080\n`))).toMatchObject({ host, port: 8080 });
    }
  });

  it('names what is wrong, with its line and field', () => {
    for (const host of ['127.0.0.1:3000', 'http://oo.example.com', 'not a host', '-bad-.example', '']) {
      expect(configProblems(withServer(`  host: "${host}"\n`), FILE)).toEqual([expect.stringMatching(/^9 server\.host: must be an IP address or a host name/)]);
    }
    expect(configProblems(withServer('  port: 70000\n'), FILE)).toEqual([expect.stringMatching(/^9 server\.port: /)]);
    expect(configProblems(withServer('  bind: 127.0.0.1\n'), FILE)).toEqual([expect.stringContaining('unknown key "bind"')]);
  });

  it('yields to OO_HOST and PORT from the environment', () => {
    const yaml = withServer('  host: 0.0.0.0\n  port: 8080\n');
    expect(settings(yaml, { OO_HOST: '127.0.0.1', PORT: '9090' })).toMatchObject({ host: '127.0.0.1', port: 9090 });
    expect(settings(HOSTS, { OO_HOST: '::1' })).toMatchObject({ host: '::1', port: 3000 });
    expect(settings(HOSTS, { OO_HOST: '   ' }).host).toBeUndefined();
  });

  it('refuses an OO_HOST that is neither an address nor a name, before anything listens', () => {
    expect(() => settings(HOSTS, { OO_HOST: '127.0.0.1:3000' })).toThrow(SettingsError);
    expect(() => settings(HOSTS, { OO_HOST: 'http://x' })).toThrow(/OO_HOST must be an IP address or a host name/);
  });
});
