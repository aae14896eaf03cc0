import { parseDetect } from '../../../src/diagnosis/parsers/index.js';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { YamlFileError } from '../../../src/config/index.js';
import {
  bindRunbook,
  fixMatches,
  loadRunbooks,
  parseRunbook,
  planDetect,
  planRemediation,
  planSteps,
  remediationsFor,
  RunbookError,
  wrapSudo,
} from '../../../src/runbooks/index.js';

const FILE = 'runbooks/test.yaml';

// Line numbers matter below: the tests break lines of this text and expect errors there.
const MINIMAL = `id: test
title: Test
description: A small runbook
detect:
  command: echo manager=supervisor
steps:
  - id: ports
    title: Ports
    sudo: true
    command: ss -ltnp
  - id: nginx_error_log
    title: nginx log
    command:
      systemd: tail -n {{logLines}} /var/log/nginx/error.log
      supervisor: tail -n {{logLines}} /var/log/nginx/error.log
      docker: docker exec {{container}} tail -n {{logLines}} /var/log/nginx/error.log
remediations:
  - id: restart_docservice
    title: Restart docservice
    risk: medium
    fixes:
      - { cause: backend_down, subject: docservice }
    precheck: nginx -t
    command:
      supervisor: supervisorctl restart ds:docservice
      docker: docker exec {{container}} supervisorctl restart ds:docservice
    rollback:
      supervisor: supervisorctl stop ds:docservice
      docker: docker exec {{container}} supervisorctl stop ds:docservice
    stdin: "fixed text\\n"
    verify: { steps: [ports] }
`;

function runbookError(text: string): RunbookError {
  try {
    parseRunbook(text, FILE);
  } catch (error) {
    expect(error).toBeInstanceOf(RunbookError);
    expect(error).toBeInstanceOf(YamlFileError);
    return error as RunbookError;
  }
  throw new Error('expected a RunbookError');
}

describe('runbook schema', () => {
  it('accepts a valid runbook and fills defaults', () => {
    const runbook = parseRunbook(MINIMAL, FILE);
    expect(runbook.file).toBe(FILE);
    expect(runbook.steps[0]).toMatchObject({ id: 'ports', timeoutMs: 30_000, maxOutputBytes: 65_536, sudo: true });
    expect(runbook.remediations[0]).toMatchObject({ sudo: true, timeoutMs: 120_000 });
  });

  it.each([
    ['an unknown evidence key', ['id: ports', 'id: port'], 7, 'steps[0].id'],
    ['an unknown placeholder', ['ss -ltnp', 'ss -ltnp {{user}}'], 10, 'steps[0].command'],
    ['a quoted placeholder', ['supervisor: tail -n {{logLines}}', "supervisor: sh -c 'tail -n {{logLines}}'"], 15, 'steps[1].command.supervisor'],
    ['a step map without a manager', ['      docker: docker exec {{container}} tail -n {{logLines}} /var/log/nginx/error.log\n', ''], 13, 'steps[1].command.docker'],
    ['a misspelt manager', ['      systemd: tail', '      sytemd: tail'], 14, 'steps[1].command.sytemd'],
    ['an unknown cause id', ['cause: backend_down', 'cause: backend_dead'], 22, 'remediations[0].fixes[0].cause'],
    ['a bad risk', ['risk: medium', 'risk: severe'], 20, 'remediations[0].risk'],
    ['a verify step the runbook lacks', ['steps: [ports]', 'steps: [ports, dns]'], 31, 'remediations[0].verify.steps[1]'],
    ['a rollback that misses a manager of the command', ['      supervisor: supervisorctl stop ds:docservice\n', ''], 27, 'remediations[0].rollback'],
    ['a string timeout', ['    sudo: true\n    command: ss', '    sudo: true\n    timeoutMs: soon\n    command: ss'], 10, 'steps[0].timeoutMs'],
    ['an unknown key', ['    title: Ports', '    title: Ports\n    shell: bash'], 9, 'steps[0].shell'],
  ])('rejects %s with file:line and field', (_what, [from, to], line, field) => {
    expect(MINIMAL.includes(from!)).toBe(true);
    const error = runbookError(MINIMAL.replace(from!, to!));
    expect(error.problems.find((problem) => problem.field === field)).toMatchObject({ file: FILE, line });
    expect(error.message).toContain(`${FILE}:${line}:`);
  });

  it('rejects a step listed twice', () => {
    const text = MINIMAL.replace('  - id: nginx_error_log', '  - id: ports');
    expect(runbookError(text)).toMatchObject({ line: 11, field: 'steps[1].id' });
  });

  it('reports YAML syntax errors with their position', () => {
    const error = runbookError('id: x\nsteps: [\n');
    expect(error.line).toBeGreaterThan(0);
    expect(error.message).toContain('YAML syntax error');
  });
});

describe('loadRunbooks', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'oo-runbooks-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('loads every yaml file in name order', async () => {
    await writeFile(path.join(dir, 'b.yaml'), MINIMAL.replace('id: test', 'id: second'));
    await writeFile(path.join(dir, 'a.yml'), MINIMAL);
    await writeFile(path.join(dir, 'notes.txt'), 'not a runbook');
    expect((await loadRunbooks(dir)).map((runbook) => runbook.id)).toEqual(['test', 'second']);
  });

  it('reports the problems of every file together, and duplicate ids', async () => {
    await writeFile(path.join(dir, 'a.yaml'), MINIMAL);
    await writeFile(path.join(dir, 'b.yaml'), MINIMAL);
    await writeFile(path.join(dir, 'c.yaml'), MINIMAL.replace('risk: medium', 'risk: huge'));
    const error = await loadRunbooks(dir).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(RunbookError);
    const problems = (error as RunbookError).problems.map((problem) => `${path.basename(problem.file)}:${problem.line} ${problem.field}`);
    expect(problems.sort()).toEqual(['b.yaml:1 id', 'c.yaml:20 remediations[0].risk']);
  });
});

describe('planning', () => {
  const runbook = parseRunbook(MINIMAL, FILE);

  it('wraps sudo steps on sudo hosts only', () => {
    const [ports, log] = planSteps(runbook, { processManager: 'supervisor', sudo: true, logLines: 7 });
    expect(ports).toEqual({ id: 'ports', title: 'Ports', command: "sudo -n sh -c 'ss -ltnp'", timeoutMs: 30_000, maxOutputBytes: 65_536 });
    expect(log!.command).toBe("tail -n '7' /var/log/nginx/error.log");
    expect(planSteps(runbook, { processManager: 'supervisor', sudo: false })[0]!.command).toBe('ss -ltnp');
  });

  it('sudo quoting survives the command quotes of the docker form', () => {
    const [, log] = planSteps(runbook, { processManager: 'docker', sudo: true, container: 'onlyoffice' });
    expect(log!.command).toBe("docker exec 'onlyoffice' tail -n '200' /var/log/nginx/error.log");
    expect(wrapSudo("docker exec 'oo' true")).toBe(`sudo -n sh -c 'docker exec '\\''oo'\\'' true'`);
  });

  it('needs a valid container for the docker manager', () => {
    expect(() => planSteps(runbook, { processManager: 'docker', sudo: false })).toThrow(/needs \{\{container\}\}/);
    expect(() => planSteps(runbook, { processManager: 'docker', sudo: false, container: '$(id)' })).toThrow(/container/);
  });

  it('plans a remediation with precheck, rollback, stdin and verify', () => {
    const plan = planRemediation(runbook, 'restart_docservice', { processManager: 'docker', sudo: true, container: 'oo' });
    const common = { timeoutMs: 120_000, maxOutputBytes: 65_536 };
    expect(plan).toEqual({
      id: 'restart_docservice',
      title: 'Restart docservice',
      risk: 'medium',
      fixes: [{ cause: 'backend_down', subject: 'docservice' }],
      precheck: { id: 'restart_docservice:precheck', title: 'Check before: Restart docservice', command: "sudo -n sh -c 'nginx -t'", ...common },
      command: {
        id: 'restart_docservice',
        title: 'Restart docservice',
        command: `sudo -n sh -c 'docker exec '\\''oo'\\'' supervisorctl restart ds:docservice'`,
        ...common,
      },
      rollback: {
        id: 'restart_docservice:rollback',
        title: 'Roll back: Restart docservice',
        command: `sudo -n sh -c 'docker exec '\\''oo'\\'' supervisorctl stop ds:docservice'`,
        ...common,
      },
      stdin: 'fixed text\n',
      verify: [{ id: 'ports', title: 'Ports', command: "sudo -n sh -c 'ss -ltnp'", timeoutMs: 30_000, maxOutputBytes: 65_536 }],
      verifyTimeoutMs: 30_000,
    });
  });

  it('binds a runbook to the shape the engine takes', () => {
    const bound = bindRunbook(runbook, { logLines: 3 });
    expect(bound.detect.command).toBe('echo manager=supervisor');
    expect(bound.plan({ processManager: 'systemd', sudo: false })[1]!.command).toBe("tail -n '3' /var/log/nginx/error.log");
    expect(bound.remediationsFor({ id: 'backend_down', subject: 'docservice' })).toEqual([
      { id: 'restart_docservice', title: 'Restart docservice', risk: 'medium' },
    ]);
    expect(bound.remediationsFor({ id: 'backend_down' }, 'systemd')).toEqual([]);
    expect(bound.planRemediation('restart_docservice', { processManager: 'supervisor', sudo: false }).command.command).toBe(
      'supervisorctl restart ds:docservice',
    );
  });

  it('refuses remediations that are unknown or do not apply to the manager', () => {
    expect(() => planRemediation(runbook, 'nope', { processManager: 'supervisor', sudo: false })).toThrow(/has no remediation "nope"/);
    expect(() => planRemediation(runbook, 'restart_docservice', { processManager: 'systemd', sudo: false })).toThrow(
      /does not apply to systemd/,
    );
  });

  it('matches fixes by cause and subject', () => {
    const fix = { cause: 'backend_down' as const, subject: 'docservice' };
    expect(fixMatches(fix, { id: 'backend_down', subject: 'docservice' })).toBe(true);
    expect(fixMatches(fix, { id: 'backend_down' })).toBe(true);
    expect(fixMatches(fix, { id: 'backend_down', subject: 'converter' })).toBe(false);
    expect(fixMatches({ cause: 'backend_down' }, { id: 'backend_down', subject: 'converter' })).toBe(true);
    expect(fixMatches(fix, { id: 'nginx_down' })).toBe(false);
    expect(remediationsFor(runbook, { id: 'backend_down' }).map((r) => r.id)).toEqual(['restart_docservice']);
    expect(remediationsFor(runbook, { id: 'backend_down' }, 'systemd')).toEqual([]);
  });

  it('plans and reads detection', () => {
    expect(planDetect(runbook, { sudo: true }).command).toBe('echo manager=supervisor');
    expect(parseDetect('manager=systemd\ninstall=rpm\n')).toEqual({ manager: 'systemd', install: 'rpm' });
    expect(parseDetect('manager=launchd\n')).toEqual({});
  });
});
