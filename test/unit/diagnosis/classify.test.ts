import { describe, expect, it } from 'vitest';
import { classify } from '../../../src/diagnosis/classify.js';
import { CAUSE_TITLES } from '../../../src/diagnosis/titles.js';
import type { Classification, Evidence } from '../../../src/diagnosis/types.js';
import { CAUSE_IDS, type CauseId } from '../../../src/diagnosis/vocabulary.js';
import { fixture, fixtureLines } from './fixtures.js';

const CAPTURED_LOG = 'nginx_error_log/captured-debian12-all-kinds.log';

/** Every cited line must occur verbatim in the step it names: the contract's proof. */
function expectCitationsExact(evidence: Evidence, result: Classification): void {
  for (const cause of result.causes) {
    expect(cause.evidence.length, `${cause.id} cites something`).toBeGreaterThan(0);
    for (const line of cause.evidence) {
      const text = evidence[line.step];
      expect(typeof text, `${cause.id} cites step ${line.step}`).toBe('string');
      expect(text!.split('\n').some((inputLine) => inputLine.includes(line.line) && line.line.trim() === line.line && line.line.length > 0)).toBe(true);
    }
  }
}

function ids(result: Classification): string[] {
  return result.causes.map((cause) => (cause.subject ? `${cause.id}:${cause.subject}` : cause.id));
}

function classifyChecked(evidence: Evidence): Classification {
  const result = classify(evidence);
  expectCitationsExact(evidence, result);
  for (let i = 1; i < result.causes.length; i += 1) {
    expect(result.causes[i - 1]!.confidence).toBeGreaterThanOrEqual(result.causes[i]!.confidence);
  }
  for (const cause of result.causes) {
    expect(cause.title).toBe(CAUSE_TITLES[cause.id]);
    expect(cause.confidence).toBeGreaterThan(0);
    expect(cause.confidence).toBeLessThanOrEqual(1);
  }
  return result;
}

const RUNNING_SERVICES = fixture('service_status/documentserver-674-supervisorctl-running.txt');
const HEALTHY_PORTS = fixture('ports/ss-ltnp-nginx-80-debian12.txt');

/** One scenario per cause id, built from real outputs (plus the runbook's own probe/dependency lines). */
const SCENARIOS: Record<CauseId, Evidence> = {
  backend_down: {
    nginx_error_log: fixture('nginx_error_log/documentserver-1598-refused-8000.log'),
    service_status: 'ds:docservice                    STOPPED   Nov 21 04:54 AM',
  },
  backend_crashloop: { service_status: fixture('service_status/supervisorctl-backoff-debian12.txt').replace(/ds:converter/, 'ds:docservice').replace(/ds:docservice( +)RUNNING.*\n/, '') },
  wrong_upstream_port: {
    nginx_config: fixture('nginx_config/nginx-T-wrong-port-debian12.txt'),
    nginx_error_log: fixtureLines(CAPTURED_LOG, 'GET /upstream/'),
    ports: HEALTHY_PORTS,
    service_status: 'ds:docservice                    RUNNING   pid 8924, uptime 0:10:00',
  },
  port_conflict: {
    docservice_log: fixture('docservice_log/onlyoffice-ynh-103-eaddrinuse-8000.log'),
    ports: fixture('ports/ss-ltnp-8000-python3-debian12.txt'),
  },
  upstream_timeout: { nginx_error_log: fixture('nginx_error_log/onlyoffice-nextcloud-597-upstream-timeout.log') },
  header_too_big: { nginx_error_log: fixtureLines(CAPTURED_LOG, 'too big header') },
  selinux_denial: {
    nginx_error_log: fixture('nginx_error_log/webvirtmgr-639-permission-denied-8000.log'),
    selinux: fixture('selinux/tldr-14037-sestatus-enforcing.txt'),
  },
  firewall_block: { nginx_error_log: fixtureLines(CAPTURED_LOG, 'No route to host') },
  dns_resolution: { nginx_test: fixture('nginx_test/emerg-host-not-found-debian12.txt') },
  tls_upstream: { nginx_error_log: fixtureLines(CAPTURED_LOG, 'SSL_do_handshake') },
  dependency_postgres: { docservice_log: fixture('docservice_log/documentserver-2072-relation-does-not-exist.log') },
  dependency_rabbitmq: { docservice_log: fixture('docservice_log/documentserver-1045-amqp-econnrefused.log') },
  dependency_redis: { dependencies: 'dependency redis 127.0.0.1:6379 closed' },
  oom_killed: { resources: fixture('resources/kernel-oom-docservice-memcg-debian12.txt') },
  disk_full: { resources: fixture('resources/df-h-full-tmpfs-debian12.txt') },
  fd_exhaustion: { nginx_error_log: fixture('nginx_error_log/rxivist-210-too-many-open-files.log') },
  nginx_down: { service_status: 'process nginx not running' },
  nginx_config_invalid: { nginx_test: fixture('nginx_test/emerg-syntax-debian12.txt') },
  example_not_started: {
    service_status: fixture('service_status/supervisorctl-exited-debian12.txt'),
    http_probe: 'probe docservice http://127.0.0.1:8000/healthcheck 200 0.004\nprobe example http://127.0.0.1/example/ 502 0.002',
  },
  host_unreachable: { other: fixture('other/ssh-host-key-unknown-debian12.txt') },
  other: { http_probe: 'probe nginx http://127.0.0.1/welcome/ 502 0.003' },
};

describe('classify: every cause id is producible', () => {
  for (const id of CAUSE_IDS) {
    it(`produces ${id}`, () => {
      const result = classifyChecked(SCENARIOS[id]);
      expect(result.verdict).toBe('fault');
      expect(result.causes[0]!.id).toBe(id);
    });
  }
});

describe('classify: root cause over symptom', () => {
  it('crash loop with ECONNREFUSED :5672 in the docservice log → dependency_rabbitmq first, crash loop below', () => {
    const result = classifyChecked({
      service_status: 'ds:docservice                    BACKOFF   Exited too quickly (process log may have details)',
      docservice_log: fixture('docservice_log/documentserver-1045-amqp-econnrefused.log'),
    });
    expect(ids(result)).toEqual(['dependency_rabbitmq:rabbitmq', 'backend_crashloop:docservice']);
    expect(result.causes[0]!.evidence).toContainEqual({ step: 'docservice_log', line: '[2020-10-21T10:36:32.131] [ERROR] nodeJS - [AMQP] Error: connect ECONNREFUSED 127.0.0.1:5672' });
    expect(result.causes[1]!.confidence).toBeLessThan(result.causes[0]!.confidence);
  });

  it('Redis refusing plus the dependency check → dependency_redis, corroborated', () => {
    const result = classifyChecked({
      docservice_log: fixture('docservice_log/documentserver-672-redis-econnrefused.log'),
      dependencies: 'dependency redis 127.0.0.1:6379 closed',
    });
    expect(result.causes[0]).toMatchObject({ id: 'dependency_redis', subject: 'redis', confidence: 0.95 });
  });

  it('a dependency check that now answers makes old log errors weak', () => {
    const result = classifyChecked({
      docservice_log: fixture('docservice_log/documentserver-672-redis-econnrefused.log'),
      dependencies: 'dependency redis 127.0.0.1:6379 open',
    });
    expect(result.causes[0]!.confidence).toBeLessThanOrEqual(0.45);
  });

  it('EADDRINUSE → port_conflict, not backend_down, citing the process that holds the port', () => {
    const result = classifyChecked({
      ...SCENARIOS.port_conflict,
      service_status: 'ds:docservice                    STOPPED   Nov 21 04:54 AM',
      nginx_error_log: fixture('nginx_error_log/documentserver-1598-refused-8000.log'),
    });
    expect(result.causes[0]).toMatchObject({ id: 'port_conflict', subject: 'docservice' });
    expect(ids(result)).not.toContain('backend_down:docservice');
    expect(result.causes[0]!.evidence.map((line) => line.step)).toEqual(expect.arrayContaining(['docservice_log', 'ports']));
  });

  it('a stranger on the port while docservice is down → port_conflict even without the log', () => {
    const result = classifyChecked({
      service_status: 'ds:docservice                    STOPPED   Nov 21 04:54 AM',
      ports: fixture('ports/ss-ltnp-8000-python3-debian12.txt'),
    });
    expect(result.causes[0]).toMatchObject({ id: 'port_conflict', confidence: 0.8 });
  });

  it('connect timeout with a DROP rule on the port → firewall_block, not upstream_timeout', () => {
    const result = classifyChecked({
      nginx_error_log: fixtureLines(CAPTURED_LOG, 'GET /drop/'),
      nginx_config: 'upstream docservice {\n  server 127.0.0.1:8002;\n}',
      firewall: '-P INPUT ACCEPT\n-A INPUT -p tcp -m tcp --dport 8002 -j DROP',
    });
    expect(ids(result)).toEqual(['firewall_block']);
    expect(result.causes[0]!.confidence).toBe(0.95);
    expect(result.causes[0]!.evidence).toContainEqual({ step: 'firewall', line: '-A INPUT -p tcp -m tcp --dport 8002 -j DROP' });
  });

  it('a REJECT (tcp-reset) rule turns refusals into firewall_block, not backend_down', () => {
    const result = classifyChecked({
      nginx_error_log: fixtureLines(CAPTURED_LOG, 'GET /refused/'),
      firewall: fixture('firewall/iptables-S-drop-reject-debian12.txt'),
      service_status: 'ds:docservice                    RUNNING   pid 1, uptime 0:10:00',
    });
    expect(ids(result)).toEqual(['firewall_block']);
  });

  it('a DROP rule on the upstream port with nothing failing yet is still reported, less surely', () => {
    const result = classifyChecked({ firewall: fixture('firewall/nft-drop-reject-debian12.txt') });
    expect(result.causes[0]).toMatchObject({ id: 'firewall_block', confidence: 0.75 });
  });

  it('ufw denying the port does not block loopback: no firewall cause for a local upstream', () => {
    const result = classify({ firewall: fixture('firewall/ufw-status-verbose-deny-8000-debian12.txt') });
    expect(result.causes).toEqual([]);
  });

  it('(111) to 8001 while docservice listens on 8000 → wrong_upstream_port, not backend_down', () => {
    const result = classifyChecked(SCENARIOS.wrong_upstream_port);
    expect(ids(result)).toEqual(['wrong_upstream_port:nginx']);
    const lines = result.causes[0]!.evidence;
    expect(lines).toContainEqual({ step: 'nginx_config', line: 'server localhost:8001 max_fails=0 fail_timeout=0s;' });
    expect(lines.some((line) => line.step === 'ports' && line.line.includes('127.0.0.1:8000'))).toBe(true);
    expect(lines.some((line) => line.step === 'nginx_error_log' && line.line.includes('http://127.0.0.1:8001/a'))).toBe(true);
  });

  it('(13: Permission denied) with SELinux enforcing and the boolean off → selinux_denial, citing all three', () => {
    const evidence: Evidence = {
      nginx_error_log: fixture('nginx_error_log/webvirtmgr-639-permission-denied-8000.log'),
      selinux: `${fixture('selinux/tldr-14037-sestatus-enforcing.txt')}httpd_can_network_connect --> off\n${fixture('selinux/webvirtcloud-60-avc-soundd-port.txt')}`,
    };
    const result = classifyChecked(evidence);
    expect(ids(result)).toEqual(['selinux_denial:nginx']);
    expect(result.causes[0]!.confidence).toBe(0.95);
    expect(result.causes[0]!.evidence.map((line) => line.line)).toEqual(
      expect.arrayContaining(['Current mode:                   enforcing', 'httpd_can_network_connect --> off']),
    );
  });

  it('(13) while SELinux is disabled is not called SELinux with confidence', () => {
    const result = classifyChecked({ nginx_error_log: fixture('nginx_error_log/webvirtmgr-639-permission-denied-8000.log'), selinux: 'SELinux status:                 disabled' });
    expect(result.causes[0]!.confidence).toBeLessThan(0.5);
  });

  it('docservice healthy, /example/ 502 and ds:example STOPPED → example_not_started, not backend_down', () => {
    const result = classifyChecked({
      service_status: fixture('service_status/supervisorctl-exited-debian12.txt'),
      http_probe: 'probe docservice http://127.0.0.1:8000/healthcheck 200 0.004\nprobe example http://127.0.0.1/example/ 502 0.002',
      nginx_error_log:
        '2026/11/21 05:10:00 [error] 7708#7708: *21 connect() failed (111: Connection refused) while connecting to upstream, client: 127.0.0.1, server: , request: "GET /example/ HTTP/1.1", upstream: "http://127.0.0.1:3000/", host: "127.0.0.1"',
    });
    expect(result.causes[0]).toMatchObject({ id: 'example_not_started', subject: 'example', confidence: 0.93 });
    expect(ids(result)).not.toContain('backend_down:docservice');
    expect(result.causes[0]!.evidence).toContainEqual({ step: 'service_status', line: 'ds:example                       STOPPED   Not started' });
  });

  it('a stopped example alone is the default, not a fault', () => {
    const result = classify({ service_status: 'ds:example                       STOPPED   Not started\nds:docservice                    RUNNING   pid 1, uptime 0:01:00\nprocess nginx running' });
    expect(result).toEqual({ verdict: 'healthy', causes: [] });
  });

  it('an OOM kill naming docservice → oom_killed over backend_down', () => {
    const result = classifyChecked({
      resources: fixture('resources/kernel-oom-docservice-memcg-debian12.txt'),
      service_status: 'ds:docservice                    STOPPED   Nov 21 04:54 AM',
      nginx_error_log: fixture('nginx_error_log/documentserver-1598-refused-8000.log'),
    });
    expect(ids(result)).toEqual(['oom_killed:docservice', 'backend_down:docservice']);
    expect(result.causes[0]!.evidence[0]!.line).toContain('Killed process 7948 (docservice)');
  });

  it('docker inspect OOMKilled: true → oom_killed', () => {
    const inspect = fixture('service_status/docker-cli-2665-inspect-exited-137.txt').replace('"OOMKilled": false', '"OOMKilled": true');
    const result = classifyChecked({ service_status: inspect, install: 'docker' });
    expect(result.causes[0]).toMatchObject({ id: 'oom_killed', subject: 'docservice' });
    expect(result.causes[0]!.evidence[0]!.line).toBe('"OOMKilled": true,');
  });

  it('disk at 100% and ENOSPC in the log → disk_full above the crash it causes', () => {
    const result = classifyChecked({
      resources: fixture('resources/df-h-full-tmpfs-debian12.txt'),
      docservice_log: fixture('docservice_log/node-enospc-debian12.txt'),
      service_status: 'ds:docservice                    FATAL     Exited too quickly (process log may have details)',
    });
    expect(ids(result)).toEqual(['disk_full', 'backend_crashloop:docservice']);
    expect(result.causes[0]!.confidence).toBe(0.95);
  });

  it('EMFILE in the docservice log → fd_exhaustion for docservice', () => {
    const result = classifyChecked({ docservice_log: fixture('docservice_log/node-emfile-debian12.txt') });
    expect(result.causes[0]).toMatchObject({ id: 'fd_exhaustion', subject: 'docservice' });
  });

  it('nginx not running and nothing on 80 → nginx_down', () => {
    const result = classifyChecked({ service_status: 'process nginx not running', ports: fixture('ports/ss-ltnp-8000-python3-debian12.txt') });
    expect(result.causes[0]).toMatchObject({ id: 'nginx_down', subject: 'nginx', confidence: 0.95 });
  });

  it('nothing listening on 80/443 alone → nginx_down', () => {
    const result = classifyChecked({ ports: fixture('ports/ss-ltnp-8000-python3-debian12.txt') });
    expect(result.causes[0]!.id).toBe('nginx_down');
  });

  it('nginx -t [emerg] → nginx_config_invalid above the nginx it keeps down', () => {
    const result = classifyChecked({ nginx_test: fixture('nginx_test/emerg-syntax-debian12.txt'), service_status: fixture('service_status/reinernippes-nextcloud-83-systemctl-nginx-failed.txt') });
    expect(ids(result)).toEqual(['nginx_config_invalid:nginx', 'nginx_down:nginx']);
    expect(result.causes[0]!.evidence).toContainEqual({ step: 'nginx_test', line: '2026/11/21 04:55:16 [emerg] 7789#7789: unexpected "}" in /tmp/oofx/ng/conf.d/broken.conf:5' });
  });

  it('host not found in upstream → dns_resolution above the failed test', () => {
    const result = classifyChecked({ nginx_test: fixture('nginx_test/emerg-host-not-found-debian12.txt') });
    expect(ids(result)).toEqual(['dns_resolution:nginx', 'nginx_config_invalid:nginx']);
  });

  it('a name that could not be resolved at request time → dns_resolution', () => {
    const result = classifyChecked({ nginx_error_log: fixture('nginx_error_log/captured-debian12-could-not-be-resolved.log'), dns: 'resolve docservice.invalid unresolved' });
    expect(ids(result)).toEqual(['dns_resolution:nginx']);
    expect(result.causes[0]!.evidence.map((line) => line.step)).toEqual(['nginx_error_log', 'dns']);
  });

  it('upstream prematurely closed the connection → backend_crashloop, less surely than a manager saying so', () => {
    const result = classifyChecked({ nginx_error_log: fixtureLines(CAPTURED_LOG, 'prematurely closed') });
    expect(result.causes[0]).toMatchObject({ id: 'backend_crashloop', subject: 'docservice', confidence: 0.6 });
  });

  it('no live upstreams alone → backend_down, weakly', () => {
    const result = classifyChecked({ nginx_error_log: fixtureLines('nginx_error_log/docker-documentserver-40-no-live-upstreams.log', 'no live upstreams') });
    expect(result.causes[0]).toMatchObject({ id: 'backend_down', confidence: 0.6 });
  });

  it('a dropping default policy with no ACCEPT for a remote upstream port → firewall_block', () => {
    const evidence: Evidence = {
      nginx_config: 'upstream docservice {\n  server 10.231.0.2:8000;\n}',
      firewall: fixture('firewall/nft-policy-drop-debian12.txt'),
    };
    const result = classifyChecked(evidence);
    expect(result.causes[0]).toMatchObject({ id: 'firewall_block', confidence: 0.75 });
    expect(result.causes[0]!.evidence).toContainEqual({ step: 'firewall', line: 'type filter hook input priority filter; policy drop;' });
    // The same policy lets loopback through (`iif "lo" accept`), so a local upstream is not blocked.
    expect(classify({ ...evidence, nginx_config: 'upstream docservice {\n  server 127.0.0.1:8000;\n}' }).causes).toEqual([]);
  });

  it('refused to 8000 with nothing listening there → backend_down, surer than refusals alone', () => {
    const refusedOnly = classifyChecked({ nginx_error_log: fixture('nginx_error_log/documentserver-1598-refused-8000.log') });
    const withPorts = classifyChecked({ nginx_error_log: fixture('nginx_error_log/documentserver-1598-refused-8000.log'), ports: fixture('ports/ss-ltnp-nginx-80-debian12.txt').replace(/^.*127\.0\.0\.1:8000.*$/m, '') });
    expect(refusedOnly.causes[0]).toMatchObject({ id: 'backend_down', confidence: 0.75 });
    expect(withPorts.causes[0]).toMatchObject({ id: 'backend_down', confidence: 0.9 });
  });

  it('docker Restarting and systemd auto-restart → backend_crashloop', () => {
    const docker = classifyChecked({ service_status: 'f1e2d3c4b5a6   onlyoffice/documentserver   "/app/ds/run-documen…"   2 minutes ago   Restarting (1) 5 seconds ago             onlyoffice' });
    expect(docker.causes[0]).toMatchObject({ id: 'backend_crashloop', subject: 'docservice' });
    const systemd = classifyChecked({
      service_status: fixture('service_status/hoodrunio-instructions-2-systemctl-auto-restart.txt').replace('availd.service - Avail Validator', 'ds-docservice.service - ONLYOFFICE DocService'),
    });
    expect(systemd.causes[0]).toMatchObject({ id: 'backend_crashloop', subject: 'docservice' });
  });

  it('MySQL access denied → the database dependency, with mysql as subject', () => {
    const result = classifyChecked({ docservice_log: fixture('docservice_log/snap-documentserver-14-er-access-denied.log') });
    expect(result.causes[0]).toMatchObject({ id: 'dependency_postgres', subject: 'mysql' });
  });

  it('AMQP ACCESS_REFUSED in pasted systemctl status → dependency_rabbitmq', () => {
    const result = classifyChecked({ other: fixture('docservice_log/proxmoxve-5516-amqp-access-refused.log') });
    expect(result.causes[0]).toMatchObject({ id: 'dependency_rabbitmq', subject: 'rabbitmq' });
  });
});

describe('classify: free text under other', () => {
  it('reads pasted nginx, docservice and kernel lines with the same rules, citing step other', () => {
    const pasted = [fixtureLines(CAPTURED_LOG, 'too big header'), fixture('docservice_log/documentserver-672-redis-econnrefused.log')].join('\n');
    const result = classifyChecked({ other: pasted });
    expect(ids(result)).toEqual(expect.arrayContaining(['header_too_big', 'dependency_redis:redis']));
    expect(result.causes.every((cause) => cause.evidence.every((line) => line.step === 'other'))).toBe(true);
  });

  it('SSH failures count only when pasted under other', () => {
    expect(classifyChecked({ other: fixture('other/ssh-connection-refused-debian12.txt') }).causes[0]!.id).toBe('host_unreachable');
    expect(classify({ docservice_log: fixture('other/ssh-connection-refused-debian12.txt') }).causes).toEqual([]);
  });

  it('a 502 with no explanation → other', () => {
    const result = classifyChecked(SCENARIOS.other);
    expect(result.causes).toEqual([{ id: 'other', title: CAUSE_TITLES.other, confidence: 0.4, evidence: [{ step: 'http_probe', line: 'probe nginx http://127.0.0.1/welcome/ 502 0.003' }] }]);
  });
});

describe('classify: evidence shaped as runbooks/onlyoffice-502.yaml prints it', () => {
  const sections = (parts: Record<string, string>): string =>
    Object.entries(parts)
      .map(([command, output]) => `==> ${command} <==\n${output}`)
      .join('\n');
  const probes = (docservice: string, nginx: string, root: string, example: string): string =>
    [
      `probe docservice http://127.0.0.1:8000/healthcheck ${docservice}`,
      `probe nginx http://127.0.0.1/healthcheck ${nginx}`,
      `probe nginx_root http://127.0.0.1/ ${root}`,
      `probe example http://127.0.0.1/example/ ${example}`,
    ].join('\n');

  it('a supervisor host with docservice stopped → backend_down first, the example left alone when it answers', () => {
    const evidence: Evidence = {
      service_status: sections({
        'supervisorctl status': fixture('service_status/supervisorctl-docservice-stopped-debian12.txt'),
        processes: 'process nginx running pids 8927 8932\nprocess postgres not running\nprocess rabbitmq not running\nprocess redis not running',
      }),
      nginx_error_log: sections({ '/var/log/onlyoffice/documentserver/nginx.error.log': fixture('nginx_error_log/documentserver-1598-refused-8000.log') }),
      ports: sections({ 'ss -ltnp': fixture('ports/ss-ltnp-nginx-80-debian12.txt').replace(/^.*127\.0\.0\.1:8000.*$/m, '') }),
      http_probe: probes('000 0.001 curl: (7) Failed to connect to 127.0.0.1 port 8000 after 0 ms: Connection refused', '502 0.002', '502 0.002', '200 0.004'),
      firewall: 'iptables: not installed\nnft: not installed\nfirewall-cmd: not installed\nufw: not installed',
      selinux: 'sestatus: not installed\ngetsebool: not installed',
    };
    const result = classifyChecked(evidence);
    expect(ids(result)[0]).toBe('backend_down:docservice');
    expect(result.causes[0]!.confidence).toBe(0.93);
    // Local dependency processes that are absent prove nothing: the database may live elsewhere.
    expect(ids(result).filter((id) => id.startsWith('dependency_'))).toEqual([]);
    expect(result.causes[0]!.evidence.map((line) => line.step)).toEqual(expect.arrayContaining(['service_status', 'nginx_error_log', 'http_probe', 'ports']));
  });

  it('a Docker host: docker inspect --format state with Name and Image first', () => {
    const inspect = [
      '{',
      '          "Name": "/onlyoffice",',
      '          "Image": "onlyoffice/documentserver:8.2",',
      '          "Status": "restarting",',
      '          "Running": true,',
      '          "Restarting": true,',
      '          "OOMKilled": false,',
      '          "Dead": false,',
      '          "ExitCode": 1,',
      '          "Error": "",',
      '          "StartedAt": "2024-01-01T00:00:00Z",',
      '          "FinishedAt": "2024-01-01T00:00:05Z",',
      '          "RestartCount": 7',
      '        }',
    ].join('\n');
    const result = classifyChecked({ service_status: sections({ 'docker inspect (State)': inspect }), install: 'docker' });
    expect(result.causes[0]).toMatchObject({ id: 'backend_crashloop', subject: 'docservice' });
    expect(result.causes[0]!.evidence[0]).toEqual({ step: 'service_status', line: '"Restarting": true,' });
  });

  it("the runbook's open_files line near its soft limit → fd_exhaustion for that service", () => {
    const result = classifyChecked({ resources: sections({ 'open files of docservice and converter': 'open_files docservice pid 910 open 1019 soft 1024 hard 4096\nopen_files converter pid 911 open 40 soft 1024 hard 4096' }) });
    expect(result.causes).toEqual([
      expect.objectContaining({ id: 'fd_exhaustion', subject: 'docservice', confidence: 0.75, evidence: [{ step: 'resources', line: 'open_files docservice pid 910 open 1019 soft 1024 hard 4096' }] }),
    ]);
  });

  it('probes that could not run are not failures; nginx /healthcheck is an nginx probe', () => {
    expect(classify({ http_probe: 'probe docservice http://127.0.0.1:8000/healthcheck 000 0 curl: not installed; wget: not installed' })).toEqual({ verdict: 'unknown', causes: [] });
    const refused = classifyChecked({ http_probe: probes('200 0.002', '000 0.001 curl: (7) Failed to connect to 127.0.0.1 port 80 after 0 ms: Connection refused', '000 0.001 curl: (7) Failed to connect to 127.0.0.1 port 80 after 0 ms: Connection refused', '000 0.001 curl: (7) Failed to connect') });
    expect(ids(refused)).toEqual(['nginx_down:nginx']);
  });
});

describe('classify: verdicts', () => {
  it('healthy when probes answer and services run', () => {
    const result = classify({
      http_probe: 'probe docservice http://127.0.0.1:8000/healthcheck 200 0.003\nprobe nginx http://127.0.0.1/welcome/ 200 0.004',
      service_status: RUNNING_SERVICES,
      ports: HEALTHY_PORTS,
      nginx_error_log: '',
    });
    expect(result).toEqual({ verdict: 'healthy', causes: [] });
  });

  it('healthy when docservice runs and nginx listens, without probes', () => {
    expect(classify({ service_status: RUNNING_SERVICES, ports: HEALTHY_PORTS }).verdict).toBe('healthy');
  });

  it('unknown when evidence is empty, blank, or too thin', () => {
    expect(classify({})).toEqual({ verdict: 'unknown', causes: [] });
    expect(classify({ nginx_error_log: '   \n', install: 'deb' })).toEqual({ verdict: 'unknown', causes: [] });
    expect(classify({ selinux: 'sestatus: not installed', firewall: 'ufw: not installed' }).verdict).toBe('unknown');
    expect(classify({ resources: fixture('resources/free-m-debian12.txt') }).verdict).toBe('unknown');
  });

  it('unknown rather than a throw for values that are not text', () => {
    expect(classify({ nginx_error_log: 42 as unknown as string, other: null as unknown as string })).toEqual({ verdict: 'unknown', causes: [] });
    expect(classify(null as unknown as Evidence)).toEqual({ verdict: 'unknown', causes: [] });
  });
});
