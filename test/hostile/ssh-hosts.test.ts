// Hosts that answer badly, over real SSH to a real lab host, through the real engine (diagnoseHost with a
// runbook validated by parseRunbook, runners from SshPool): a command that never ends, 100 MB of output,
// binary output, a connection dropped mid-step and a changed host key each end in a finding within the
// step timeouts; nothing hangs, nothing crashes.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { diagnoseHost, type DiagnosisHost } from '../../src/diagnosis/diagnose.js';
import type { Finding } from '../../src/diagnosis/types.js';
import { CAUSE_IDS, VERDICTS } from '../../src/diagnosis/vocabulary.js';
import { Lab, type LabHost } from '../../src/lab/index.js';
import { bindRunbook, parseRunbook, type BoundRunbook } from '../../src/runbooks/index.js';
import { SshPool, type SshTarget } from '../../src/ssh/index.js';

const WRONG_KEY = readFileSync(path.join(import.meta.dirname, '../unit/ssh/fixtures/ed25519.pub'), 'utf8').trim();
const PID_FILE = `/tmp/oo-hostile-session-${process.pid}-${Date.now()}.pid`;

let lab: Lab;
let host: LabHost;
const pools: SshPool[] = [];

beforeAll(async () => {
  lab = await Lab.create();
  host = await lab.addHost({ name: 'hostile-ssh', light: true });
}, 300_000);

afterAll(async () => {
  for (const pool of pools) await pool.close().catch(() => undefined);
  await lab?.destroy();
});

/** A runbook whose steps are the given commands, through the real schema (templates checked). */
function runbookOf(steps: { id: string; command: string; timeoutMs: number; maxOutputBytes?: number }[]): BoundRunbook {
  const yaml = [
    'id: hostile',
    'title: Hostile host behaviour',
    'description: Steps that misbehave on purpose.',
    'detect:',
    '  command: |',
    '    echo manager=supervisor',
    '    echo install=deb',
    'steps:',
    ...steps.flatMap((step) => [
      `  - id: ${step.id}`,
      `    title: ${step.id}`,
      `    timeoutMs: ${step.timeoutMs}`,
      `    maxOutputBytes: ${step.maxOutputBytes ?? 65_536}`,
      '    command: |',
      ...step.command.split('\n').map((line) => `      ${line}`),
    ]),
  ].join('\n');
  return bindRunbook(parseRunbook(yaml, 'hostile.yaml'));
}

function target(overrides: Partial<SshTarget> = {}): SshTarget {
  return { name: host.name, address: host.address, port: host.port, user: host.user, identityFile: host.identityFile, hostKeys: [host.hostKey], ...overrides };
}

function pool(): SshPool {
  const created = new SshPool({ idleTimeoutMs: 0, connectTimeoutMs: 5_000 });
  pools.push(created);
  return created;
}

const HOST: DiagnosisHost = { name: 'hostile-ssh', processManager: 'supervisor', install: 'deb', sudo: false };

function expectWellFormed(finding: Finding): void {
  expect(VERDICTS).toContain(finding.verdict);
  for (const cause of finding.causes) {
    expect(CAUSE_IDS).toContain(cause.id);
    expect(cause.confidence).toBeGreaterThan(0);
    expect(cause.confidence).toBeLessThanOrEqual(1);
  }
  expect(() => JSON.stringify(finding)).not.toThrow();
}

async function timed<T>(work: Promise<T>): Promise<{ value: T; ms: number }> {
  const started = Date.now();
  const value = await work;
  return { value, ms: Date.now() - started };
}

describe('a host that answers badly', () => {
  it('a command that never ends is cut at its timeout and marked timedOut; the other steps still count', async () => {
    const runbook = runbookOf([
      { id: 'service_status', command: 'sleep 3600', timeoutMs: 1_500 },
      { id: 'other', command: 'echo still-here', timeoutMs: 10_000 },
    ]);
    const ssh = pool();
    const { value: finding, ms } = await timed(diagnoseHost(HOST, { runbook, connect: async () => ssh.runner(target()) }));
    expectWellFormed(finding);
    const stuck = finding.steps.find((step) => step.id === 'service_status')!;
    expect(stuck.timedOut).toBe(true);
    expect(stuck.output).toContain('[timed out after');
    expect(finding.steps.find((step) => step.id === 'other')!.output).toBe('still-here');
    // Generous: only proves the one-hour sleep did not hold the diagnosis.
    expect(ms).toBeLessThan(30_000);
    // The connection is still usable after a channel was closed on timeout.
    const again = await ssh.runner(target()).run('echo after', { timeoutMs: 5_000, maxOutputBytes: 1024 });
    expect(again.stdout.trim()).toBe('after');
  }, 60_000);

  it('100 MB of output is capped at maxOutputBytes and flagged truncated', async () => {
    const cap = 256 * 1024;
    const runbook = runbookOf([{ id: 'nginx_error_log', command: 'head -c 104857600 /dev/zero | tr "\\000" "x"', timeoutMs: 60_000, maxOutputBytes: cap }]);
    const before = process.memoryUsage().rss;
    const { value: finding, ms } = await timed(diagnoseHost(HOST, { runbook, connect: async () => pool().runner(target()) }));
    expectWellFormed(finding);
    const step = finding.steps[0]!;
    expect(step.truncated).toBe(true);
    expect(step.output).toContain('[output truncated]');
    expect(Buffer.byteLength(step.output)).toBeLessThan(cap + 1024);
    // Generous bound: the 100 MB were never held in memory.
    expect(process.memoryUsage().rss - before).toBeLessThan(80 * 1024 * 1024);
    expect(ms).toBeLessThan(60_000);
  }, 90_000);

  it('binary output (random bytes, NULs, invalid UTF-8, escape sequences) is a finding, not a crash', async () => {
    const runbook = runbookOf([
      { id: 'nginx_error_log', command: 'head -c 65536 /dev/urandom', timeoutMs: 10_000, maxOutputBytes: 1024 * 1024 },
      { id: 'service_status', command: 'printf "\\033[31mds:docservice\\000\\377\\376 RUNNING\\r\\n\\033]0;title\\007"', timeoutMs: 10_000 },
      { id: 'ports', command: 'head -c 4096 /dev/urandom >&2; exit 3', timeoutMs: 10_000 },
    ]);
    const finding = await diagnoseHost(HOST, { runbook, connect: async () => pool().runner(target()) });
    expectWellFormed(finding);
    expect(finding.steps).toHaveLength(3);
    expect(finding.steps.find((step) => step.id === 'ports')!.exitCode).toBe(3);
    for (const step of finding.steps) expect(typeof step.output).toBe('string');
  }, 60_000);

  it('a connection dropped mid-step (its sshd session killed on the host) ends the step with a record', async () => {
    await host.exec(['rm', '-f', PID_FILE]);
    const runbook = runbookOf([
      // $PPID of the login shell is the sshd process that serves this connection.
      { id: 'service_status', command: `echo $PPID > ${PID_FILE}\nsleep 3600`, timeoutMs: 60_000 },
    ]);
    const ssh = pool();
    const diagnosis = timed(diagnoseHost(HOST, { runbook, connect: async () => ssh.connect(target()) }));
    let pid = '';
    for (let poll = 0; poll < 100 && !/^\d+$/.test(pid); poll++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      pid = (await host.exec(['cat', PID_FILE]).catch(() => ({ stdout: '' }))).stdout.trim();
    }
    expect(pid).toMatch(/^\d+$/);
    const killed = await host.exec(['kill', '-9', pid]);
    expect(killed.code).toBe(0);
    await host.exec(['rm', '-f', PID_FILE]);
    const { value: finding, ms } = await diagnosis;
    expectWellFormed(finding);
    const step = finding.steps[0]!;
    expect(step.exitCode).not.toBe(0);
    expect(step.timedOut).toBeUndefined();
    // Far below the step's 60 s timeout: the drop itself ended the step.
    expect(ms).toBeLessThan(30_000);
    // The pool notices and reconnects for the next command.
    const again = await ssh.runner(target()).run('echo reconnected', { timeoutMs: 10_000, maxOutputBytes: 1024 });
    expect(again.stdout.trim()).toBe('reconnected');
  }, 60_000);

  it('a changed host key makes the host unreachable, naming the presented fingerprint, and runs nothing', async () => {
    let ran = 0;
    const runbook = runbookOf([{ id: 'other', command: 'echo should-not-run', timeoutMs: 5_000 }]);
    const ssh = pool();
    const { value: finding, ms } = await timed(
      diagnoseHost(HOST, {
        runbook,
        connect: async () => {
          const connection = await ssh.connect(target({ hostKeys: [WRONG_KEY] }));
          return { run: (command, options) => ((ran += 1), connection.run(command, options)) };
        },
      }),
    );
    expectWellFormed(finding);
    expect(finding.verdict).toBe('unreachable');
    expect(finding.causes[0]!.id).toBe('host_unreachable');
    expect(finding.error).toContain('CHANGED');
    expect(finding.error).toMatch(/SHA256:[A-Za-z0-9+/]{43}/);
    expect(finding.steps).toEqual([]);
    expect(ran).toBe(0);
    expect(ms).toBeLessThan(20_000);
  }, 40_000);
});
