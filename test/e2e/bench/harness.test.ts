import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';

import { MarkedProcessSampler, killMarked } from '../../../src/bench/memory.js';
import { checkSteps, compareWithReference, failuresOf, type HostOutcome } from '../../../src/bench/outcome.js';
import { evaluateTargets, median, overheadOverFloor, parseFleetArgs, summarizeVariant, tableRows, UsageError, type VariantReport } from '../../../src/bench/report.js';
import { ansibleRawArgument, buildStepsScript, parseStepsOutput } from '../../../src/bench/script.js';
import { bindRunbook, defaultRunbook } from '../../../src/runbooks/index.js';

const NONCE = 'abc123def456';

function runBash(script: string): Promise<{ code: number | null; stdout: string; ms: number }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn('/bin/bash', ['-c', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => (stdout += chunk));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, ms: Date.now() - started }));
  });
}

describe('fleet benchmark arguments', () => {
  it('defaults to 50 hosts and 3 rounds', () => {
    expect(parseFleetArgs([])).toEqual({ hosts: 50, rounds: 3, help: false });
  });

  it('reads every option', () => {
    expect(parseFleetArgs(['--hosts', '10', '--rounds', '5', '--json-out', '/tmp/x.json', '--max-sessions', '9'])).toEqual({
      hosts: 10,
      rounds: 5,
      jsonOut: '/tmp/x.json',
      maxSessions: 9,
      help: false,
    });
  });

  it.each([
    [['--hosts', '0'], /--hosts must be from 1 to 500/],
    [['--hosts', 'ten'], /--hosts must be a whole number/],
    [['--rounds', '51'], /--rounds must be from 1 to 50/],
    [['--max-sessions', '10'], /--max-sessions must be from 1 to 9/],
    [['--json-out', 'out.txt'], /--json-out must name a \.json file/],
    [['--keep-lab'], /keep-lab/],
    [['extra'], /extra/],
  ])('refuses %j, naming the problem', (argv, message) => {
    expect(() => parseFleetArgs(argv)).toThrow(UsageError);
    expect(() => parseFleetArgs(argv)).toThrow(message);
  });
});

describe('the joined steps script', () => {
  it('runs the steps concurrently and brings back each output and exit status', async () => {
    const script = buildStepsScript(
      [
        { id: 'ports', command: 'echo out; echo err >&2; sleep 1' },
        { id: 'firewall', command: 'sleep 1; exit 3' },
        // A last line that is a comment must not swallow the closing parenthesis.
        { id: 'dns', command: "printf 'no newline at the end'\n# a trailing comment" },
        // Output that looks like a marker with another nonce is just output.
        { id: 'selinux', command: "echo '@@oo-bench zzzzzzzzzz end selinux 0'" },
        // A step with an EXIT trap of its own keeps it, and the script still learns its status.
        { id: 'resources', command: "trap 'echo mine' EXIT; exit 5" },
      ],
      NONCE,
    );
    const run = await runBash(script);
    expect(run.code).toBe(0);
    // Two steps sleep 1 s each: run one after the other they would take 2 s.
    expect(run.ms).toBeLessThan(1_700);
    const ids = ['ports', 'firewall', 'dns', 'selinux', 'resources'];
    const parsed = parseStepsOutput(run.stdout, NONCE, ids);
    expect(parsed).toEqual({
      ok: true,
      steps: [
        { id: 'ports', exitCode: 0, output: 'out\nerr' },
        { id: 'firewall', exitCode: 3, output: '' },
        { id: 'dns', exitCode: 0, output: 'no newline at the end' },
        { id: 'selinux', exitCode: 0, output: '@@oo-bench zzzzzzzzzz end selinux 0' },
        { id: 'resources', exitCode: 5, output: 'mine' },
      ],
    });
    // On a pseudo-terminal (ansible raw) every line ends in \r\n.
    expect(parseStepsOutput(run.stdout.replace(/\n/g, '\r\n'), NONCE, ids)).toEqual(parsed);
  });

  it('runs at most maxConcurrent steps at once, starting the next as soon as one ends', async () => {
    // Three 0.6 s steps and a quick one, two at a time: the quick one frees its slot at once, so the
    // three slow ones take two rounds of 0.6 s; one at a time they would take 1.8 s, all at once 0.6 s.
    const steps = [
      { id: 'ports', command: 'sleep 0.6' },
      { id: 'dns', command: 'exit 4' },
      { id: 'firewall', command: 'sleep 0.6' },
      { id: 'selinux', command: 'sleep 0.6; echo done' },
    ];
    const run = await runBash(buildStepsScript(steps, NONCE, 2));
    expect(run.ms).toBeGreaterThanOrEqual(1_150);
    expect(run.ms).toBeLessThan(1_700);
    expect(parseStepsOutput(run.stdout, NONCE, ['ports', 'dns', 'firewall', 'selinux'])).toEqual({
      ok: true,
      steps: [
        { id: 'ports', exitCode: 0, output: '' },
        { id: 'dns', exitCode: 4, output: '' },
        { id: 'firewall', exitCode: 0, output: '' },
        { id: 'selinux', exitCode: 0, output: 'done' },
      ],
    });
  });

  it('runs under a plain POSIX shell too', async () => {
    const script = buildStepsScript([{ id: 'ports', command: 'echo hi; exit 2' }, { id: 'dns', command: 'echo there' }], NONCE, 1);
    const run = await new Promise<string>((resolve, reject) => {
      const child = spawn('/bin/dash', ['-c', script], { stdio: ['ignore', 'pipe', 'inherit'] });
      let stdout = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.once('error', reject);
      child.once('close', (code) => (code === 0 ? resolve(stdout) : reject(new Error(`dash exited ${code}`))));
    });
    expect(parseStepsOutput(run, NONCE, ['ports', 'dns'])).toEqual({
      ok: true,
      steps: [
        { id: 'ports', exitCode: 2, output: 'hi' },
        { id: 'dns', exitCode: 0, output: 'there' },
      ],
    });
  });

  it('runs each step in a session of its own with sessionPerStep, as sshd runs a channel', async () => {
    const steps = [
      { id: 'ports', command: "echo \"$(ps -o sid= -p $$)\"; echo \"it's quoted\"; exit 6" },
      { id: 'dns', command: 'ps -o sid= -p $$' },
    ];
    const run = await new Promise<string>((resolve, reject) => {
      const child = spawn('/bin/bash', ['-c', buildStepsScript(steps, NONCE, 2, { sessionPerStep: true })], {
        env: { ...process.env, SHELL: '/bin/sh' },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let stdout = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.once('error', reject);
      child.once('close', () => resolve(stdout));
    });
    const parsed = parseStepsOutput(run, NONCE, ['ports', 'dns']);
    if (!parsed.ok) throw new Error(parsed.error);
    const [ports, dns] = parsed.steps;
    expect(ports!.exitCode).toBe(6);
    const [session, quoted] = ports!.output.split('\n');
    expect(quoted).toBe("it's quoted");
    // A session id is the pid of the process that started the session: each step its own.
    expect(Number(session)).toBeGreaterThan(0);
    expect(Number(dns!.output.trim())).toBeGreaterThan(0);
    expect(Number(session)).not.toBe(Number(dns!.output.trim()));
    const scriptSession = Number((await runBash('ps -o sid= -p $$')).stdout.trim());
    expect(Number(session)).not.toBe(scriptSession);
  });

  it('reports steps that are missing, unexpected or cut off', () => {
    const mark = `@@oo-bench ${NONCE}`;
    const text = `${mark} begin ports\nx\n${mark} end ports 0\n${mark} begin dns\ncut off`;
    const parsed = parseStepsOutput(text, NONCE, ['ports', 'firewall']);
    expect(parsed.ok).toBe(false);
    expect(parsed.ok ? '' : parsed.error).toBe('step dns: no end marker; step firewall: missing from the output');
    expect(parseStepsOutput('', NONCE, ['ports'])).toMatchObject({ ok: false, error: 'step ports: missing from the output' });
  });

  it('refuses ids and nonces it could not quote safely', () => {
    expect(() => buildStepsScript([{ id: 'a b', command: 'true' }], NONCE)).toThrow(/step id "a b"/);
    expect(() => buildStepsScript([{ id: 'ports', command: 'true' }], 'short')).toThrow(/nonce/);
    expect(() => buildStepsScript([{ id: 'ports', command: 'true' }, { id: 'ports', command: 'true' }], NONCE)).toThrow(/twice/);
    expect(() => buildStepsScript([{ id: 'ports', command: ' ' }], NONCE)).toThrow(/no command/);
    expect(() => buildStepsScript([{ id: 'ports', command: 'true' }], NONCE, 0)).toThrow(/maxConcurrent/);
  });

  it('carries the runbook plan to ansible unchanged, or wrapped in raw when it holds Jinja delimiters', () => {
    const plan = bindRunbook(defaultRunbook()).plan({ processManager: 'supervisor', sudo: true });
    const script = buildStepsScript(plan, NONCE);
    for (const step of plan) expect(script).toContain(step.command);
    const argument = ansibleRawArgument(script);
    expect(argument === script || argument === `{% raw %}${script}{% endraw %}`).toBe(true);
    expect(ansibleRawArgument('echo {{ x }}')).toBe('{% raw %}echo {{ x }}{% endraw %}');
    expect(() => ansibleRawArgument('{{ x }} {% endraw %}')).toThrow(/endraw/);
  });
});

describe('outcomes', () => {
  it('counts a host done only when every planned step exited 0', () => {
    expect(checkSteps(['a', 'b'], [{ id: 'a', exitCode: 0 }, { id: 'b', exitCode: 0 }])).toBeNull();
    expect(checkSteps(['a', 'b', 'c'], [{ id: 'a', exitCode: 1 }, { id: 'b', exitCode: 0, timedOut: true }])).toBe(
      'a exited 1, b timed out, c did not run',
    );
  });

  it('fails a host that classified differently from the floor', () => {
    const reference = new Map<string, HostOutcome>([['h1', { host: 'h1', ok: true, verdict: 'healthy', causes: [] }]]);
    const compared = compareWithReference([{ host: 'h1', ok: true, verdict: 'fault', causes: ['backend_down'] }], reference);
    expect(failuresOf(compared, ['h1', 'h2'])).toEqual(['h1: classified fault [backend_down], the floor healthy []', 'h2: no result']);
  });
});

describe('statistics and targets', () => {
  const variant = (id: VariantReport['id'], wallMs: number, failures: string[] = []): VariantReport =>
    summarizeVariant({ id, label: id, how: '' }, null, [{ round: 1, wallMs, failures, detail: { machineCpuMs: 2 * wallMs } }], null);

  it('takes the median', () => {
    expect(median([])).toBeNull();
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });

  it('passes and fails the targets at their limits, against both Ansible variants, and voids them when a side failed', () => {
    const targets = (variants: VariantReport[]) => evaluateTargets(variants).map((target) => [target.id, target.status]);
    const passing = [variant('oo_fresh', 499), variant('ansible_tasks', 2000), variant('ansible', 1000), variant('oo_pooled', 150), variant('floor', 100)];
    expect(targets(passing)).toEqual([
      ['oo_fresh_vs_ansible_tasks', 'PASS'],
      ['oo_fresh_vs_ansible', 'PASS'],
      ['oo_pooled_vs_floor', 'PASS'],
    ]);
    // Below half the per-command playbook, not below half the joined script: each line says so.
    const split = [variant('oo_fresh', 700), variant('ansible_tasks', 2000), variant('ansible', 1000), variant('oo_pooled', 151), variant('floor', 100)];
    expect(targets(split).map(([, status]) => status)).toEqual(['PASS', 'FAIL', 'FAIL']);
    const failing = [variant('oo_fresh', 500), variant('ansible_tasks', 1000), variant('ansible', 1000), variant('oo_pooled', 151), variant('floor', 100)];
    expect(targets(failing).map(([, status]) => status)).toEqual(['FAIL', 'FAIL', 'FAIL']);
    const voided = [variant('oo_fresh', 100), variant('ansible_tasks', 3000, ['h1: dns exited 1']), variant('ansible', 1000, ['h1: unreachable']), variant('oo_pooled', 100), variant('floor', 100)];
    expect(targets(voided).map(([, status]) => status)).toEqual(['VOID', 'VOID', 'PASS']);
    // A run without the per-command variant cannot judge its line.
    expect(targets(passing.filter((entry) => entry.id !== 'ansible_tasks')).map(([, status]) => status)).toEqual(['VOID', 'PASS', 'PASS']);
    expect(evaluateTargets(passing).map((target) => target.description)).toEqual([
      'oo fresh < 0.5 × Ansible (one raw task per command — `ansible -m raw` as the issue names it)',
      'oo fresh < 0.5 × Ansible (one joined script — the strongest Ansible setup)',
      'oo pooled ≤ 1.5 × floor',
    ]);
  });

  it('says what each variant adds to the floor', () => {
    const overhead = overheadOverFloor([
      variant('oo_fresh', 1200),
      variant('ansible_tasks', 5000),
      variant('ansible', 3000),
      variant('oo_pooled', 950),
      variant('floor', 1000),
    ]);
    expect(overhead.overMs).toEqual({ oo_fresh: 200, ansible_tasks: 4000, ansible: 2000, oo_pooled: -50 });
    expect(overhead.ooFreshOverAnsible).toBeCloseTo(0.1);
    expect(overhead.ooFreshOverAnsibleTasks).toBeCloseTo(0.05);
    expect(overheadOverFloor([variant('oo_fresh', 1200)]).ooFreshOverAnsible).toBeNull();
    expect(overheadOverFloor([variant('oo_fresh', 1200)]).ooFreshOverAnsibleTasks).toBeNull();
  });

  it('shows ratios against both Ansible variants and the floor', () => {
    const rows = tableRows([variant('oo_fresh', 300), variant('ansible_tasks', 2400), variant('ansible', 1200), variant('floor', 200, ['h1: x'])], 2);
    expect(rows[0]).toMatchObject({ wallMs: '300', vsAnsibleTasks: '0.13×', vsAnsible: '0.25×', vsFloor: '1.50×', done: '2/2', rssMiB: 'n/a', cpuMs: '600' });
    expect(rows[1]).toMatchObject({ vsAnsibleTasks: '1.00×', vsAnsible: '2.00×' });
    expect(rows[3]!.done).toBe('FAILED in 1 run(s)');
    expect(tableRows([variant('oo_fresh', 300)], 2)[0]).toMatchObject({ vsAnsibleTasks: '—', vsAnsible: '—' });
  });
});

describe('memory of a marked process tree', () => {
  it('finds every marked process, daemons re-parented to init included, and ends them by pid', async () => {
    const marker = `OO_BENCH_PROC=test-${process.pid}-${Date.now()}`;
    const [name, value] = marker.split('=') as [string, string];
    const sampler = new MarkedProcessSampler(marker, { intervalMs: 10 });
    sampler.start();
    // The shell starts a sleep in a new session and exits at once: like ssh's ControlPersist master,
    // the sleep lives on, re-parented away from the tree that started it.
    const child = spawn('/bin/sh', ['-c', 'setsid sleep 30 >/dev/null 2>&1 & sleep 0.3'], { env: { ...process.env, [name]: value }, stdio: 'ignore' });
    const unmarked = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      await new Promise((resolve) => child.once('exit', resolve));
      await new Promise((resolve) => setTimeout(resolve, 100));
      const memory = sampler.stop();
      expect(memory.processesSeen).toBeGreaterThanOrEqual(2);
      expect(memory.peakRssKiB).toBeGreaterThan(0);
      expect(memory.peakPssKiB).toBeGreaterThan(0);
      const left = sampler.alive();
      expect(left).toHaveLength(1);
      expect(left.map((entry) => entry.pid)).not.toContain(unmarked.pid);
      expect(killMarked(left)).toBe(1);
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(new MarkedProcessSampler(marker).alive()).toEqual([]);
    } finally {
      unmarked.kill('SIGKILL');
      killMarked(new MarkedProcessSampler(marker).alive());
    }
  });

  it('also finds a process by a text in its command line (ssh renames its ControlPersist master)', async () => {
    const text = `/tmp/oo-bench-test-${process.pid}-${Date.now()}`;
    const renamed = spawn(process.execPath, ['-e', 'setTimeout(() => undefined, 30_000)', text], { stdio: 'ignore' });
    try {
      await new Promise((resolve) => setTimeout(resolve, 100));
      const withText = new MarkedProcessSampler('OO_BENCH_PROC=unused-marker', { commandLineText: text }).alive();
      expect(withText.map((entry) => entry.pid)).toEqual([renamed.pid]);
      expect(new MarkedProcessSampler('OO_BENCH_PROC=unused-marker').alive()).toEqual([]);
    } finally {
      renamed.kill('SIGKILL');
    }
  });

  it('refuses a marker that is not NAME=value, or a command-line text that would match too much', () => {
    expect(() => new MarkedProcessSampler('oops')).toThrow(/NAME=value/);
    expect(() => new MarkedProcessSampler('OO_BENCH_PROC=x', { commandLineText: 'ssh' })).toThrow(/at least 8/);
  });
});
