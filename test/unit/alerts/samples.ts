// Real webhook bodies, copied from where they were published.

/**
 * Alertmanager v4 payload, from the `alertmanager-webhook-types` crate's
 * assets/sample-v4-payload.json (docs.rs/crate/alertmanager-webhook-types), a captured blackbox probe.
 */
export const alertmanagerProbeFailure = {
  receiver: 'sms',
  status: 'firing',
  alerts: [
    {
      status: 'firing',
      labels: {
        alertname: 'ProbeFailure',
        instance: 'https://server.example.org',
        job: 'http_checks',
        monitor: 'master',
        severity: 'critical',
      },
      annotations: {
        description: 'Instance https://server.example.org has been down for over 5m. Job: http_checks',
        summary: 'BlackBox Probe Failure: https://server.example.org',
      },
      startsAt: '2023-02-06T13:08:45.828Z',
      endsAt: '0001-01-01T00:00:00Z',
      generatorURL: 'http://prometheus.example.org:9090/graph?g0.expr=probe_success+%3D%3D+0\\u0026g0.tab=1',
      fingerprint: '1a30ba71cca2921f',
    },
  ],
  groupLabels: { alertname: 'ProbeFailure' },
  commonLabels: {
    alertname: 'ProbeFailure',
    instance: 'https://server.example.org',
    job: 'http_checks',
    monitor: 'master',
    severity: 'critical',
  },
  commonAnnotations: {
    description: 'Instance https://server.example.org has been down for over 5m. Job: http_checks',
    summary: 'BlackBox Probe Failure: https://server.example.org',
  },
  externalURL: 'http://prometheus.example.org:9093',
  version: '4',
  groupKey: '{}/{severity="critical"}:{alertname="ProbeFailure"}',
  truncatedAlerts: 0,
};

/**
 * Alertmanager payload from an older release (no `fingerprint`, nanosecond times), from the public gist
 * "Alertmanager Webhook Payload Example" (gist.github.com/mobeigi/5a96f326bc06c7d6f283ecb7cb083f2b).
 */
export const alertmanagerWithoutFingerprint = {
  receiver: 'webhook',
  status: 'firing',
  alerts: [
    {
      status: 'firing',
      labels: { alertname: 'Test', dc: 'eu-west-1', instance: 'localhost:9090', job: 'prometheus24' },
      annotations: { description: 'some description' },
      startsAt: '2018-08-03T09:52:26.739266876+02:00',
      endsAt: '0001-01-01T00:00:00Z',
      generatorURL: 'http://example.com:9090/graph?g0.expr=go_memstats_alloc_bytes+%3E+0\u0026g0.tab=1',
    },
  ],
  groupLabels: { alertname: 'Test', job: 'prometheus24' },
  commonLabels: { alertname: 'Test', dc: 'eu-west-1', instance: 'localhost:9090', job: 'prometheus24' },
  commonAnnotations: { description: 'some description' },
  externalURL: 'http://example.com:9093',
  version: '4',
  groupKey: '{}:{alertname="Test", job="prometheus24"}',
};

/**
 * A resolved notification, from the test suite of liamkelly15-maker/pythonwebhook
 * (docker/alert-manager-webhook/testsuites/testcurl7.sh); labels cut to the ones shown there.
 */
export const alertmanagerResolved = {
  receiver: 'web\\.hook',
  status: 'resolved',
  alerts: [
    {
      status: 'resolved',
      labels: {
        alertname: 'Deployment',
        deployment: 'eric-log-transformer',
        instance: '192.168.69.53:8080',
        job: 'eric-pm-kube-state-metrics',
        namespace: 'eric-eo-cm-ci406',
        severity: 'Warning',
      },
      annotations: {
        description: 'Deployment Replicas mismatch, desired value does not match..',
        summary: 'Kubernetes Deployment Replicas Mismatch',
      },
      startsAt: '2022-07-29T11:13:27.3Z',
      endsAt: '2022-07-29T11:17:27.3Z',
      generatorURL:
        '/metrics/viewer/graph?g0.expr=kube_deployment_spec_replicas%7Bnamespace%3D%22eric-eo-cm-ci406%22%7D&g0.tab=1',
      fingerprint: 'fbab788ec4c1018b',
    },
  ],
  groupLabels: { alertname: 'Deployment' },
  commonLabels: { alertname: 'Deployment', severity: 'Warning' },
  commonAnnotations: { summary: 'Kubernetes Deployment Replicas Mismatch' },
  externalURL: 'http://alertmanager:9093',
  version: '4',
  groupKey: '{}:{alertname="Deployment"}',
  truncatedAlerts: 0,
};

/**
 * Grafana unified alerting webhook body, verbatim from Grafana's documentation
 * (grafana/grafana docs/sources/alerting/configure-notifications/manage-contact-points/integrations/
 * webhook-notifier.md, "Webhook JSON payload").
 */
export const grafanaDocsExample = {
  receiver: 'My Super Webhook',
  status: 'firing',
  orgId: 1,
  alerts: [
    {
      status: 'firing',
      labels: { alertname: 'High memory usage', team: 'blue', zone: 'us-1' },
      annotations: {
        description: 'The system has high memory usage',
        runbook_url: 'https://myrunbook.com/runbook/1234',
        summary: 'This alert was triggered for zone us-1',
      },
      startsAt: '2021-10-12T09:51:03.157076+02:00',
      endsAt: '0001-01-01T00:00:00Z',
      generatorURL: 'https://play.grafana.org/alerting/1afz29v7z/edit',
      fingerprint: 'c6eadffa33fcdf37',
      silenceURL:
        'https://play.grafana.org/alerting/silence/new?alertmanager=grafana&matchers=alertname%3DT2%2Cteam%3Dblue%2Czone%3Dus-1',
      dashboardURL: '',
      panelURL: '',
      values: { B: 44.23943737541908, C: 1 },
    },
    {
      status: 'firing',
      labels: { alertname: 'High CPU usage', team: 'blue', zone: 'eu-1' },
      annotations: {
        description: 'The system has high CPU usage',
        runbook_url: 'https://myrunbook.com/runbook/1234',
        summary: 'This alert was triggered for zone eu-1',
      },
      startsAt: '2021-10-12T09:56:03.157076+02:00',
      endsAt: '0001-01-01T00:00:00Z',
      generatorURL: 'https://play.grafana.org/alerting/d1rdpdv7k/edit',
      fingerprint: 'bc97ff14869b13e3',
      silenceURL:
        'https://play.grafana.org/alerting/silence/new?alertmanager=grafana&matchers=alertname%3DT1%2Cteam%3Dblue%2Czone%3Deu-1',
      dashboardURL: '',
      panelURL: '',
      values: { B: 44.23943737541908, C: 1 },
    },
  ],
  groupLabels: {},
  commonLabels: { team: 'blue' },
  commonAnnotations: {},
  externalURL: 'https://play.grafana.org/',
  version: '1',
  groupKey: '{}:{}',
  truncatedAlerts: 0,
  title: '[FIRING:2]  (blue)',
  state: 'alerting',
  message:
    '**Firing**\n\nLabels:\n - alertname = T2\n - team = blue\n - zone = us-1\nAnnotations:\n - description = This is the alert rule checking the second system\n - runbook_url = https://myrunbook.com\n - summary = This is my summary\nSource: https://play.grafana.org/alerting/1afz29v7z/edit\nSilence: https://play.grafana.org/alerting/silence/new?alertmanager=grafana&matchers=alertname%3DT2%2Cteam%3Dblue%2Czone%3Dus-1\n\nLabels:\n - alertname = T1\n - team = blue\n - zone = eu-1\nAnnotations:\nSource: https://play.grafana.org/alerting/d1rdpdv7k/edit\nSilence: https://play.grafana.org/alerting/silence/new?alertmanager=grafana&matchers=alertname%3DT1%2Cteam%3Dblue%2Czone%3Deu-1\n',
};

/** An Alertmanager body for our own hosts, shaped like the ones above (node_exporter on :9100). */
export function alertmanagerFor(
  hosts: string[],
  status: 'firing' | 'resolved' = 'firing',
  alertname = 'OnlyofficeDocs502',
): Record<string, unknown> {
  return {
    receiver: 'oo-responder',
    status,
    alerts: hosts.map((host, i) => ({
      status,
      labels: { alertname, instance: `${host}:9100`, job: 'node', severity: 'critical' },
      annotations: { summary: `nginx answers 502 on ${host}` },
      startsAt: '2024-05-14T10:21:33.000Z',
      endsAt: status === 'resolved' ? '2024-05-14T10:31:33.000Z' : '0001-01-01T00:00:00Z',
      generatorURL: 'http://prometheus:9090/graph?g0.expr=probe_http_status_code+%3D%3D+502',
      fingerprint: `f${String(i).padStart(15, '0')}${host.length}`,
    })),
    groupLabels: { alertname },
    commonLabels: { alertname, severity: 'critical' },
    commonAnnotations: {},
    externalURL: 'http://alertmanager:9093',
    version: '4',
    groupKey: `{}:{alertname="${alertname}"}`,
    truncatedAlerts: 0,
  };
}
