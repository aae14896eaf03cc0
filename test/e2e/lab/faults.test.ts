import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { LAB_FAULTS, Lab, type LabFault, type LabHost } from '../../../src/lab/index.js';
import { ssh } from './ssh-cli.js';

const DS_NGINX_LOG = '/var/log/onlyoffice/documentserver/nginx.error.log';
const DOCSERVICE_OUT = '/var/log/onlyoffice/documentserver/docservice/out.log';
const DOCSERVICE_ERR = '/var/log/onlyoffice/documentserver/docservice/err.log';
// nginx's own error line format: "2024/01/31 10:00:00 [error] 12#12: *5 …"
const NGINX_ERROR = String.raw`^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[error\] \d+#\d+: \*\d+ `;

const hostName = (fault: LabFault) => `x-${fault.replaceAll('_', '-')}`;

describe('each lab fault breaks a host for real, with the real symptoms', () => {
  let lab: Lab;
  const hosts = new Map<LabFault, LabHost>();

  beforeAll(async () => {
    lab = await Lab.create();
    const started = Date.now();
    await Promise.all(
      LAB_FAULTS.map(async (fault) => {
        hosts.set(fault, await lab.addHost({ name: hostName(fault), fault }));
      }),
    );
    console.log(`${LAB_FAULTS.length} broken hosts ready in ${Date.now() - started} ms`);
  });

  afterAll(async () => {
    await lab?.destroy();
  });

  const on = (fault: LabFault) => {
    const host = hosts.get(fault);
    if (!host) throw new Error(`no host for ${fault}`);
    return host;
  };
  /** A command on the broken host, over SSH as the operator account. */
  const run = async (fault: LabFault, command: string) => ssh(on(fault), lab.knownHostsFile, command);
  const status = async (fault: LabFault, url: string) =>
    (await run(fault, `curl -s -o /dev/null -m 10 -w '%{http_code}' ${url}`)).stdout.trim();
  const dsNginxLog = async (fault: LabFault) => (await run(fault, `sudo -n cat ${DS_NGINX_LOG}`)).stdout;
  const supervisor = async (fault: LabFault) => (await run(fault, 'sudo -n supervisorctl status')).stdout;

  it('records what the request after breaking got, and the fault itself', () => {
    for (const fault of LAB_FAULTS) expect(on(fault).faults).toEqual([fault]);
    expect(on('backend_down').lastProbe).toEqual([
      { path: '/healthcheck', status: 502 },
      { path: '/example/', status: 200 },
    ]);
    expect(on('nginx_down').lastProbe.map((probe) => probe.status)).toEqual([0, 0]);
  });

  it('backend_down: docservice STOPPED, nothing on 8000, nginx 502 with connection refused', async () => {
    expect(await supervisor('backend_down')).toMatch(/^ds:docservice\s+STOPPED/m);
    expect((await run('backend_down', 'sudo -n ss -ltn')).stdout).not.toMatch(/:8000\s/);
    expect(await status('backend_down', 'http://127.0.0.1/healthcheck')).toBe('502');
    expect(await dsNginxLog('backend_down')).toMatch(
      new RegExp(
        `${NGINX_ERROR}connect\\(\\) failed \\(111: Connection refused\\) while connecting to upstream, client: 127\\.0\\.0\\.1, server: , request: "GET /healthcheck HTTP/1\\.1", upstream: "http://127\\.0\\.0\\.1:8000/healthcheck", host: "127\\.0\\.0\\.1"$`,
        'm',
      ),
    );
  });

  it('backend_crashloop: docservice dies at start on a broken local.json until supervisor gives up', async () => {
    expect(await supervisor('backend_crashloop')).toMatch(/^ds:docservice\s+FATAL\s+Exited too quickly \(process log may have details\)/m);
    const err = (await run('backend_crashloop', `sudo -n cat ${DOCSERVICE_ERR}`)).stdout;
    expect(err).toMatch(/^Error: Cannot parse config file: '\/etc\/onlyoffice\/documentserver\/local\.json': SyntaxError: /m);
    // One crash per start attempt: the first and supervisor's retries.
    expect(err.match(/Cannot parse config file/g)?.length ?? 0).toBeGreaterThanOrEqual(3);
    const log = (await run('backend_crashloop', 'sudo -n cat /var/log/supervisor/supervisord.log')).stdout;
    expect(log).toMatch(/gave up: docservice entered FATAL state, too many start retries too quickly/);
    expect(await status('backend_crashloop', 'http://127.0.0.1/healthcheck')).toBe('502');
  });

  it('wrong_upstream_port: nginx proxies to 8001 while docservice listens on 8000', async () => {
    expect((await run('wrong_upstream_port', 'sudo -n ss -ltnp')).stdout).toMatch(/\*:8000\s.*"docservice"/);
    expect((await run('wrong_upstream_port', 'sudo -n nginx -T 2>/dev/null')).stdout).toContain(
      'server localhost:8001 max_fails=0 fail_timeout=0s;',
    );
    expect(await status('wrong_upstream_port', 'http://127.0.0.1/healthcheck')).toBe('502');
    expect(await dsNginxLog('wrong_upstream_port')).toMatch(
      /connect\(\) failed \(111: Connection refused\) while connecting to upstream, .*upstream: "http:\/\/127\.0\.0\.1:8001\/healthcheck"/,
    );
  });

  it('port_conflict: another program holds 8000, docservice logs EADDRINUSE and crash-loops', async () => {
    expect((await run('port_conflict', 'sudo -n ss -ltnp')).stdout).toMatch(/\*:8000\s.*"oo-lab-squatter"/);
    const out = (await run('port_conflict', `sudo -n cat ${DOCSERVICE_OUT}`)).stdout;
    expect(out).toMatch(
      /^\[[\d\-T:.]+\] \[ERROR\] \[localhost\] \[docId\] \[userId\] nodeJS - Error: listen EADDRINUSE: address already in use :::8000$/m,
    );
    expect(out).toMatch(/^\s+at Server\.setupListenHandle \[as _listen2\] \(node:net:\d+:\d+\)$/m);
    expect(await supervisor('port_conflict')).toMatch(/^ds:docservice\s+FATAL/m);
    expect(await status('port_conflict', 'http://127.0.0.1/healthcheck')).toBe('502');
    expect(await dsNginxLog('port_conflict')).toMatch(
      /(recv\(\) failed \(104: Connection reset by peer\)|upstream prematurely closed connection) while reading response header from upstream/,
    );
  });

  it('upstream_timeout: the upstream answers later than proxy_read_timeout, nginx 504', async () => {
    const started = Date.now();
    expect(await status('upstream_timeout', 'http://127.0.0.1/healthcheck')).toBe('504');
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_900);
    expect((await run('upstream_timeout', 'sudo -n nginx -T 2>/dev/null')).stdout).toContain('proxy_read_timeout 2s;');
    expect(await dsNginxLog('upstream_timeout')).toMatch(
      /upstream timed out \(110: Connection timed out\) while reading response header from upstream, .*upstream: "http:\/\/127\.0\.0\.1:8000\/healthcheck"/,
    );
  });

  it('header_too_big: the upstream sends a 64 KiB header, nginx 502', async () => {
    const direct = await run('header_too_big', "curl -s -D - -o /dev/null http://127.0.0.1:8000/healthcheck | grep -i '^set-cookie' | wc -c");
    expect(Number(direct.stdout.trim())).toBeGreaterThan(64 * 1024);
    expect(await status('header_too_big', 'http://127.0.0.1/healthcheck')).toBe('502');
    expect(await dsNginxLog('header_too_big')).toMatch(
      new RegExp(`${NGINX_ERROR}upstream sent too big header while reading response header from upstream`, 'm'),
    );
  });

  it('firewall_drop: a DROP rule on 8000, nginx times out connecting to the upstream address', async () => {
    const host = on('firewall_drop');
    expect((await run('firewall_drop', 'sudo -n iptables -S INPUT')).stdout).toContain('-A INPUT -p tcp -m tcp --dport 8000 -j DROP');
    expect(await status('firewall_drop', 'http://127.0.0.1/healthcheck')).toBe('504');
    expect(await dsNginxLog('firewall_drop')).toContain(
      `upstream timed out (110: Connection timed out) while connecting to upstream, client: 127.0.0.1, server: , request: "GET /healthcheck HTTP/1.1", upstream: "http://${host.address}:8000/healthcheck"`,
    );
    expect(await supervisor('firewall_drop')).toMatch(/^ds:docservice\s+RUNNING/m);
  });

  it('firewall_reject: a REJECT rule on 8000, nginx gets no route to host', async () => {
    const host = on('firewall_reject');
    expect((await run('firewall_reject', 'sudo -n iptables -S INPUT')).stdout).toContain(
      '-A INPUT -p tcp -m tcp --dport 8000 -j REJECT --reject-with icmp-host-prohibited',
    );
    expect(await status('firewall_reject', 'http://127.0.0.1/healthcheck')).toBe('502');
    expect(await dsNginxLog('firewall_reject')).toContain(
      `connect() failed (113: No route to host) while connecting to upstream, client: 127.0.0.1, server: , request: "GET /healthcheck HTTP/1.1", upstream: "http://${host.address}:8000/healthcheck"`,
    );
  });

  it('dependency_redis: Redis stopped, docservice logs the refused connection and crash-loops', async () => {
    expect((await run('dependency_redis', 'sudo -n ss -ltn')).stdout).not.toMatch(/:6379\s/);
    const out = (await run('dependency_redis', `sudo -n cat ${DOCSERVICE_OUT}`)).stdout;
    expect(out).toMatch(
      /^\[[\d\-T:.]+\] \[ERROR\] \[localhost\] \[docId\] \[userId\] nodeJS - redisClient error Error: Redis connection to 127\.0\.0\.1:6379 failed - connect ECONNREFUSED 127\.0\.0\.1:6379$/m,
    );
    expect(await supervisor('dependency_redis')).toMatch(/^ds:docservice\s+FATAL/m);
    expect(await status('dependency_redis', 'http://127.0.0.1/healthcheck')).toBe('502');
  });

  it('example_not_started: ds:example STOPPED, /example/ 502 while the editor works', async () => {
    expect(await supervisor('example_not_started')).toMatch(/^ds:example\s+STOPPED/m);
    expect(await status('example_not_started', 'http://127.0.0.1/example/')).toBe('502');
    expect(await status('example_not_started', 'http://127.0.0.1/healthcheck')).toBe('200');
    expect(await dsNginxLog('example_not_started')).toMatch(
      /connect\(\) failed \(111: Connection refused\) while connecting to upstream, .*request: "GET \/example\/ HTTP\/1\.1", upstream: "http:\/\/127\.0\.0\.1:3000\/"/,
    );
  });

  it('disk_full: the cache folder is full, the healthcheck fails with ENOSPC', async () => {
    const df = await run('disk_full', 'df -h /var/lib/onlyoffice');
    expect(df.stdout).toMatch(/^tmpfs\s+1\.0M\s+1\.0M\s+0\s+100% \/var\/lib\/onlyoffice$/m);
    expect((await run('disk_full', 'curl -s http://127.0.0.1/healthcheck')).stdout).toBe('false');
    const out = (await run('disk_full', `sudo -n cat ${DOCSERVICE_OUT}`)).stdout;
    expect(out).toMatch(/nodeJS - healthCheck error Error: ENOSPC: no space left on device, write$/m);
  });

  it('nginx_config_invalid: nginx -t fails on conf.d/ds.conf while the old config keeps serving', async () => {
    const test = await run('nginx_config_invalid', 'sudo -n nginx -t');
    expect(test.code).toBe(1);
    expect(test.stderr).toMatch(/\[emerg\] \d+#\d+: invalid parameter "listen" in \/etc\/nginx\/conf\.d\/ds\.conf:\d+/);
    expect(test.stderr).toMatch(/nginx: configuration file \/etc\/nginx\/nginx\.conf test failed/);
    expect((await run('nginx_config_invalid', 'sudo -n cat /var/log/nginx/error.log')).stdout).toMatch(
      /\[emerg\] \d+#\d+: invalid parameter "listen" in \/etc\/nginx\/conf\.d\/ds\.conf:\d+/,
    );
    expect(await status('nginx_config_invalid', 'http://127.0.0.1/healthcheck')).toBe('200');
  });

  it('nginx_down: no nginx process, nothing on port 80', async () => {
    const result = await run('nginx_down', "curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1/healthcheck; echo \" exit=$?\"");
    expect(result.stdout.trim()).toBe('000 exit=7');
    expect((await run('nginx_down', 'sudo -n ss -ltn')).stdout).not.toMatch(/:80\s/);
    expect((await run('nginx_down', 'pgrep -x nginx; echo "pgrep=$?"')).stdout.trim()).toBe('pgrep=1');
    expect(await supervisor('nginx_down')).toMatch(/^ds:docservice\s+RUNNING/m);
  });

  it('host_unreachable: sshd is stopped, SSH is refused, the services still run', async () => {
    const result = await run('host_unreachable', 'true');
    expect(result.code).toBe(255);
    expect(result.stderr).toMatch(/Connection refused/);
    const inside = await on('host_unreachable').exec(['sh', '-c', 'pgrep -x sshd; echo "pgrep=$?"; supervisorctl status ds:docservice']);
    expect(inside.stdout).toMatch(/^pgrep=1$/m);
    expect(inside.stdout).toMatch(/ds:docservice\s+RUNNING/);
  });

  it('refuses faults a light host cannot have, and unknown faults', async () => {
    const light = await lab.addHost({ name: 'x-light', light: true });
    await expect(light.breakWith('example_not_started')).rejects.toThrow(/light host x-light/);
    await expect(light.breakWith('dependency_redis')).rejects.toThrow(/light host x-light/);
    await expect(light.breakWith('nope' as LabFault)).rejects.toThrow(/unknown lab fault "nope"/);
    const result = await ssh(light, lab.knownHostsFile, 'sudo -n supervisorctl status; curl -s http://127.0.0.1/healthcheck');
    expect(result.stdout).toMatch(/^ds:docservice\s+RUNNING/m);
    expect(result.stdout).not.toMatch(/ds:example/);
    expect(result.stdout).toMatch(/true$/);
    await light.breakWith('backend_down');
    expect(light.lastProbe).toEqual([{ path: '/healthcheck', status: 502 }]);
  });
});
