import { describe, expect, it } from 'vitest';
import {
  parseDependencies,
  parseDetect,
  parseDns,
  parseFirewall,
  parseHttpProbes,
  parseListeners,
  parseNginxConfig,
  parseNginxErrorLog,
  parseNginxTest,
  parseNotInstalled,
  parseResources,
  parseSelinux,
  parseServiceLog,
  parseServiceStatus,
  parseSshFailures,
  splitSections,
  tcpPortVerdicts,
} from '../../../src/diagnosis/parsers/index.js';
import { fixture } from './fixtures.js';

describe('parseServiceStatus', () => {
  it('reads every supervisor state captured from supervisorctl', () => {
    const backoff = parseServiceStatus(fixture('service_status/supervisorctl-backoff-debian12.txt'));
    expect(backoff.map((s) => [s.service, s.state, s.source])).toEqual([
      ['converter', 'crashloop', 'supervisor'],
      ['docservice', 'running', 'supervisor'],
      ['example', 'stopped', 'supervisor'],
      ['metrics', 'crashloop', 'supervisor'],
    ]);
    expect(backoff[0]!.detail).toBe('Exited too quickly (process log may have details)');
    expect(backoff[0]!.name).toBe('ds:converter');
    expect(parseServiceStatus(fixture('service_status/supervisorctl-fatal-debian12.txt'))[0]!.state).toBe('failed');
    expect(parseServiceStatus(fixture('service_status/supervisorctl-starting-debian12.txt'))[0]!.state).toBe('starting');
    const exited = parseServiceStatus(fixture('service_status/supervisorctl-exited-debian12.txt'));
    expect(exited.find((s) => s.name === 'adminpanel')!.state).toBe('stopped');
    const stopped = parseServiceStatus(fixture('service_status/supervisorctl-docservice-stopped-debian12.txt'));
    expect(stopped.find((s) => s.service === 'docservice')).toMatchObject({ state: 'stopped', raw: 'ds:docservice                    STOPPED   Nov 21 04:54 AM' });
  });

  it('reads ONLYOFFICE reports, including older program names and restart output', () => {
    const fatal = parseServiceStatus(fixture('service_status/documentserver-622-supervisorctl-fatal.txt'));
    expect(fatal.map((s) => s.service)).toEqual(['converter', 'docservice', 'gc', 'metrics', 'spellchecker']);
    expect(fatal.every((s) => s.state === 'failed')).toBe(true);
    expect(parseServiceStatus('onlyoffice-documentserver:docservice   RUNNING   pid 12, uptime 0:01:00')[0]).toMatchObject({ service: 'docservice', state: 'running' });
    const restart = parseServiceStatus(fixture('service_status/documentserver-1714-supervisorctl-restart-spawn-error.txt'));
    const docservice = restart.filter((s) => s.service === 'docservice');
    expect(docservice.map((s) => s.state)).toEqual(['stopped', 'failed']);
  });

  it('reads systemctl status: failed, auto-restart and inactive units', () => {
    const nginx = parseServiceStatus(fixture('service_status/reinernippes-nextcloud-83-systemctl-nginx-failed.txt'));
    expect(nginx).toEqual([
      expect.objectContaining({ service: 'nginx', state: 'failed', source: 'systemd', raw: 'Active: failed (Result: exit-code) since Sun 2020-07-12 14:58:50 CDT; 8min ago' }),
    ]);
    expect(parseServiceStatus(fixture('service_status/hoodrunio-instructions-2-systemctl-auto-restart.txt'))[0]!.state).toBe('crashloop');
    expect(parseServiceStatus(fixture('service_status/opennebula-one-3679-systemctl-inactive.txt'))[0]!.state).toBe('stopped');
  });

  it('reads docker ps -a rows and docker inspect state', () => {
    const ps = parseServiceStatus(fixture('service_status/docker-documentserver-503-docker-ps.txt'));
    expect(ps.map((s) => [s.service, s.name, s.state])).toEqual([
      ['docservice', 'onlyoffice', 'running'],
      ['docservice', 'nextcloud-onlyoffice-1', 'running'],
    ]);
    const exited = parseServiceStatus(fixture('service_status/moby-12328-docker-ps-exited.txt'));
    expect(exited.map((s) => [s.state, s.exitCode])).toEqual([
      ['stopped', 1],
      ['stopped', 0],
    ]);
    const inspect = parseServiceStatus(fixture('service_status/docker-cli-2665-inspect-exited-137.txt'));
    expect(inspect).toEqual([expect.objectContaining({ state: 'stopped', exitCode: 137, oomKilled: false, raw: '"Status": "exited",' })]);
    expect(parseServiceStatus(fixture('service_status/docker-for-linux-761-inspect-running.txt'))[0]!.state).toBe('running');
  });

  it("reads the runbook's process line", () => {
    expect(parseServiceStatus('process nginx not running')).toEqual([
      { service: 'nginx', name: 'nginx', state: 'stopped', source: 'process', raw: 'process nginx not running' },
    ]);
    expect(parseServiceStatus('process nginx running pids 12 13')[0]!.state).toBe('running');
  });
});

describe('parseNginxErrorLog', () => {
  it('names every kind captured from a real nginx, with the upstream parsed', () => {
    const events = parseNginxErrorLog(fixture('nginx_error_log/captured-debian12-all-kinds.log'));
    expect(events.map((e) => e.kind)).toEqual([
      'connect_refused',
      'connect_refused',
      'connect_refused',
      'read_timeout',
      'too_big_header',
      'premature_close',
      'connect_timeout',
      'connect_no_route',
      'ssl_upstream',
    ]);
    expect(events[0]).toMatchObject({
      level: 'error',
      client: '127.0.0.1',
      server: '',
      request: 'GET /refused/x HTTP/1.1',
      upstream: 'http://127.0.0.1:8001/x',
      upstreamUrl: { host: '127.0.0.1', port: 8001, explicitPort: true },
      host: '127.0.0.1',
    });
    expect(events[8]!.upstreamUrl).toMatchObject({ scheme: 'https', port: 8013 });
  });

  it('reads ONLYOFFICE reports: IPv6 upstreams, upstream groups, docker prefixes, 13/24/113 errors', () => {
    const ynh = parseNginxErrorLog(fixture('nginx_error_log/onlyoffice-ynh-21-refused-ipv6-and-no-live.log'));
    expect(ynh[1]!.upstreamUrl).toMatchObject({ host: '::1', port: 8000 });
    expect(ynh[2]).toMatchObject({ kind: 'no_live_upstreams', upstreamUrl: { host: 'docservice', explicitPort: false } });
    expect(parseNginxErrorLog(fixture('nginx_error_log/webvirtmgr-639-permission-denied-8000.log'))[0]).toMatchObject({ kind: 'connect_permission_denied', level: 'crit' });
    const fds = parseNginxErrorLog(fixture('nginx_error_log/rxivist-210-too-many-open-files.log'));
    expect(fds.map((e) => e.kind)).toEqual(['too_many_open_files', 'too_many_open_files']);
    expect(fds[0]!.raw.startsWith('nginx.1    | 2018/10/19')).toBe(true);
    expect(parseNginxErrorLog(fixture('nginx_error_log/nginx-proxy-1348-no-route-to-host.log'))[0]!.kind).toBe('connect_no_route');
    expect(parseNginxErrorLog(fixture('nginx_error_log/onlyoffice-nextcloud-597-upstream-timeout.log'))).toEqual([
      expect.objectContaining({ kind: 'read_timeout', request: 'POST /ConvertService.ashx HTTP/1.1' }),
    ]);
    expect(parseNginxErrorLog(fixture('nginx_error_log/listmonk-setup-2-host-not-found.log'))[0]).toMatchObject({ kind: 'host_not_found', upstream: 'app' });
    expect(parseNginxErrorLog(fixture('nginx_error_log/matrix-docker-ansible-deploy-3055-ssl-upstream.log'))[0]!.kind).toBe('ssl_upstream');
  });

  it('reads a name nginx could not resolve at request time', () => {
    const events = parseNginxErrorLog(fixture('nginx_error_log/captured-debian12-could-not-be-resolved.log'));
    expect(events).toEqual([expect.objectContaining({ kind: 'unresolved', upstream: 'docservice.invalid', request: 'GET /welcome/ HTTP/1.1' })]);
  });

  it('ignores lines that say nothing about a 5xx', () => {
    expect(parseNginxErrorLog('2024/01/01 00:00:00 [notice] 1#1: signal process started\nhello')).toEqual([]);
  });
});

describe('parseNginxConfig and parseNginxTest', () => {
  it('reads upstreams, proxy_pass targets, listens and proxy settings from nginx -T', () => {
    const config = parseNginxConfig(fixture('nginx_config/nginx-T-wrong-port-debian12.txt'));
    expect(config.upstreams.map((u) => [u.name, u.servers.map((s) => [s.host, s.port])])).toEqual([
      ['docservice', [['localhost', 8001]]],
      ['example', [['localhost', 3000]]],
    ]);
    expect(config.upstreams[0]!.servers[0]).toMatchObject({ params: ['max_fails=0', 'fail_timeout=0s'], raw: 'server localhost:8001 max_fails=0 fail_timeout=0s;' });
    expect(config.proxyPasses.map((p) => [p.target, p.location])).toEqual([
      ['http://docservice', '/'],
      ['http://docservice$2$is_args$args', '~ ^(\\/[\\d]+\\.[\\d]+\\.[\\d]+[\\.|-][\\w]+)?(\\/doc\\/.*)'],
      ['http://example/', '/example/'],
    ]);
    expect(config.listens.map((l) => [l.host, l.port, l.params])).toEqual([
      ['0.0.0.0', 80, []],
      ['::', 80, ['default_server']],
    ]);
    expect(config.settings.map((s) => `${s.name} ${s.value}`)).toEqual([
      'proxy_connect_timeout 5s',
      'proxy_read_timeout 60s',
      'proxy_buffer_size 4k',
      'proxy_buffers 8 4k',
    ]);
  });

  it('reads nginx -t verdicts and [emerg] file:line', () => {
    expect(parseNginxTest(fixture('nginx_test/ok-debian12.txt'))).toMatchObject({ ok: true, errors: [] });
    expect(parseNginxTest(fixture('nginx_test/emerg-syntax-debian12.txt'))).toMatchObject({
      ok: false,
      errors: [{ message: 'unexpected "}"', file: '/tmp/oofx/ng/conf.d/broken.conf', line: 5 }],
      verdictLine: 'nginx: configuration file /tmp/oofx/ng/nginx-broken.conf test failed',
    });
    const hostNotFound = parseNginxTest(fixture('nginx_test/emerg-host-not-found-debian12.txt'));
    expect(hostNotFound.errors[0]).toMatchObject({ message: 'host not found in upstream "docservice.invalid:8000"', line: 1 });
    const journal = parseNginxTest(fixture('service_status/reinernippes-nextcloud-83-systemctl-nginx-failed.txt'));
    expect(journal.errors[0]).toMatchObject({ message: '"gzip" directive is duplicate', file: '/etc/nginx/conf.d/optimization.conf', line: 7 });
  });
});

describe('parseListeners', () => {
  it('reads ss -ltnp and netstat -tulnp with process and pid', () => {
    const ss = parseListeners(fixture('ports/ss-ltnp-nginx-80-debian12.txt'));
    expect(ss.seen).toBe(true);
    expect(ss.listeners.find((l) => l.port === 80)).toMatchObject({ host: '0.0.0.0', process: 'nginx', pid: 8932 });
    expect(ss.listeners.find((l) => l.port === 8000)).toMatchObject({ host: '127.0.0.1', process: 'python3', pid: 8924 });
    const netstat = parseListeners(fixture('ports/netstat-tulnp-nginx-80-debian12.txt'));
    expect(netstat.listeners.find((l) => l.port === 80)).toMatchObject({ process: 'nginx', pid: 8927 });
    expect(parseListeners(fixture('ports/onlyoffice-ynh-103-netstat-docservice.txt')).listeners[0]).toMatchObject({ host: '::', port: 8000, process: 'docservice' });
  });

  it('says a table was seen even when nothing listens', () => {
    const empty = parseListeners('State  Recv-Q Send-Q Local Address:Port Peer Address:PortProcess');
    expect(empty).toMatchObject({ listeners: [], seen: true });
    expect(parseListeners('no table here')).toMatchObject({ listeners: [], seen: false });
  });
});

describe('parseFirewall', () => {
  it('reads iptables -S rules and policies and decides a port', () => {
    const drop = parseFirewall(fixture('firewall/iptables-S-drop-reject-debian12.txt'));
    expect(drop.rules.map((r) => [r.action, r.ports])).toEqual([
      ['drop', [{ from: 8000, to: 8000 }]],
      ['reject', [{ from: 8001, to: 8001 }]],
    ]);
    expect(tcpPortVerdicts(drop, 8000, true)).toEqual([{ action: 'drop', raw: '-A INPUT -p tcp -m tcp --dport 8000 -j DROP', byPolicy: false }]);
    expect(tcpPortVerdicts(drop, 3000, true)).toEqual([{ action: 'accept', raw: '-P INPUT ACCEPT', byPolicy: true }]);
    const policy = parseFirewall(fixture('firewall/iptables-S-policy-drop-debian12.txt'));
    expect(tcpPortVerdicts(policy, 8000, true)[0]).toMatchObject({ action: 'accept', raw: '-A INPUT -i lo -j ACCEPT' });
    expect(tcpPortVerdicts(policy, 8000, false)[0]).toMatchObject({ action: 'drop', raw: '-P INPUT DROP', byPolicy: true });
  });

  it('reads nft rulesets, native and from iptables-nft', () => {
    const drop = parseFirewall(fixture('firewall/nft-drop-reject-debian12.txt'));
    expect(tcpPortVerdicts(drop, 8000, true)[0]).toMatchObject({ action: 'drop', raw: 'tcp dport 8000 drop' });
    expect(tcpPortVerdicts(drop, 5672, true)[0]).toMatchObject({ action: 'reject' });
    const policy = parseFirewall(fixture('firewall/nft-policy-drop-debian12.txt'));
    expect(tcpPortVerdicts(policy, 443, false)[0]).toMatchObject({ action: 'accept', raw: 'tcp dport { 22, 80, 443 } accept' });
    expect(tcpPortVerdicts(policy, 8000, false)[0]).toMatchObject({ action: 'drop', byPolicy: true });
    expect(tcpPortVerdicts(parseFirewall(fixture('firewall/nft-from-iptables-nft-debian12.txt')), 8000, true)[0]).toMatchObject({ action: 'accept' });
  });

  it('reads ufw and firewalld, which always let loopback through', () => {
    const ufw = parseFirewall(fixture('firewall/ufw-status-verbose-deny-8000-debian12.txt'));
    expect(tcpPortVerdicts(ufw, 8000, false)[0]).toMatchObject({ action: 'drop', raw: '8000/tcp                   DENY IN     Anywhere' });
    expect(tcpPortVerdicts(ufw, 80, false)[0]).toMatchObject({ action: 'accept' });
    expect(tcpPortVerdicts(ufw, 9000, false)[0]).toMatchObject({ action: 'drop', byPolicy: true });
    expect(tcpPortVerdicts(ufw, 8000, true)).toEqual([]);
    expect(tcpPortVerdicts(parseFirewall(fixture('firewall/ufw-status-deny-8000-debian12.txt')), 8000, false)[0]!.action).toBe('drop');
    const inactive = parseFirewall(fixture('firewall/ufw-status-inactive-debian12.txt'));
    expect(inactive.ufwInactive).toBe('Status: inactive');
    const firewalld = parseFirewall(fixture('firewall/firewalld-641-list-all.txt'));
    expect(tcpPortVerdicts(firewalld, 7504, false)[0]).toMatchObject({ action: 'accept' });
    expect(tcpPortVerdicts(firewalld, 8000, false)[0]).toMatchObject({ action: 'reject', raw: 'target: default', byPolicy: true });
  });
});

describe('parseSelinux', () => {
  it('reads sestatus, AVC denials, getsebool and not-installed', () => {
    expect(parseSelinux(fixture('selinux/tldr-14037-sestatus-enforcing.txt'))).toMatchObject({ mode: 'enforcing', modeLine: 'Current mode:                   enforcing' });
    const avc = parseSelinux(fixture('selinux/webvirtcloud-60-avc-soundd-port.txt')).denials;
    expect(avc).toHaveLength(2);
    expect(avc[0]).toMatchObject({ permissions: ['name_connect'], comm: 'nginx', destPort: 8000, sourceType: 'httpd_t', targetType: 'soundd_port_t', tclass: 'tcp_socket' });
    // getsebool(8) prints `name --> value`.
    expect(parseSelinux('httpd_can_network_connect --> off')).toMatchObject({ httpdCanNetworkConnect: false });
    expect(parseSelinux('sestatus: not installed')).toMatchObject({ notInstalled: 'sestatus: not installed' });
    expect(parseSelinux('Permissive').mode).toBe('permissive');
  });
});

describe('parseResources', () => {
  it('reads free -m, df -h and a full disk', () => {
    const free = parseResources(fixture('resources/free-m-debian12.txt'));
    expect(free.memory).toMatchObject({ totalMb: 24105, availableMb: 23702, swapTotalMb: 0 });
    const df = parseResources(fixture('resources/df-h-debian12.txt'));
    expect(df.disks.map((d) => [d.mountedOn, d.usePercent])).toEqual([
      ['/', 23],
      ['/dev/shm', 0],
    ]);
    const full = parseResources(fixture('resources/df-h-full-tmpfs-debian12.txt'));
    expect(full.disks[0]).toMatchObject({ filesystem: 'tmpfs', usePercent: 100, mountedOn: '/tmp/oofx/full' });
  });

  it('reads kernel OOM kills once per process, in current and old formats', () => {
    const memcg = parseResources(fixture('resources/kernel-oom-docservice-memcg-debian12.txt'));
    expect(memcg.oomKills).toEqual([expect.objectContaining({ pid: 7948, process: 'docservice' })]);
    expect(parseResources(fixture('resources/docker-for-linux-1001-kernel-oom.txt')).oomKills.map((k) => k.process)).toEqual(['python3']);
    expect(parseResources(fixture('resources/pandora-49-kernel-oom-old-format.txt')).oomKills).toEqual([expect.objectContaining({ pid: 27438, process: 'R' })]);
  });

  it('reads space and descriptor errors and the open-files limit', () => {
    expect(parseResources(fixture('resources/seafile-2033-no-space-left.txt')).noSpace).toHaveLength(1);
    // node prints the message, then the error object's `code: 'EMFILE'`: both lines say it.
    expect(parseResources(fixture('docservice_log/node-emfile-debian12.txt')).tooManyOpenFiles).toEqual(["Error: EMFILE: too many open files, open '/dev/null'", "code: 'EMFILE',"]);
    const ulimit = parseResources(`==> ulimit -n <==\n${fixture('resources/ulimit-n-debian12.txt')}`);
    expect(ulimit.openFilesLimit).toEqual({ value: 20000, raw: '20000' });
    expect(parseResources('20000').openFilesLimit).toBeUndefined();
  });
});

describe('parseServiceLog', () => {
  it('names the dependency behind each ONLYOFFICE log error', () => {
    expect(parseServiceLog(fixture('docservice_log/documentserver-1045-amqp-econnrefused.log'))).toEqual([
      { kind: 'dependency_unreachable', dependency: 'rabbitmq', port: 5672, level: 'ERROR', raw: '[2020-10-21T10:36:32.131] [ERROR] nodeJS - [AMQP] Error: connect ECONNREFUSED 127.0.0.1:5672' },
    ]);
    const redis = parseServiceLog(fixture('docservice_log/documentserver-672-redis-econnrefused.log'));
    expect(redis.map((f) => [f.dependency, f.port])).toEqual([
      ['redis', 6379],
      ['redis', 6379],
    ]);
    expect(parseServiceLog(fixture('docservice_log/documentserver-2072-relation-does-not-exist.log'))).toEqual([
      expect.objectContaining({ kind: 'dependency_schema', dependency: 'postgres', level: 'WARN' }),
    ]);
    expect(parseServiceLog(fixture('docservice_log/documentserver-262-password-authentication-failed.log')).map((f) => f.kind)).toEqual(['dependency_auth', 'dependency_auth']);
    expect(parseServiceLog(fixture('docservice_log/snap-documentserver-14-er-access-denied.log')).map((f) => f.dependency)).toEqual(['mysql', 'mysql']);
    expect(parseServiceLog(fixture('docservice_log/proxmoxve-5516-amqp-access-refused.log'))[0]).toMatchObject({ kind: 'dependency_auth', dependency: 'rabbitmq' });
    expect(parseServiceLog(fixture('docservice_log/docker-documentserver-740-waiting-for-rabbitmq.log'))[0]).toMatchObject({ dependency: 'rabbitmq', port: 5672 });
  });

  it('reads a busy port, a full disk and exhausted descriptors, skipping stack frames', () => {
    expect(parseServiceLog(fixture('docservice_log/onlyoffice-ynh-103-eaddrinuse-8000.log'))).toEqual([expect.objectContaining({ kind: 'address_in_use', port: 8000 })]);
    const node = parseServiceLog(fixture('docservice_log/node-eaddrinuse-debian12.txt'));
    expect(node[0]).toMatchObject({ kind: 'address_in_use', port: 8123, raw: 'Error: listen EADDRINUSE: address already in use 127.0.0.1:8123' });
    expect(node.every((finding) => finding.kind === 'address_in_use')).toBe(true);
    expect(parseServiceLog(fixture('docservice_log/node-enospc-debian12.txt')).map((f) => f.kind)).toContain('no_space');
    expect(parseServiceLog(fixture('docservice_log/node-emfile-debian12.txt')).map((f) => f.kind)).toContain('too_many_open_files');
    expect(parseServiceLog(fixture('docservice_log/documentserver-3468-journal-prefixed.log'))).toEqual([]);
  });
});

describe("the runbook's own formats", () => {
  it('reads probe, dependency, resolve and detect lines', () => {
    const probes = parseHttpProbes('probe docservice http://127.0.0.1:8000/healthcheck 000 0.001 curl: (7) Failed to connect to 127.0.0.1 port 8000\nprobe nginx http://127.0.0.1/ 200 0.010');
    expect(probes[0]).toMatchObject({ name: 'docservice', code: 0, seconds: 0.001, error: 'curl: (7) Failed to connect to 127.0.0.1 port 8000', parsedUrl: { port: 8000, path: '/healthcheck' } });
    expect(probes[1]).toMatchObject({ code: 200 });
    expect(parseDependencies('dependency redis 127.0.0.1:6379 closed')).toEqual([{ dependency: 'redis', host: '127.0.0.1', port: 6379, state: 'closed', raw: 'dependency redis 127.0.0.1:6379 closed' }]);
    expect(parseDns('resolve docservice.internal unresolved\nresolve localhost 127.0.0.1 ::1')).toEqual([
      { name: 'docservice.internal', addresses: [], resolved: false, raw: 'resolve docservice.internal unresolved' },
      { name: 'localhost', addresses: ['127.0.0.1', '::1'], resolved: true, raw: 'resolve localhost 127.0.0.1 ::1' },
    ]);
    expect(parseDetect('manager=supervisor\ninstall=deb')).toEqual({ manager: 'supervisor', install: 'deb' });
    expect(parseDetect('manager=unknown\ninstall=unknown')).toEqual({ install: 'unknown' });
    expect(parseNotInstalled('sestatus: not installed\nufw: not installed')).toEqual([
      { tool: 'sestatus', raw: 'sestatus: not installed' },
      { tool: 'ufw', raw: 'ufw: not installed' },
    ]);
    expect(splitSections('==> ss -ltnp <==\nA\n==> iptables -S <==\nB')).toEqual([
      { command: 'ss -ltnp', lines: ['A'] },
      { command: 'iptables -S', lines: ['B'] },
    ]);
  });

  it('reads OpenSSH client failures', () => {
    expect(parseSshFailures(fixture('other/ssh-connection-refused-debian12.txt'))).toEqual([{ reason: 'refused', raw: 'ssh: connect to host 127.0.0.1 port 2299: Connection refused' }]);
    expect(parseSshFailures(fixture('other/ssh-host-key-changed-debian12.txt')).map((f) => f.reason)).toEqual(['host_key', 'host_key']);
    expect(parseSshFailures(fixture('other/ssh-host-key-unknown-debian12.txt'))).toEqual([{ reason: 'host_key', raw: 'Host key verification failed.' }]);
  });
});
