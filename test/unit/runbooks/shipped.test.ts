import { parseDetect } from '../../../src/diagnosis/parsers/index.js';
/**
 * The shipped ONLYOFFICE 502 runbook: it validates, covers the contract, and its commands really run.
 * The execution tests build small hosts from network namespaces (lab.md): their own loopback, listeners,
 * firewall and nginx; traffic stays on their loopback. Docker is a stand-in that runs `exec` locally.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { chmod, cp, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CAUSE_IDS, EVIDENCE_KEYS, PROCESS_MANAGERS, type EvidenceKey } from '../../../src/diagnosis/vocabulary.js';
import {
  defaultRunbook,
  loadRunbooks,
  planDetect,
  planRemediation,
  planSteps,
  remediationsFor,
  type PlanTarget,
  type PlannedStep,
} from '../../../src/runbooks/index.js';

const runbook = defaultRunbook();
const CONTAINER = 'onlyoffice-ds';
const SYSTEM_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const targets: Record<(typeof PROCESS_MANAGERS)[number], PlanTarget> = {
  systemd: { processManager: 'systemd', sudo: false },
  supervisor: { processManager: 'supervisor', sudo: false },
  docker: { processManager: 'docker', sudo: false, container: CONTAINER },
};

describe('the shipped runbook', () => {
  it('is the one loadRunbooks finds in the package', async () => {
    const all = await loadRunbooks();
    expect(all.map((candidate) => candidate.id)).toContain('onlyoffice-502');
    expect(runbook.id).toBe('onlyoffice-502');
    expect(runbook.file).toMatch(/runbooks\/onlyoffice-502\.yaml$/);
  });

  it('has one step for every evidence key but `other`, each under every process manager', () => {
    const ids = runbook.steps.map((step) => step.id);
    expect([...ids].sort()).toEqual(EVIDENCE_KEYS.filter((key) => key !== 'other').sort());
    for (const target of Object.values(targets)) {
      expect(planSteps(runbook, target).map((step) => step.id)).toEqual(ids);
    }
  });

  it('offers the required remediations, each fixing contract causes', () => {
    const required: Record<string, string[]> = {
      restart_docservice: ['backend_down', 'backend_crashloop'],
      restart_converter: ['backend_crashloop'],
      start_example: ['example_not_started'],
      reload_nginx: ['dns_resolution'],
      start_nginx: ['nginx_down'],
      start_postgres: ['dependency_postgres'],
      start_rabbitmq: ['dependency_rabbitmq'],
      start_redis: ['dependency_redis'],
      allow_httpd_network_connect: ['selinux_denial'],
      raise_proxy_buffers: ['header_too_big'],
      raise_proxy_timeouts: ['upstream_timeout'],
    };
    for (const [id, causes] of Object.entries(required)) {
      const remediation = runbook.remediations.find((candidate) => candidate.id === id);
      expect(remediation, id).toBeDefined();
      expect(remediation!.fixes.map((fix) => fix.cause)).toEqual(expect.arrayContaining(causes));
    }
    for (const remediation of runbook.remediations) {
      for (const fix of remediation.fixes) expect(CAUSE_IDS).toContain(fix.cause);
      expect(remediation.verify.steps.length).toBeGreaterThan(0);
    }
    expect(runbook.remediations.find((r) => r.id === 'allow_httpd_network_connect')!.risk).toBe('high');
    expect(remediationsFor(runbook, { id: 'backend_down', subject: 'docservice' }, 'docker').map((r) => r.id)).toEqual([
      'restart_docservice',
    ]);
    expect(remediationsFor(runbook, { id: 'selinux_denial' }, 'docker')).toEqual([]);
    expect(remediationsFor(runbook, { id: 'dependency_redis', subject: 'redis' }, 'supervisor').map((r) => r.id)).toEqual([
      'start_redis',
    ]);
  });

  it('checks nginx before reloading or writing a drop-in, and can roll drop-ins back', () => {
    for (const manager of PROCESS_MANAGERS) {
      for (const id of ['reload_nginx', 'start_nginx', 'raise_proxy_buffers', 'raise_proxy_timeouts']) {
        const plan = planRemediation(runbook, id, targets[manager]);
        expect(plan.precheck?.command, `${id} ${manager}`).toMatch(/nginx -t'?$/);
      }
      for (const id of ['raise_proxy_buffers', 'raise_proxy_timeouts']) {
        const plan = planRemediation(runbook, id, targets[manager]);
        expect(plan.stdin).toMatch(/^proxy_/m);
        expect(plan.rollback).toBeDefined();
      }
    }
  });

  it('every command is valid POSIX sh, plain and wrapped in sudo', () => {
    const commands: string[] = [planDetect(runbook, { sudo: false }).command, planDetect(runbook, { sudo: true }).command];
    for (const manager of PROCESS_MANAGERS) {
      for (const sudo of [false, true]) {
        const target = { ...targets[manager], sudo };
        commands.push(...planSteps(runbook, target).map((step) => step.command));
        for (const remediation of runbook.remediations) {
          const plan = (() => {
            try {
              return planRemediation(runbook, remediation.id, target);
            } catch {
              return undefined; // not for this manager (e.g. setsebool under docker)
            }
          })();
          if (!plan) continue;
          commands.push(...[plan.command, plan.precheck, plan.rollback].flatMap((part) => (part ? [part.command] : [])));
        }
      }
    }
    expect(commands.length).toBeGreaterThan(80);
    for (const command of commands) {
      expect(() => execFileSync('sh', ['-n', '-c', command], { stdio: 'pipe' }), command).not.toThrow();
    }
  });

  it("prints supervisord's getAllProcessInfo answer exactly as supervisorctl status does", () => {
    // The awk program of service_status (supervisor), fed the real answers of supervisord 4.2.5 whose
    // supervisorctl status output was captured at the same moment (test/fixtures/real/SOURCES.md).
    const command = step(planSteps(runbook, targets.supervisor), 'service_status');
    const program = /\| awk '\n([^']*)'\n/.exec(command)?.[1];
    expect(program, 'the awk program in service_status').toBeDefined();
    const fixtures = path.resolve(import.meta.dirname, '../../fixtures/real/service_status');
    for (const state of ['fatal', 'stopped']) {
      const answer = readFileSync(path.join(fixtures, `supervisord-getallprocessinfo-${state}-debian12.xml`), 'utf8');
      const expected = readFileSync(path.join(fixtures, `supervisorctl-status-${state}-debian12.txt`), 'utf8');
      expect(execFileSync('awk', [program!], { input: answer, encoding: 'utf8' })).toBe(expected);
    }
  });
});

// ---------------------------------------------------------------------------------------------------
// Running the commands for real.

interface RunResult {
  code: number | null;
  output: string;
}

/** Runs a command in a namespace (as the SSH session would: a shell, stdout and stderr together). */
function runIn(namespace: string, command: string, options: { path?: string; stdin?: string; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(IP, ['netns', 'exec', namespace, 'sh', '-c', command], {
      env: { ...process.env, ...options.env, PATH: options.path ?? SYSTEM_PATH, LC_ALL: 'C' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
    child.stdin.end(options.stdin ?? '');
  });
}

function step(planned: PlannedStep[], id: EvidenceKey): string {
  const found = planned.find((candidate) => candidate.id === id);
  if (!found) throw new Error(`no step ${id}`);
  return found.command;
}

const IP = execFileSync('sh', ['-c', 'command -v ip'], { encoding: 'utf8', env: { PATH: SYSTEM_PATH } }).trim();
const suffix = `${process.pid % 100000}`;
const NS_HOST = `oorb-h${suffix}`; // nginx, docservice stand-in, redis port, a DROP rule on 5672
const NS_BARE = `oorb-b${suffix}`; // nothing runs here
const NS_FIX = `oorb-f${suffix}`; // the system nginx config, for the remediations

const UPSTREAM_SERVER = `
const http = require('node:http');
const net = require('node:net');
http.createServer((req, res) => {
  if (req.url === '/healthcheck') { res.end('true'); return; }
  res.end('ok');
}).listen(8000, '127.0.0.1', () => {
  net.createServer((socket) => socket.end()).listen(6379, '127.0.0.1', () => console.log('ready'));
});
setTimeout(() => process.exit(0), 10 * 60 * 1000).unref();
`;

const FAKE_DOCKER = `#!/bin/sh
# Stand-in for the docker CLI: "exec" runs the command right here, as if inside the container.
case "$1" in
  exec)
    shift
    while [ "\${1#-}" != "$1" ]; do shift; done
    container=$1; shift
    if [ "$container" != "${CONTAINER}" ]; then echo "Error response from daemon: No such container: $container" >&2; exit 1; fi
    exec "$@" ;;
  ps)
    echo 'CONTAINER ID   IMAGE                              STATUS       NAMES'
    echo '0123456789ab   onlyoffice/documentserver:8.1.1    Up 2 hours   ${CONTAINER}' ;;
  inspect)
    # The Go template must arrive untouched: the runbook passes it as fixed text.
    case "$3" in *'"OOMKilled": {{.State.OOMKilled}},'*) ;; *) echo "docker stand-in: unexpected format: $3" >&2; exit 1 ;; esac
    [ "$2" = "--format" ] && [ "$4" = "${CONTAINER}" ] || { echo "docker stand-in: unexpected inspect arguments: $*" >&2; exit 1; }
    printf '%s\n' '{' '  "Name": "/${CONTAINER}",' '  "Status": "running",' '  "Running": true,' '  "OOMKilled": false,' '  "RestartCount": 0' '}' ;;
  logs)
    [ "$2" = "--tail" ] && [ "$3" = "200" ] && [ "$4" = "${CONTAINER}" ] || { echo "docker stand-in: unexpected logs arguments: $*" >&2; exit 1; }
    echo '[2024-05-01T10:00:00.000] [INFO] nodeJS - Express server listening on port 8000 in production-linux mode' ;;
  *) echo "docker stand-in: unsupported: $*" >&2; exit 1 ;;
esac
`;

// What `nginx -T` prints on an ONLYOFFICE host, with a remote upstream that does not resolve.
const FAKE_NGINX_T = `#!/bin/sh
[ "$1" = "-T" ] || exit 1
cat <<'EOF'
# configuration file /etc/nginx/conf.d/ds.conf:
include /etc/nginx/includes/http-common.conf;
upstream docservice {
  server localhost:8000 max_fails=0 fail_timeout=0s;
}
upstream example {
  server localhost:3000;
}
upstream sockets { server unix:/run/ds.sock; server 127.0.0.1:9000; }
server {
  listen 0.0.0.0:80;
  server_name _;
  location / { proxy_pass http://docservice; }
  location /example/ { proxy_pass http://example/; }
  location /remote/ { proxy_pass http://backend.invalid:8080/x; } # it's remote
  location /var/ { proxy_pass http://$upstream_name; }
}
EOF
`;

const LOCAL_JSON = `{
  "services": {
    "CoAuthoring": {
      "sql": { "type": "postgres", "dbHost": "127.0.0.1", "dbPort": "5433", "dbName": "onlyoffice" },
      "redis": {
        "name": "redis",
        "host": "localhost",
        "port": 6379
      }
    }
  },
  "rabbitmq": { "url": "amqp://guest:guest@127.0.0.1:5673" }
}
`;

describe('the shipped commands, run for real', () => {
  let work: string;
  let fakeBin: string;
  let noCurlBin: string;
  let upstream: ChildProcess | undefined;
  let nginxPidFile: string;
  const namespaces: string[] = [];

  beforeAll(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'oo-runbook-run-'));
    fakeBin = path.join(work, 'fake-bin');
    noCurlBin = path.join(work, 'no-curl-bin');
    await mkdir(fakeBin);
    await mkdir(noCurlBin);
    await writeFile(path.join(fakeBin, 'docker'), FAKE_DOCKER);
    await chmod(path.join(fakeBin, 'docker'), 0o755);
    await mkdir(path.join(work, 'nginx-t-bin'));
    await writeFile(path.join(work, 'nginx-t-bin', 'nginx'), FAKE_NGINX_T);
    await chmod(path.join(work, 'nginx-t-bin', 'nginx'), 0o755);
    // Enough tools for the probe script, and no curl: the wget fallback has to do the work.
    for (const tool of ['sh', 'wget', 'grep', 'sed', 'awk', 'date', 'tail', 'head', 'tr', 'cat']) {
      const real = execFileSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8', env: { PATH: SYSTEM_PATH } }).trim();
      await symlink(real, path.join(noCurlBin, tool));
    }

    for (const namespace of [NS_HOST, NS_BARE, NS_FIX]) {
      execFileSync('ip', ['netns', 'add', namespace]);
      namespaces.push(namespace);
      execFileSync('ip', ['netns', 'exec', namespace, 'ip', 'link', 'set', 'lo', 'up']);
    }
    execFileSync('ip', ['netns', 'exec', NS_HOST, 'iptables', '-A', 'INPUT', '-p', 'tcp', '--dport', '5672', '-j', 'DROP']);

    upstream = spawn('ip', ['netns', 'exec', NS_HOST, process.execPath, '-e', UPSTREAM_SERVER], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('upstream stand-in did not start in 10 s')), 10_000);
      upstream!.stdout!.on('data', (chunk: Buffer) => {
        if (chunk.toString().includes('ready')) {
          clearTimeout(timer);
          resolve();
        }
      });
      upstream!.on('exit', (code) => reject(new Error(`upstream stand-in exited with ${code}`)));
    });

    const nginxDir = path.join(work, 'nginx');
    await mkdir(nginxDir);
    nginxPidFile = path.join(nginxDir, 'nginx.pid');
    await writeFile(
      path.join(nginxDir, 'nginx.conf'),
      `worker_processes 1;
pid ${nginxPidFile};
error_log ${nginxDir}/error.log;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${nginxDir}/body; proxy_temp_path ${nginxDir}/proxy; fastcgi_temp_path ${nginxDir}/fastcgi;
  uwsgi_temp_path ${nginxDir}/uwsgi; scgi_temp_path ${nginxDir}/scgi;
  upstream docservice { server localhost:8000 max_fails=0 fail_timeout=0s; }
  upstream example { server localhost:3000; }
  server {
    listen 127.0.0.1:80;
    location /example/ { proxy_pass http://example/; }
    location / { proxy_pass http://docservice; }
  }
}
`,
    );
    execFileSync('ip', ['netns', 'exec', NS_HOST, 'nginx', '-e', `${nginxDir}/error.log`, '-c', `${nginxDir}/nginx.conf`]);
  }, 60_000);

  afterAll(async () => {
    try {
      const pid = Number(execFileSync('cat', [nginxPidFile], { encoding: 'utf8' }).trim());
      if (pid > 0) process.kill(pid, 'SIGTERM');
    } catch {
      // nginx did not start; nothing to stop
    }
    if (upstream?.pid) upstream.kill('SIGTERM');
    for (const namespace of namespaces) {
      try {
        execFileSync('sh', ['-c', `ip netns pids ${namespace} | xargs -r kill -9; ip netns del ${namespace}`]);
      } catch {
        // already gone
      }
    }
    if (work) await rm(work, { recursive: true, force: true });
  }, 30_000);

  const supervisor = () => planSteps(runbook, targets.supervisor);
  const docker = () => planSteps(runbook, targets.docker);

  it('detect prints a manager and an install kind', async () => {
    const { output } = await runIn(NS_BARE, planDetect(runbook, { sudo: false }).command);
    expect(output).toMatch(/^manager=(systemd|supervisor|docker|unknown)$/m);
    expect(output).toMatch(/^install=(deb|rpm|docker|unknown)$/m);
    expect(parseDetect(output).manager).not.toBe('systemd'); // no systemd on this machine
  });

  it('service_status: supervisorctl, and processes counted in this host only', async () => {
    const onHost = await runIn(NS_HOST, step(supervisor(), 'service_status'));
    expect(onHost.output).toContain('==> supervisorctl status <==');
    expect(onHost.output).toMatch(/^process nginx running pids( \d+)+$/m);
    expect(onHost.output).toMatch(/^process (postgres|rabbitmq|redis) (running pids( \d+)+|not running)$/m);
    // nginx runs in NS_HOST, not here: /proc is shared, the network namespace tells them apart.
    const bare = await runIn(NS_BARE, step(supervisor(), 'service_status'));
    expect(bare.output).toMatch(/^process nginx not running$/m);
    expect(bare.output.match(/^process \S+ /gm)).toHaveLength(4);
  });

  it('service_status under docker: the container state, supervisorctl and processes inside', async () => {
    const { output } = await runIn(NS_HOST, step(docker(), 'service_status'), { path: `${fakeBin}:${SYSTEM_PATH}` });
    expect(output).toContain('onlyoffice/documentserver:8.1.1');
    expect(output).toContain('==> docker inspect (State) <==\n{\n  "Name": "/onlyoffice-ds",');
    expect(output).toMatch(/^ {2}"OOMKilled": false,$/m);
    expect(output).toContain('==> docker exec supervisorctl status <==');
    expect(output).toMatch(/^process nginx running pids( \d+)+$/m);
  });

  it('log tails name each file, and say when one is missing', async () => {
    for (const planned of [supervisor(), docker()]) {
      const env = { path: `${fakeBin}:${SYSTEM_PATH}` };
      const errorLog = await runIn(NS_BARE, step(planned, 'nginx_error_log'), env);
      expect(errorLog.output).toContain('==> /var/log/nginx/error.log <==');
      expect(errorLog.output).toContain('==> /var/log/onlyoffice/documentserver/nginx.error.log <==');
      const docservice = await runIn(NS_BARE, step(planned, 'docservice_log'), env);
      expect(docservice.output).toMatch(/^\/var\/log\/onlyoffice\/documentserver\/docservice\/out\.log: (no such file|permission denied)$|==> \/var\/log\/onlyoffice\/documentserver\/docservice\/out\.log <==/m);
      expect(docservice.output).toContain('==> /var/log/onlyoffice/documentserver/docservice/err.log <==');
      const converter = await runIn(NS_BARE, step(planned, 'converter_log'), env);
      expect(converter.output).toContain('==> /var/log/onlyoffice/documentserver/converter/out.log <==');
    }
    const dockerLog = await runIn(NS_BARE, step(docker(), 'docservice_log'), { path: `${fakeBin}:${SYSTEM_PATH}` });
    expect(dockerLog.output).toContain('Express server listening on port 8000');
  });

  it('nginx_config and nginx_test run nginx', async () => {
    const config = await runIn(NS_BARE, step(supervisor(), 'nginx_config'));
    expect(config.output).toMatch(/^==> nginx -T <==\n/);
    expect(config.output).toMatch(/# configuration file \/etc\/nginx\/nginx\.conf:|nginx: \[emerg\]/);
    const test = await runIn(NS_BARE, step(supervisor(), 'nginx_test'));
    expect(test.output).toMatch(/nginx: (the configuration file .* syntax is ok|\[emerg\])/);
  });

  it('ports: the listeners of this host', async () => {
    const { output } = await runIn(NS_HOST, step(supervisor(), 'ports'));
    expect(output).toMatch(/^==> ss -ltnp <==$/m);
    expect(output).toMatch(/LISTEN .* 127\.0\.0\.1:8000 .*users:\(\("node"/);
    expect(output).toMatch(/LISTEN .* 127\.0\.0\.1:80 .*users:\(\("nginx"/);
    const inside = await runIn(NS_HOST, step(docker(), 'ports'), { path: `${fakeBin}:${SYSTEM_PATH}` });
    expect(inside.output).toContain('==> docker exec ss -ltnp <==');
    expect(inside.output.match(/127\.0\.0\.1:8000/g)).toHaveLength(2);
  });

  it('firewall: every tool, present or not', async () => {
    const { output } = await runIn(NS_HOST, step(supervisor(), 'firewall'));
    for (const header of ['iptables -S', 'nft list ruleset', 'firewall-cmd --list-all', 'ufw status']) {
      expect(output).toContain(`==> ${header} <==`);
    }
    expect(output).toContain('-A INPUT -p tcp -m tcp --dport 5672 -j DROP');
    expect(output).toMatch(/^firewall-cmd: not installed$/m);
    expect(output).toMatch(/^ufw: not installed$/m);
  });

  it('selinux: absent tools are evidence, not failures', async () => {
    const { code, output } = await runIn(NS_BARE, step(supervisor(), 'selinux'));
    expect(code).toBe(0);
    expect(output).toMatch(/^sestatus: not installed$/m);
    expect(output).toMatch(/^getsebool: not installed$/m);
    expect(output).toMatch(/^ausearch: not installed$/m);
  });

  it('resources: memory, disk, kernel OOM lines, open files', async () => {
    const { output } = await runIn(NS_HOST, step(supervisor(), 'resources'));
    expect(output).toMatch(/^Mem: +\d+/m);
    expect(output).toMatch(/^Filesystem +Size +Used +Avail +Use% +Mounted on$/m);
    expect(output).toMatch(/^Filesystem +Inodes +IUsed +IFree +IUse% +Mounted on$/m);
    expect(output).toMatch(/^==> (dmesg -T|journalctl -k|grep) .*<==$|^dmesg: not permitted$/m);
    expect(output).toMatch(/^==> ulimit -n <==\n\d+$/m);
    expect(output).toContain('==> open files of docservice and converter <==');
    for (const line of output.split('\n').filter((candidate) => candidate.startsWith('open_files '))) {
      expect(line).toMatch(/^open_files (docservice|converter) pid \d+ open \d+ soft \S+ hard \S+$/);
    }
  });

  it('dependencies: open, closed and timeout, in the contract format', async () => {
    const expected = [
      'dependency postgres 127.0.0.1:5432 closed',
      'dependency rabbitmq 127.0.0.1:5672 timeout',
      'dependency redis 127.0.0.1:6379 open',
    ];
    const plain = await runIn(NS_HOST, step(supervisor(), 'dependencies'));
    expect(plain.output.trim().split('\n')).toEqual(expected);
    const inContainer = await runIn(NS_HOST, step(docker(), 'dependencies'), { path: `${fakeBin}:${SYSTEM_PATH}` });
    expect(inContainer.output.trim().split('\n')).toEqual(expected);
    // Through real sudo, as on a host with `sudo: true`.
    const sudo = await runIn(NS_HOST, step(planSteps(runbook, { ...targets.supervisor, sudo: true }), 'dependencies'));
    expect(sudo.output.trim().split('\n')).toEqual(expected);
  });

  it('dependencies: reads the hosts and ports docservice is configured with', async () => {
    const conf = path.join(work, 'ds-conf');
    await mkdir(conf, { recursive: true });
    await writeFile(path.join(conf, 'local.json'), LOCAL_JSON);
    // Point the script at a test copy of /etc/onlyoffice/documentserver; nothing else changes.
    const command = step(supervisor(), 'dependencies').replace('conf=/etc/onlyoffice/documentserver', `conf=${conf}`);
    expect(command).toContain(`conf=${conf}`);
    const { output } = await runIn(NS_HOST, command);
    expect(output.trim().split('\n')).toEqual([
      'dependency postgres 127.0.0.1:5433 closed',
      'dependency rabbitmq 127.0.0.1:5673 closed',
      'dependency redis 127.0.0.1:6379 open',
    ]);
  });

  it('http_probe: status codes and times, with curl and with wget', async () => {
    const probes = /^probe (\S+) (\S+) (\d{3}) ([\d.]+)( .+)?$/;
    const expectCodes = (output: string) => {
      const lines = output.trim().split('\n');
      for (const line of lines) expect(line).toMatch(probes);
      expect(lines.map((line) => line.split(' ').slice(1, 4).join(' '))).toEqual([
        'docservice http://127.0.0.1:8000/healthcheck 200',
        'nginx http://127.0.0.1/healthcheck 200',
        'nginx_root http://127.0.0.1/ 200',
        'example http://127.0.0.1/example/ 502',
      ]);
    };
    expectCodes((await runIn(NS_HOST, step(supervisor(), 'http_probe'))).output);
    expectCodes((await runIn(NS_HOST, step(supervisor(), 'http_probe'), { path: noCurlBin })).output);
    expectCodes((await runIn(NS_HOST, step(docker(), 'http_probe'), { path: `${fakeBin}:${SYSTEM_PATH}` })).output);

    const down = await runIn(NS_BARE, step(supervisor(), 'http_probe'));
    expect(down.output).toMatch(/^probe docservice http:\/\/127\.0\.0\.1:8000\/healthcheck 000 [\d.]+ curl: \(7\) .+$/m);
    const downWget = await runIn(NS_BARE, step(supervisor(), 'http_probe'), { path: noCurlBin });
    expect(downWget.output).toMatch(/^probe docservice http:\/\/127\.0\.0\.1:8000\/healthcheck 000 [\d.]+ wget: .+$/m);
  });

  it('dns: resolves the upstream names nginx uses, and only those', async () => {
    const expected = ['resolve backend.invalid unresolved', 'resolve localhost 127.0.0.1'];
    const nginxT = path.join(work, 'nginx-t-bin');
    const plain = await runIn(NS_BARE, step(supervisor(), 'dns'), { path: `${nginxT}:${SYSTEM_PATH}` });
    expect(plain.output.split('\n').filter((line) => line.startsWith('resolve '))).toEqual(expected);
    const inContainer = await runIn(NS_BARE, step(docker(), 'dns'), { path: `${fakeBin}:${nginxT}:${SYSTEM_PATH}` });
    expect(inContainer.output.split('\n').filter((line) => line.startsWith('resolve '))).toEqual(expected);
  });

  it('docker commands fail loudly for another container', async () => {
    const other = planSteps(runbook, { ...targets.docker, container: 'not-it' });
    const { output } = await runIn(NS_BARE, step(other, 'nginx_error_log'), { path: `${fakeBin}:${SYSTEM_PATH}` });
    expect(output).toContain('No such container: not-it');
  });

  describe.each(['raise_proxy_buffers', 'raise_proxy_timeouts'])('%s on a copy of this machine\'s nginx', (id) => {
    it.each(['supervisor', 'docker'] as const)('applies, is idempotent, refuses a broken result and rolls back (%s)', async (manager) => {
      const plan = planRemediation(runbook, id, targets[manager]);
      const name = id === 'raise_proxy_buffers' ? 'oo-responder-proxy-buffers.conf' : 'oo-responder-proxy-timeouts.conf';
      const directive = id === 'raise_proxy_buffers' ? 'proxy_buffer_size' : 'proxy_read_timeout';
      // A valid operator setting of the same directive (8k keeps the default busy-buffers rule satisfied).
      const previousLine = directive === 'proxy_buffer_size' ? 'proxy_buffer_size 8k;' : 'proxy_read_timeout 30s;';
      const root = await mkdtemp(path.join(work, 'fix-'));
      await cp('/etc/nginx', path.join(root, 'etc-nginx'), { recursive: true, verbatimSymlinks: true });
      await mkdir(path.join(root, 'log'));
      // A private mount namespace: this nginx sees the copy at /etc/nginx and fresh /run and /var/lib.
      // A private mount namespace: this nginx sees the copy at /etc/nginx and fresh /run and /var/lib.
      const script = `
        set -u
        mount --bind "$ROOT/etc-nginx" /etc/nginx
        mount --bind "$ROOT/log" /var/log/nginx
        mount -t tmpfs tmpfs /run
        mount -t tmpfs tmpfs /var/lib
        mkdir -p /var/lib/nginx
        stop_nginx() {
          pid=$(cat /run/nginx.pid 2>/dev/null)
          [ -n "$pid" ] || return 0
          kill -QUIT "$pid" 2>/dev/null
          i=0; while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
          kill -9 "$pid" 2>/dev/null; return 0
        }
        trap stop_nginx EXIT
        f=/etc/nginx/conf.d/$NAME
        sh -c "$PRECHECK" >/dev/null 2>&1 || { echo "precheck failed"; nginx -t; exit 1; }
        nginx || exit 1
        apply() { printf '%s' "$STDIN" | sh -c "$APPLY" >/dev/null 2>&1; echo "apply rc=$?"; }
        rollback() { sh -c "$ROLLBACK" >/dev/null 2>&1; echo "rollback rc=$?"; }
        state() { if [ -e "$f" ]; then echo "file: $(grep -v '^#' "$f" | head -n 1)"; else echo "file: absent"; fi; }
        echo "== fresh"; apply; state; nginx -T 2>/dev/null | grep -c "^$DIRECTIVE "; apply; state
        echo "== rollback"; rollback; state
        echo "== previous"; printf '# kept\\n%s\\n' "$PREVIOUS" > "$f"
        apply; state; rollback; state; rm -f "$f"
        echo "== broken"; printf '%s\\n' "$DUPLICATE" > /etc/nginx/conf.d/zz-duplicate.conf
        apply; state; rm -f /etc/nginx/conf.d/zz-duplicate.conf
      `;
      const { output } = await runIn(NS_FIX, 'exec unshare --mount --propagation private sh -c "$FIX_SCRIPT"', {
        path: manager === 'docker' ? `${fakeBin}:${SYSTEM_PATH}` : SYSTEM_PATH,
        env: {
          FIX_SCRIPT: script,
          ROOT: root,
          NAME: name,
          DIRECTIVE: directive,
          PREVIOUS: previousLine,
          // The same directive twice at http level: nginx -t fails with the drop-in in place.
          DUPLICATE: directive === 'proxy_buffer_size' ? 'proxy_buffer_size 8k;' : 'proxy_read_timeout 5s;',
          STDIN: plan.stdin ?? '',
          APPLY: plan.command.command,
          ROLLBACK: plan.rollback?.command ?? 'false',
          PRECHECK: plan.precheck?.command ?? 'false',
        },
      });
      const firstLine = plan.stdin!.split('\n').find((line) => line && !line.startsWith('#'))!;
      expect(output.trim().split('\n')).toEqual([
        '== fresh',
        'apply rc=0',
        `file: ${firstLine}`,
        '1',
        'apply rc=0',
        `file: ${firstLine}`,
        '== rollback',
        'rollback rc=0',
        'file: absent',
        '== previous',
        'apply rc=0',
        `file: ${firstLine}`,
        'rollback rc=0',
        `file: ${previousLine}`,
        '== broken',
        'apply rc=1',
        'file: absent',
      ]);
    });
  });
});
