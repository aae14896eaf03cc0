// The fleet benchmark's literal `ansible -m raw` variant without a lab: the playbook of one raw task per
// step (built, written as the benchmark writes it, and read back by ansible's own parser and templar,
// so every command reaches the host exactly as oo-responder sends it), and the reading of the json
// callback's document into per-host outcomes.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { outcomeFromOutputs } from '../../../src/bench/outcome.js';
import { ansibleRawArgument, buildRawTasksPlaybook, buildStepsScript } from '../../../src/bench/script.js';
import {
  ansibleEnvironment,
  ansiblePlaybookArgv,
  ansibleTaskOutcomes,
  missingBenchTools,
  rawTaskOutput,
  writeAnsibleSetup,
  type AnsibleHostResult,
  type FleetContext,
} from '../../../src/bench/tools.js';
import { bindRunbook, defaultRunbook } from '../../../src/runbooks/index.js';

const execFileAsync = promisify(execFile);
const NONCE = 'abc123def456';
const runbook = bindRunbook(defaultRunbook());
const plan = runbook.plan({ processManager: 'supervisor', sudo: true });
const ids: string[] = plan.map((step) => step.id);

/**
 * Reads the playbook with ansible's loader, parses each task's raw argument as ansible-playbook does
 * (ModuleArgsParser: split_args and parse_kv for a free-form module), templates it as the task executor
 * does, and does the same for the joined script as `ansible -m raw -a` carries it.
 */
const CHECK_WITH_ANSIBLE = `
import json, sys
from ansible.parsing.dataloader import DataLoader
from ansible.parsing.mod_args import ModuleArgsParser
from ansible.parsing.splitter import parse_kv
from ansible.template import Templar
loader = DataLoader()
templar = Templar(loader=loader)
plays = loader.load_from_file(sys.argv[1])
tasks = []
for task in plays[0]['tasks']:
    action, args, _ = ModuleArgsParser({'raw': task['raw']}).parse()
    tasks.append({
        'name': task['name'],
        'action': action,
        'ignore_errors': task['ignore_errors'],
        'options': sorted(key for key in args if key != '_raw_params'),
        'command': templar.template(args['_raw_params']),
    })
adhoc = parse_kv(sys.argv[2], check_raw=True)
play = {key: value for key, value in plays[0].items() if key != 'tasks'}
json.dump({'play': play, 'plays': len(plays), 'tasks': tasks, 'adhoc': templar.template(adhoc['_raw_params'])}, sys.stdout)
`;

function context(workDir: string, hosts: string[]): FleetContext {
  return {
    workDir,
    hosts: hosts.map((name, index) => ({ name, address: `10.0.0.${index + 1}` })),
    user: 'oolab',
    identityFile: '/nonexistent/id_ed25519',
    knownHostsFile: '/nonexistent/known_hosts',
    script: buildStepsScript(plan, NONCE, 4),
    floorScript: buildStepsScript(plan, NONCE, 4, { sessionPerStep: true }),
    nonce: NONCE,
    steps: plan,
    expectedIds: ids,
    runbook,
  };
}

type TaskResult = AnsibleHostResult;

/** A json callback document as ansible.posix.json prints it for a linear play. */
function document(tasks: { name: string; hosts: Record<string, TaskResult> }[]): string {
  return `${JSON.stringify({ plays: [{ play: { name: 'p' }, tasks: tasks.map((task) => ({ task: { name: task.name }, hosts: task.hosts })) }], stats: {} }, null, 4)}\n`;
}

/** Every planned task with the same result on every host. */
function allTasks(hosts: string[], result: (id: string, host: string) => TaskResult | undefined) {
  return ids.map((id) => ({
    name: id,
    hosts: Object.fromEntries(hosts.flatMap((host) => {
      const value = result(id, host);
      return value === undefined ? [] : [[host, value]];
    })),
  }));
}

describe('the playbook of one raw task per step', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'oo-bench-ansible-'));
  });

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('is one linear play over every host without facts, a raw task per step in plan order, each ignoring errors', () => {
    const plays = buildRawTasksPlaybook(plan);
    expect(plays).toHaveLength(1);
    expect(plays[0]).toMatchObject({ hosts: 'all', gather_facts: false });
    expect(plays[0]).not.toHaveProperty('strategy');
    expect(plays[0]!.tasks.map((task) => task.name)).toEqual(ids);
    expect(plays[0]!.tasks.map((task) => task.raw)).toEqual(plan.map((step) => ansibleRawArgument(step.command)));
    expect(plays[0]!.tasks.every((task) => task.ignore_errors === true)).toBe(true);
    expect(buildRawTasksPlaybook([{ id: 'ports', command: 'echo {{ x }}' }])[0]!.tasks[0]!.raw).toBe('{% raw %}echo {{ x }}{% endraw %}');
    expect(() => buildRawTasksPlaybook([])).toThrow(/at least one step/);
    expect(() => buildRawTasksPlaybook([{ id: 'a b', command: 'true' }])).toThrow(/step id "a b"/);
    expect(() => buildRawTasksPlaybook([{ id: 'ports', command: '{{ x }} {% endraw %}' }])).toThrow(/endraw/);
  });

  it("reaches ansible with every command exactly as oo-responder sends it (ansible's own parser and templar)", async () => {
    const fleet = context(dir, ['h1']);
    const setup = await writeAnsibleSetup(fleet, 7);
    expect(ansiblePlaybookArgv(setup, 7)).toEqual(['ansible-playbook', '-i', setup.inventory, '-f', '7', setup.playbook]);
    expect(await readFile(setup.config, 'utf8')).toContain('forks = 7');
    const { stdout } = await execFileAsync('/usr/bin/python3', ['-c', CHECK_WITH_ANSIBLE, setup.playbook, ansibleRawArgument(fleet.script)], {
      maxBuffer: 16 * 1024 * 1024,
      env: { ...process.env, ANSIBLE_LOCAL_TEMP: path.join(dir, 'tmp'), ANSIBLE_HOME: path.join(dir, 'home') },
    });
    const read = JSON.parse(stdout) as {
      play: Record<string, unknown>;
      plays: number;
      tasks: { name: string; action: string; ignore_errors: boolean; options: string[]; command: string }[];
      adhoc: string;
    };
    expect(read.plays).toBe(1);
    expect(read.play).toMatchObject({ hosts: 'all', gather_facts: false });
    expect(read.tasks.map((task) => task.name)).toEqual(ids);
    for (const [index, step] of plan.entries()) {
      const task = read.tasks[index]!;
      expect(task.action, step.id).toBe('raw');
      expect(task.ignore_errors, step.id).toBe(true);
      // No word of a command taken for a module option (chdir=, executable= …).
      expect(task.options, step.id).toEqual([]);
      expect(task.command, step.id).toBe(step.command);
    }
    // The joined-script variant's `-a` argument passes the same way.
    expect(read.adhoc).toBe(fleet.script);
  });
});

describe("this machine's Ansible", () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'oo-bench-ansible-run-'));
  });

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('has everything the benchmark needs (the pre-flight finds nothing missing)', async () => {
    expect(await missingBenchTools()).toEqual([]);
  });

  it("runs with the benchmark's ansible.cfg and prints the json document its readers expect", async () => {
    // The benchmark's own configuration, run against this machine (local connection) instead of a lab host.
    const setup = await writeAnsibleSetup(context(dir, ['h1']), 1);
    const { stdout } = await execFileAsync(
      'ansible',
      ['all', '-i', setup.inventory, '-m', 'raw', '-a', 'printf ready', '-e', 'ansible_connection=local'],
      { env: ansibleEnvironment(setup, path.join(dir, 'cp'), 'OO_BENCH_TEST=1'), timeout: 120_000, maxBuffer: 4 * 1024 * 1024 },
    );
    const document = JSON.parse(stdout.slice(stdout.search(/^\{/m))) as { plays: { tasks: { hosts: Record<string, TaskResult> }[] }[] };
    expect(document.plays[0]!.tasks[0]!.hosts.h1).toMatchObject({ rc: 0, stdout: 'ready' });
  });
});

describe("reading the playbook's json output", () => {
  const hosts = ['h1', 'h2'];
  const fleet = context('/nonexistent', hosts);
  const ok = (output: string): TaskResult => ({ rc: 0, stdout: output });

  it.each([
    ['line one\r\nline two\r\n', 'line one\nline two'],
    ['no end', 'no end'],
    ['', ''],
    ['blank line follows\r\n\r\n', 'blank line follows\n'],
  ])("reads a step's output from a raw task's stdout %j as the step printed it", (stdout, output) => {
    expect(rawTaskOutput(stdout)).toBe(output);
  });

  it('turns each task stdout, carriage returns stripped, into the step outputs and classifies them as the other variants do', () => {
    const outputs: Record<string, string> = {
      http_probe: 'probe docservice http://127.0.0.1:8000/healthcheck 000 0.001 curl: (7) Failed to connect\nprobe nginx http://127.0.0.1/healthcheck 502 0.002',
    };
    const text = document(allTasks(hosts, (id) => ok(`${(outputs[id] ?? '').replace(/\n/g, '\r\n')}\r\n`)));
    const parsed = ansibleTaskOutcomes(fleet, text);
    expect(parsed.error).toBeUndefined();
    const expected = outcomeFromOutputs('h1', ids, ids.map((id) => ({ id, exitCode: 0, output: outputs[id] ?? '' })), runbook);
    expect(expected.ok).toBe(true);
    expect(parsed.outcomes).toEqual([expected, { ...expected, host: 'h2' }]);
    // What ansible prints before the document (warnings on stdout) is skipped.
    expect(ansibleTaskOutcomes(fleet, `[WARNING]: something\n${text}`)).toEqual(parsed);
  });

  it('fails a host whose step exited non-zero (ignored by ansible, not by the check)', () => {
    const text = document(allTasks(hosts, (id, host) => (host === 'h2' && id === 'dns' ? { rc: 1, stdout: 'boom\r\n', failed: true, msg: 'non-zero return code' } : ok(''))));
    const [first, second] = ansibleTaskOutcomes(fleet, text).outcomes;
    expect(first!.ok).toBe(true);
    expect(second).toMatchObject({ host: 'h2', ok: false, error: 'dns exited 1' });
  });

  it('fails a host that dropped out of the play, naming the steps it has no result for', () => {
    const unreachableAt = ids.indexOf('ports');
    const text = document(
      allTasks(hosts, (id, host) => {
        if (host !== 'h1' || ids.indexOf(id) < unreachableAt) return ok('');
        return ids.indexOf(id) === unreachableAt ? { unreachable: true, msg: 'Failed to connect to the host via ssh: timeout' } : undefined;
      }),
    );
    const [first, second] = ansibleTaskOutcomes(fleet, text).outcomes;
    expect(first!.ok).toBe(false);
    expect(first!.error).toContain('ports: unreachable: Failed to connect to the host via ssh: timeout');
    expect(first!.error).toContain(`${ids.at(-1)}: ansible reported nothing`);
    expect(second!.ok).toBe(true);
    const noStatus = document(allTasks(hosts, (id) => (id === 'firewall' ? { failed: true, msg: 'the action failed' } : ok(''))));
    expect(ansibleTaskOutcomes(fleet, noStatus).outcomes[0]).toMatchObject({ ok: false, error: 'firewall: no exit status: the action failed' });
  });

  it('reports a play whose tasks are not the planned ones, and output that is not the json document', () => {
    const tasks = allTasks(hosts, () => ok(''));
    const parsed = ansibleTaskOutcomes(fleet, document([tasks[1]!, tasks[0]!, ...tasks.slice(2)]));
    expect(parsed.error).toMatch(/^the play ran tasks \[nginx_error_log, service_status, /);
    expect(ansibleTaskOutcomes(fleet, 'PLAY [all] ***\nfatal').error).toMatch(/could not be parsed/);
    expect(ansibleTaskOutcomes(fleet, document([])).outcomes.every((outcome) => !outcome.ok)).toBe(true);
  });
});
