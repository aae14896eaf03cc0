import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { parseServiceStatus } from '../../../src/diagnosis/parsers/serviceStatus.js';
import { Lab, type LabHost } from '../../../src/lab/index.js';
import { defaultRunbook } from '../../../src/runbooks/load.js';
import { planSteps } from '../../../src/runbooks/plan.js';
import { ssh } from './ssh-cli.js';

// The runbook asks supervisord's socket for getAllProcessInfo instead of starting supervisorctl (a
// Python start-up per host). What it prints must be what supervisorctl prints, and when the socket
// will not answer it (authentication configured), supervisorctl itself must still be asked.
const serviceStatus = planSteps(defaultRunbook(), { processManager: 'supervisor', sudo: true }).find((step) => step.id === 'service_status')!;

/** The lines under the `supervisorctl status` header, with uptimes blanked (they tick between two calls). */
function statusSection(output: string): string[] {
  const lines = output.split('\n');
  const start = lines.indexOf('==> supervisorctl status <==');
  const end = lines.findIndex((line, index) => index > start && line.startsWith('==> '));
  return lines.slice(start + 1, end).map((line) => line.replace(/uptime \d+:\d\d:\d\d/, 'uptime X'));
}

const waitFor = async (what: string, check: () => Promise<boolean>) => {
  for (let attempt = 0; attempt < 100; attempt++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`gave up waiting for ${what}`);
};

describe('service_status on a supervisor host, over real SSH', () => {
  let lab: Lab;
  let crashing: LabHost;
  let stopped: LabHost;

  beforeAll(async () => {
    lab = await Lab.create();
    [crashing, stopped] = await Promise.all([
      lab.addHost({ name: 'sv-crash', fault: 'backend_crashloop' }),
      lab.addHost({ name: 'sv-stopped', fault: 'backend_down' }),
    ]);
  }, 120_000);

  afterAll(async () => {
    await lab?.destroy();
  });

  const compare = async (host: LabHost) => {
    const step = await ssh(host, lab.knownHostsFile, serviceStatus.command);
    const ctl = await ssh(host, lab.knownHostsFile, 'sudo -n supervisorctl status');
    expect(step.code).toBe(0);
    return { step: statusSection(step.stdout), ctl: ctl.stdout.trimEnd().split('\n').map((line) => line.replace(/uptime \d+:\d\d:\d\d/, 'uptime X')) };
  };

  it('prints exactly what supervisorctl status prints, for every program state', async () => {
    await waitFor('docservice to give up', async () => (await compare(crashing)).ctl.some((line) => /docservice\s+FATAL/.test(line)));
    for (const host of [crashing, stopped]) {
      const { step, ctl } = await compare(host);
      expect(step).toEqual(ctl);
    }
    const { step } = await compare(crashing);
    const docservice = parseServiceStatus(step.join('\n')).find((status) => status.service === 'docservice');
    expect(docservice).toMatchObject({ source: 'supervisor', state: 'failed' });
  });

  it('falls back to supervisorctl when the socket wants a password', async () => {
    const conf = '/etc/supervisor/supervisord.conf';
    const before = await stopped.exec(['cat', conf]);
    expect(before.code).toBe(0);
    const withAuth = before.stdout
      .replace('[unix_http_server]\n', '[unix_http_server]\nusername=ops\npassword=s3cret-for-the-socket\n')
      .replace('[supervisorctl]\n', '[supervisorctl]\nusername=ops\npassword=s3cret-for-the-socket\n');
    expect(withAuth).not.toBe(before.stdout);
    const write = await stopped.exec(['sh', '-c', `cat > ${conf} && supervisorctl reload`], { stdin: withAuth });
    expect(write.code, write.stderr).toBe(0);
    await waitFor('supervisord to come back with authentication', async () => {
      const status = await stopped.exec(['supervisorctl', 'status']);
      return /ds:converter\s+RUNNING/.test(status.stdout);
    });
    const unauthenticated = await stopped.exec(['curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', '--unix-socket', '/var/run/supervisor.sock', 'http://localhost/RPC2']);
    expect(unauthenticated.stdout).toBe('401');

    const { step, ctl } = await compare(stopped);
    expect(step).toEqual(ctl);
    expect(step.join('\n')).toMatch(/^ds:docservice\s+[A-Z]+\s/m);
  });
});
