import { describe, expect, it } from 'vitest';
import { labelsFingerprint, parseAlertBody } from '../../../src/alerts/index.js';
import {
  alertmanagerFor,
  alertmanagerProbeFailure,
  alertmanagerResolved,
  alertmanagerWithoutFingerprint,
  grafanaDocsExample,
} from './samples.js';

function ok(result: ReturnType<typeof parseAlertBody>) {
  if (!result.ok) throw new Error(`expected ok, got: ${result.error}`);
  return result.alerts;
}

function failure(result: ReturnType<typeof parseAlertBody>): string {
  if (result.ok) throw new Error('expected a parse error');
  return result.error;
}

describe('parseAlertBody: Alertmanager', () => {
  it('reads the published v4 sample', () => {
    const [alert, ...rest] = ok(parseAlertBody('alertmanager', alertmanagerProbeFailure));
    expect(rest).toHaveLength(0);
    expect(alert).toEqual({
      source: 'alertmanager',
      fingerprint: '1a30ba71cca2921f',
      status: 'firing',
      labels: alertmanagerProbeFailure.alerts[0]?.labels,
      annotations: alertmanagerProbeFailure.alerts[0]?.annotations,
      summary: 'BlackBox Probe Failure: https://server.example.org',
      startsAt: '2023-02-06T13:08:45.828Z',
      groupKey: '{}/{severity="critical"}:{alertname="ProbeFailure"}',
      generatorURL: alertmanagerProbeFailure.alerts[0]?.generatorURL,
    });
    // Go's zero time means "not ended": no endsAt at all.
    expect(alert).not.toHaveProperty('endsAt');
  });

  it('derives a stable fingerprint from the labels when an old Alertmanager sends none', () => {
    const [first] = ok(parseAlertBody('alertmanager', alertmanagerWithoutFingerprint));
    const [again] = ok(parseAlertBody('alertmanager', structuredClone(alertmanagerWithoutFingerprint)));
    expect(first?.fingerprint).toMatch(/^[0-9a-f]{16}$/);
    expect(first?.fingerprint).toBe(again?.fingerprint);
    expect(first?.fingerprint).toBe(labelsFingerprint({ job: 'prometheus24', instance: 'localhost:9090', dc: 'eu-west-1', alertname: 'Test' }));
    // nanosecond times with an offset become UTC milliseconds
    expect(first?.startsAt).toBe('2018-08-03T07:52:26.739Z');
    // no summary annotation: the description stands in
    expect(first?.summary).toBe('some description');
  });

  it('keeps the end time of a resolved alert', () => {
    const [alert] = ok(parseAlertBody('alertmanager', alertmanagerResolved));
    expect(alert?.status).toBe('resolved');
    expect(alert?.endsAt).toBe('2022-07-29T11:17:27.300Z');
    expect(alert?.fingerprint).toBe('fbab788ec4c1018b');
  });

  it('accepts the null Go writes for an empty map', () => {
    const body = { ...alertmanagerProbeFailure, commonAnnotations: null, alerts: [{ ...alertmanagerProbeFailure.alerts[0], annotations: null }] };
    const [alert] = ok(parseAlertBody('alertmanager', body));
    expect(alert?.annotations).toEqual({});
    expect(alert?.summary).toBe('ProbeFailure');
  });

  it('names the field path and the problem', () => {
    const body = alertmanagerFor(['a', 'b', 'c', 'd']);
    (body.alerts as Array<Record<string, unknown>>)[3]!.labels = 'instance=d';
    expect(failure(parseAlertBody('alertmanager', body))).toBe('alerts[3].labels: expected object, received string');

    const badStatus = alertmanagerFor(['a']);
    (badStatus.alerts as Array<Record<string, unknown>>)[0]!.status = 'pending';
    expect(failure(parseAlertBody('alertmanager', badStatus))).toBe(
      'alerts[0].status: expected one of "firing", "resolved", received "pending"',
    );

    const badTime = alertmanagerFor(['a']);
    (badTime.alerts as Array<Record<string, unknown>>)[0]!.startsAt = 'yesterday';
    expect(failure(parseAlertBody('alertmanager', badTime))).toBe('alerts[0].startsAt: expected an RFC 3339 time');

    const badValue = alertmanagerFor(['a']);
    (badValue.alerts as Array<Record<string, { severity: unknown }>>)[0]!.labels!.severity = 5;
    expect(failure(parseAlertBody('alertmanager', badValue))).toBe('alerts[0].labels.severity: expected string, received number');

    expect(failure(parseAlertBody('alertmanager', { receiver: 'x' }))).toBe('alerts: expected array, received undefined');
    expect(failure(parseAlertBody('alertmanager', [1, 2]))).toBe('body: expected a JSON object, received array');
    expect(failure(parseAlertBody('alertmanager', 'alerts'))).toBe('body: expected a JSON object, received string');
    expect(failure(parseAlertBody('alertmanager', { ...alertmanagerProbeFailure, version: '5' }))).toMatch(/^version: /);
  });

  it('reports a few problems and counts the rest', () => {
    const body = alertmanagerFor(['a', 'b', 'c', 'd', 'e']);
    for (const alert of body.alerts as Array<Record<string, unknown>>) alert.status = 'maybe';
    const error = failure(parseAlertBody('alertmanager', body));
    expect(error).toContain('alerts[0].status');
    expect(error).toContain('alerts[2].status');
    expect(error).not.toContain('alerts[3].status');
    expect(error).toMatch(/\(and 2 more problems\)$/);
  });

  it('refuses more alerts than the bound, before reading them', () => {
    const hosts = Array.from({ length: 1001 }, (_, i) => `h${i}`);
    expect(failure(parseAlertBody('alertmanager', alertmanagerFor(hosts)))).toBe(
      'alerts: 1001 alerts in one body, more than the limit of 1000',
    );
    expect(ok(parseAlertBody('alertmanager', alertmanagerFor(hosts.slice(0, 1000))))).toHaveLength(1000);
    expect(failure(parseAlertBody('alertmanager', alertmanagerFor(['a', 'b', 'c']), { maxAlerts: 2 }))).toBe(
      'alerts: 3 alerts in one body, more than the limit of 2',
    );
  });

  it('refuses absurdly long strings and label sets', () => {
    const body = alertmanagerFor(['a']);
    (body.alerts as Array<{ annotations: Record<string, string> }>)[0]!.annotations.description = 'x'.repeat(16 * 1024 + 1);
    expect(failure(parseAlertBody('alertmanager', body))).toBe(
      'alerts[0].annotations.description: 16385 characters, more than the limit of 16384',
    );
    const many = alertmanagerFor(['a']);
    (many.alerts as Array<{ labels: Record<string, string> }>)[0]!.labels = Object.fromEntries(
      Array.from({ length: 201 }, (_, i) => [`l${i}`, 'v']),
    );
    expect(failure(parseAlertBody('alertmanager', many))).toBe('alerts[0].labels: more than 200 entries');
  });
});

describe('parseAlertBody: Grafana', () => {
  it('reads the documented webhook body', () => {
    const alerts = ok(parseAlertBody('grafana', grafanaDocsExample));
    expect(alerts.map((a) => [a.fingerprint, a.status, a.summary, a.startsAt])).toEqual([
      ['c6eadffa33fcdf37', 'firing', 'This alert was triggered for zone us-1', '2021-10-12T07:51:03.157Z'],
      ['bc97ff14869b13e3', 'firing', 'This alert was triggered for zone eu-1', '2021-10-12T07:56:03.157Z'],
    ]);
    expect(alerts.every((a) => a.source === 'grafana' && a.groupKey === '{}:{}' && a.endsAt === undefined)).toBe(true);
  });

  it('checks the Grafana-only fields too', () => {
    const body = structuredClone(grafanaDocsExample) as Record<string, unknown>;
    (body.alerts as Array<Record<string, unknown>>)[1]!.values = { B: 'high' };
    expect(failure(parseAlertBody('grafana', body))).toBe('alerts[1].values.B: expected number, received string');
    expect(failure(parseAlertBody('grafana', { ...grafanaDocsExample, orgId: 'one' }))).toBe(
      'orgId: expected number, received string',
    );
  });
});

describe('parseAlertBody: generic', () => {
  const receivedAt = new Date('2024-05-14T10:00:00Z');

  it('reads one alert and puts the host among the labels', () => {
    const [alert] = ok(
      parseAlertBody('generic', { host: 'docs-1', summary: 'editor shows 502', status: 'firing' }, { receivedAt }),
    );
    expect(alert).toMatchObject({
      source: 'generic',
      status: 'firing',
      labels: { host: 'docs-1' },
      annotations: { summary: 'editor shows 502' },
      summary: 'editor shows 502',
      startsAt: '2024-05-14T10:00:00.000Z',
    });
  });

  it('uses the sender fingerprint, else one stable across firing and resolved', () => {
    const firing = ok(parseAlertBody('generic', { host: 'docs-1', summary: 's', status: 'firing', labels: { check: 'http' } }, { receivedAt }));
    const resolved = ok(parseAlertBody('generic', { host: 'docs-1', summary: 's', status: 'resolved', labels: { check: 'http' } }, { receivedAt }));
    expect(firing[0]?.fingerprint).toBe(resolved[0]?.fingerprint);
    const given = ok(parseAlertBody('generic', { host: 'docs-1', summary: 's', status: 'firing', fingerprint: 'abc' }, { receivedAt }));
    expect(given[0]?.fingerprint).toBe('abc');
  });

  it('reads a bare array of alerts', () => {
    const alerts = ok(
      parseAlertBody(
        'generic',
        [
          { host: 'docs-1', summary: 'a', status: 'firing' },
          { host: 'docs-2', summary: 'b', status: 'resolved', endsAt: '2024-05-14T10:05:00Z' },
        ],
        { receivedAt },
      ),
    );
    expect(alerts.map((a) => [a.labels.host, a.status, a.endsAt])).toEqual([
      ['docs-1', 'firing', undefined],
      ['docs-2', 'resolved', '2024-05-14T10:05:00.000Z'],
    ]);
  });

  it('names what is wrong', () => {
    expect(failure(parseAlertBody('generic', { summary: 'x', status: 'firing' }))).toBe('host: expected string, received undefined');
    expect(failure(parseAlertBody('generic', { host: 'a', summary: '', status: 'firing' }))).toBe('summary: must not be empty');
    expect(failure(parseAlertBody('generic', { host: 'a', summary: 's', status: 'firing', sevrity: 1 }))).toBe(
      'body: unknown field(s) "sevrity"',
    );
    expect(failure(parseAlertBody('generic', [{ host: 'a', summary: 's', status: 'firing' }, { host: 'b', summary: 's', status: 'on' }]))).toBe(
      '[1].status: expected one of "firing", "resolved", received "on"',
    );
    expect(failure(parseAlertBody('generic', null))).toBe('body: expected a JSON object, received null');
    expect(failure(parseAlertBody('nagios' as 'generic', {}))).toMatch(/^unknown alert source "nagios"/);
  });
});
