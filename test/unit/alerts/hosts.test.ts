import { describe, expect, it } from 'vitest';
import { DEFAULT_HOST_LABELS, hostFromLabels, hostPartOf, incidentKey, parseAlertBody } from '../../../src/alerts/index.js';
import { alertmanagerFor, alertmanagerProbeFailure } from './samples.js';

const inventory = ['docs-1', 'docs-2', '10.0.0.12', 'docs-3.example.com'];

describe('hostPartOf', () => {
  it.each([
    ['docs-1:9100', 'docs-1'],
    ['Docs-1.Example.COM.', 'docs-1.example.com'],
    ['10.0.0.12:9100', '10.0.0.12'],
    ['https://server.example.org', 'server.example.org'],
    ['http://10.0.0.12:8000/healthcheck', '10.0.0.12'],
    ['[2001:db8::1]:9100', '2001:db8::1'],
    ['2001:0db8:0:0:0:0:0:1', '2001:db8::1'],
    ['  docs-2  ', 'docs-2'],
  ])('%s → %s', (value, host) => {
    expect(hostPartOf(value)).toBe(host);
  });
});

describe('hostFromLabels', () => {
  it('strips the exporter port from instance', () => {
    expect(hostFromLabels({ instance: 'docs-1:9100' }, undefined, inventory)).toBe('docs-1');
    expect(hostFromLabels({ instance: '10.0.0.12:9100' }, undefined, inventory)).toBe('10.0.0.12');
  });

  it('returns the inventory name when an entry lists the address', () => {
    const hosts = [{ name: 'docs-1', address: '10.0.0.12' }, { name: 'docs-2', address: '10.0.0.13', aliases: ['office-b'] }];
    expect(hostFromLabels({ instance: '10.0.0.12:9100' }, undefined, hosts)).toBe('docs-1');
    expect(hostFromLabels({ hostname: 'OFFICE-B' }, undefined, hosts)).toBe('docs-2');
    expect(hostFromLabels({ instance: '[2001:db8::5]:9100' }, undefined, [{ name: 'v6', address: '2001:db8:0::5' }])).toBe('v6');
  });

  it('tries the label names in order', () => {
    expect(hostFromLabels({ instance: 'prometheus:9090', host: 'docs-2' }, undefined, inventory)).toBe('docs-2');
    expect(hostFromLabels({ instance: 'docs-1:9100', host: 'docs-2' }, undefined, inventory)).toBe('docs-1');
    expect(hostFromLabels({ instance: 'docs-1:9100', node: 'docs-2' }, ['node'], inventory)).toBe('docs-2');
    expect(DEFAULT_HOST_LABELS).toEqual(['instance', 'host', 'hostname', 'nodename']);
  });

  it('matches a qualified name to a short one only when unambiguous', () => {
    expect(hostFromLabels({ instance: 'docs-1.prod.example.com:9100' }, undefined, inventory)).toBe('docs-1');
    expect(hostFromLabels({ nodename: 'docs-3' }, undefined, inventory)).toBe('docs-3.example.com');
    expect(hostFromLabels({ nodename: 'docs-3.staging.example.com' }, undefined, inventory)).toBeUndefined();
    expect(hostFromLabels({ nodename: 'docs-9' }, undefined, ['docs-9.a.example.com', 'docs-9.b.example.com'])).toBeUndefined();
  });

  it('never returns a host outside the inventory', () => {
    expect(hostFromLabels({ instance: 'attacker.example.net:22' }, undefined, inventory)).toBeUndefined();
    expect(hostFromLabels({ instance: 'docs-1:9100' }, undefined, [])).toBeUndefined();
    expect(hostFromLabels({}, undefined, inventory)).toBeUndefined();
    expect(hostFromLabels({ instance: '10.0.0' }, undefined, ['10.0.0.12'])).toBeUndefined();
  });

  it('finds the host of a real blackbox alert by its URL instance', () => {
    const parsed = parseAlertBody('alertmanager', alertmanagerProbeFailure);
    if (!parsed.ok) throw new Error(parsed.error);
    expect(hostFromLabels(parsed.alerts[0]!.labels, undefined, ['server.example.org'])).toBe('server.example.org');
  });
});

describe('incidentKey', () => {
  function alerts(body: Record<string, unknown>) {
    const parsed = parseAlertBody('alertmanager', body);
    if (!parsed.ok) throw new Error(parsed.error);
    return parsed.alerts;
  }

  it('is the same for repeats and the resolution, on the same host', () => {
    const [firing] = alerts(alertmanagerFor(['docs-1']));
    const [resolved] = alerts(alertmanagerFor(['docs-1'], 'resolved'));
    expect(incidentKey(firing!, 'docs-1')).toBe(incidentKey(resolved!, 'docs-1'));
    expect(incidentKey(firing!, 'docs-1')).toBe(incidentKey(firing!, 'DOCS-1'));
  });

  it('separates hosts and alert names', () => {
    const [a] = alerts(alertmanagerFor(['docs-1']));
    const [b] = alerts(alertmanagerFor(['docs-1'], 'firing', 'NginxDown'));
    expect(incidentKey(a!, 'docs-1')).not.toBe(incidentKey(a!, 'docs-2'));
    expect(incidentKey(a!, 'docs-1')).not.toBe(incidentKey(b!, 'docs-1'));
  });

  it('groups alerts of unknown hosts by the sender group', () => {
    const [a, b] = alerts(alertmanagerFor(['x-1', 'x-2']));
    expect(incidentKey(a!, undefined)).toBe(incidentKey(b!, undefined));
    expect(incidentKey(a!, undefined)).not.toBe(incidentKey(a!, 'x-1'));
  });

  it('is safe as a BullMQ job id and a block_id', () => {
    const [a] = alerts(alertmanagerFor(['docs-1']));
    const key = incidentKey(a!, 'docs-1');
    expect(key).toMatch(/^inc_[0-9a-f]{32}$/);
    expect(key).not.toContain(':');
  });
});
