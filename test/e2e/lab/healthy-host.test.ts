import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Lab, type LabHost } from '../../../src/lab/index.js';
import { ssh } from './ssh-cli.js';

const LOG4JS_LINE = /^\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\] \[(WARN|ERROR|INFO)\] \[localhost\] \[docId\] \[userId\] nodeJS - /;

describe('a healthy lab host, over real SSH', () => {
  let lab: Lab;
  let host: LabHost;
  let other: LabHost;

  beforeAll(async () => {
    lab = await Lab.create();
    [host, other] = await Promise.all([lab.addHost({ name: 'docs-a' }), lab.addHost({ name: 'docs-b' })]);
  });

  afterAll(async () => {
    await lab?.destroy();
  });

  const run = async (command: string) => {
    const result = await ssh(host, lab.knownHostsFile, command);
    return result;
  };

  it('logs in as oolab with the pinned host key and sees its own host name', async () => {
    const result = await run('whoami; hostname; sudo -n true && echo sudo-ok');
    expect(result.stderr).toBe('');
    expect(result.stdout.trim().split('\n')).toEqual(['oolab', 'docs-a', 'sudo-ok']);
    expect(host.hostKey).toMatch(/^ssh-ed25519 [A-Za-z0-9+/=]+$/);
    expect(host).toMatchObject({ port: 22, user: 'oolab' });
    expect(host.address).toMatch(/^10\.231\.\d+\.\d+$/);
  });

  it('refuses the host when the pinned key is not the one it presents', async () => {
    const wrong = path.join(lab.root, 'known_hosts_wrong');
    await writeFile(wrong, `${host.address} ${other.hostKey}\n`);
    const result = await ssh(host, wrong, 'true');
    expect(result.code).toBe(255);
    expect(result.stderr).toMatch(/REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed/);
  });

  it('answers /healthcheck with true through nginx and directly, and serves /example/', async () => {
    const result = await run(
      [
        "curl -s -o /dev/null -w '%{http_code}\\n' http://127.0.0.1/healthcheck",
        'curl -s http://127.0.0.1/healthcheck; echo',
        'curl -s http://127.0.0.1:8000/healthcheck; echo',
        "curl -s -o /dev/null -w '%{http_code}\\n' http://127.0.0.1/example/",
        "curl -s -o /dev/null -w '%{http_code} %{redirect_url}\\n' http://127.0.0.1/",
      ].join('; '),
    );
    expect(result.stdout.trim().split('\n')).toEqual(['200', 'true', 'true', '200', '302 http://127.0.0.1/welcome/']);
  });

  it('runs the ONLYOFFICE programs under supervisor, group ds', async () => {
    const result = await run('sudo -n supervisorctl status');
    expect(result.stdout).toMatch(/^ds:docservice\s+RUNNING\s+pid \d+/m);
    expect(result.stdout).toMatch(/^ds:converter\s+RUNNING\s+pid \d+/m);
    expect(result.stdout).toMatch(/^ds:example\s+RUNNING\s+pid \d+/m);
  });

  it('listens where a real install listens, and shows only its own processes', async () => {
    const result = await run('sudo -n ss -ltnp');
    expect(result.stdout).toMatch(/\*:8000\s.*"docservice"/);
    expect(result.stdout).toMatch(/0\.0\.0\.0:80\s.*"nginx"/);
    expect(result.stdout).toMatch(/\*:3000\s.*"example"/);
    expect(result.stdout).toMatch(/127\.0\.0\.1:6379\s.*"redis-server"/);
    const ps = await run('ps -e -o comm=');
    const names = ps.stdout.trim().split('\n');
    // Its own PID namespace: one docservice, not one per lab host.
    expect(names.filter((name) => name === 'docservice')).toHaveLength(1);
    expect(names[0]).toBe('/sbin/init');
  });

  it('has the package layout: ds.conf linked into conf.d, includes, upstreams, Docs error log', async () => {
    const link = await run('readlink /etc/nginx/conf.d/ds.conf; ls /etc/nginx/includes');
    expect(link.stdout.trim().split('\n')).toEqual([
      '/etc/onlyoffice/documentserver/nginx/ds.conf',
      'ds-common.conf',
      'ds-docservice.conf',
      'ds-example.conf',
      'http-common.conf',
    ]);
    const config = await run('sudo -n nginx -T 2>/dev/null');
    expect(config.stdout).toContain('upstream docservice {\n  server localhost:8000 max_fails=0 fail_timeout=0s;\n}');
    expect(config.stdout).toContain('upstream example {\n  server localhost:3000;\n}');
    expect(config.stdout).toMatch(/location \/example\/ \{\n\s+proxy_pass http:\/\/example\/;/);
    expect(config.stdout).toContain('error_log /var/log/onlyoffice/documentserver/nginx.error.log;');
    const test = await run('sudo -n nginx -t');
    expect(test.code).toBe(0);
    expect(test.stderr).toMatch(/syntax is ok/);
  });

  it('writes docservice log4js lines where the real one does', async () => {
    const result = await run('sudo -n cat /var/log/onlyoffice/documentserver/docservice/out.log');
    const lines = result.stdout.trim().split('\n');
    expect(lines.length).toBeGreaterThanOrEqual(2);
    for (const line of lines) expect(line).toMatch(LOG4JS_LINE);
    expect(result.stdout).toMatch(/nodeJS - Express server listening on port 8000 in production-linux mode/);
  });

  it('keeps each host apart: its own files, addresses and writes', async () => {
    expect(other.address).not.toBe(host.address);
    expect(other.namespace).not.toBe(host.namespace);
    await host.exec(['sh', '-c', 'echo a > /etc/nginx/conf.d/oo-lab-marker.conf; mkdir -p /var/lib/oo-lab-test; echo a > /var/lib/oo-lab-test/x']);
    const seenByOther = await other.exec(['sh', '-c', 'ls /etc/nginx/conf.d; cat /var/lib/oo-lab-test/x 2>&1']);
    expect(seenByOther.stdout).not.toContain('oo-lab-marker.conf');
    expect(seenByOther.stdout).toMatch(/No such file or directory/);
    const onMachine = await ssh(other, lab.knownHostsFile, 'hostname');
    expect(onMachine.stdout.trim()).toBe('docs-b');
    await host.exec(['rm', '-f', '/etc/nginx/conf.d/oo-lab-marker.conf']);
  });

  it('reports how long it took to start and what it costs in memory', async () => {
    const memory = await host.memory();
    console.log(
      `lab host ${host.name}: started in ${host.startupMs} ms; ${memory.processes} processes, ` +
        `RSS sum ${(memory.rssKiB / 1024).toFixed(1)} MiB, PSS sum ${(memory.pssKiB / 1024).toFixed(1)} MiB`,
    );
    expect(host.startupMs).toBeGreaterThan(0);
    expect(host.startupMs).toBeLessThan(60_000);
    expect(memory.processes).toBeGreaterThanOrEqual(9);
    expect(memory.pssKiB).toBeGreaterThan(0);
    expect(memory.pssKiB).toBeLessThanOrEqual(memory.rssKiB);
  });

  it('refuses a second host of the same name and names that are not host names', async () => {
    await expect(lab.addHost({ name: 'docs-a' })).rejects.toThrow(/already has a host named docs-a/);
    await expect(lab.addHost({ name: 'Bad Name' })).rejects.toThrow(/must match/);
    await expect(lab.addHost({ name: 'ok-name', fault: 'nope' as never })).rejects.toThrow(/unknown lab fault "nope"/);
    await expect(host.exec([])).rejects.toThrow(/non-empty argv/);
  });
});
