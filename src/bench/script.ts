/**
 * The runbook's steps as one shell script, for the tools that run one command per host (ansible's raw
 * module with one joined task, parallel-ssh) and for the floor (the same script run inside the host
 * without SSH). The steps run concurrently inside the script, at most as many at once as oo-responder
 * runs over one connection, so every variant does the same work in the same shape; only the transport
 * differs. Also the same steps as a playbook of one raw task per step (buildRawTasksPlaybook), for the
 * literal `ansible -m raw` variant. Pure: text in, text out.
 */
import type { EvidenceKey } from '../diagnosis/vocabulary.js';
import { shellQuote } from '../runbooks/index.js';

export interface ScriptStep {
  id: EvidenceKey | string;
  /** Exactly the command oo-responder sends over its channel (sudo wrapping included). */
  command: string;
}

export interface ScriptStepResult {
  id: string;
  exitCode: number;
  /** stdout and stderr as the step printed them (interleaved: the script sends both to one file). */
  output: string;
}

export type ParsedScriptOutput =
  | { ok: true; steps: ScriptStepResult[] }
  | { ok: false; error: string; steps: ScriptStepResult[] };

const STEP_ID_PATTERN = /^[a-z][a-z0-9_]{0,63}$/;
const NONCE_PATTERN = /^[A-Za-z0-9]{8,64}$/;
/** Jinja's delimiters: ansible templates ad-hoc module arguments, so a script holding one is wrapped in raw. */
const JINJA_DELIMITERS = ['{{', '{%', '{#'] as const;

function marker(nonce: string): string {
  return `@@oo-bench ${nonce}`;
}

/** At least one step; plain, distinct ids (they appear unquoted and name the playbook's tasks); a command for each. */
function validateSteps(steps: readonly ScriptStep[]): void {
  if (steps.length === 0) throw new Error('the script needs at least one step');
  const seen = new Set<string>();
  for (const step of steps) {
    if (!STEP_ID_PATTERN.test(step.id)) throw new Error(`step id ${JSON.stringify(step.id)} must match ${STEP_ID_PATTERN}`);
    if (seen.has(step.id)) throw new Error(`step id ${step.id} appears twice`);
    seen.add(step.id);
    if (typeof step.command !== 'string' || step.command.trim() === '') throw new Error(`step ${step.id} has no command`);
  }
}

/**
 * One POSIX sh script that runs the steps in plan order with at most `maxConcurrent` at once, starting
 * the next as soon as one ends (the shape of oo-responder's per-connection session limit: a FIFO
 * semaphore over the steps; here its tokens are lines in a named pipe), then prints each step's output
 * between markers naming the step and its exit status. The nonce keeps a step's own output from being
 * mistaken for a marker. Step ids are restricted to plain names: they appear unquoted.
 *
 * With `sessionPerStep`, each step runs as sshd runs a command it gets over a channel: the login shell
 * (`$SHELL -c`) in a new session (setsid). The kernel's autogroup scheduler shares CPU time between
 * sessions, so this is what makes the floor's steps compete for CPU as oo-responder's channels do.
 */
export function buildStepsScript(
  steps: readonly ScriptStep[],
  nonce: string,
  maxConcurrent: number = steps.length,
  options: { sessionPerStep?: boolean } = {},
): string {
  if (!NONCE_PATTERN.test(nonce)) throw new Error(`script nonce ${JSON.stringify(nonce)} must be 8-64 letters or digits`);
  if (!Number.isInteger(maxConcurrent) || maxConcurrent < 1) throw new Error(`maxConcurrent ${maxConcurrent} must be a positive integer`);
  validateSteps(steps);
  const mark = marker(nonce);
  const slots = Math.min(maxConcurrent, steps.length);
  const lines: string[] = [
    `oo_bench_dir=$(mktemp -d "\${TMPDIR:-/tmp}/oo-bench.XXXXXXXX") || { echo '${mark} setup-failed'; exit 97; }`,
    `mkfifo "$oo_bench_dir/slots" && exec 3<>"$oo_bench_dir/slots" || { echo '${mark} setup-failed'; exit 97; }`,
    `oo_bench_i=0; while [ "$oo_bench_i" -lt ${slots} ]; do echo >&3; oo_bench_i=$((oo_bench_i + 1)); done`,
  ];
  steps.forEach((step, index) => {
    lines.push(
      // Take a slot; the step's subshell gives it back when it exits, however it exits.
      'read -r oo_bench_slot <&3',
      '(',
      `trap 'echo $? >"$oo_bench_dir/${index}.rc"; echo >&3' EXIT`,
      ...(options.sessionPerStep
        ? [`setsid --wait "\${SHELL:-/bin/sh}" -c ${shellQuote(step.command)}`]
        : // The command goes in verbatim, closed by a newline so a trailing comment cannot swallow the
          // `)`; one that sets traps of its own gets a subshell of its own, so it cannot replace ours.
          /\btrap\b/.test(step.command)
          ? ['(', step.command, ')']
          : [step.command]),
      `) >"$oo_bench_dir/${index}" 2>&1 </dev/null &`,
    );
  });
  lines.push('wait', 'exec 3>&-');
  steps.forEach((step, index) => {
    lines.push(
      `oo_bench_rc=; read -r oo_bench_rc <"$oo_bench_dir/${index}.rc"`,
      `printf '%s\\n' '${mark} begin ${step.id}'`,
      `cat "$oo_bench_dir/${index}"`,
      `printf '\\n%s %s\\n' '${mark} end ${step.id}' "$oo_bench_rc"`,
    );
  });
  lines.push('rm -rf "$oo_bench_dir"');
  return `${lines.join('\n')}\n`;
}

/**
 * A command or script as a raw task's argument must carry it (ansible's `-a`, or a playbook's
 * `raw:`): unchanged unless it holds Jinja delimiters, since ansible templates module arguments.
 */
export function ansibleRawArgument(script: string): string {
  if (!JINJA_DELIMITERS.some((delimiter) => script.includes(delimiter))) return script;
  if (script.includes('{% endraw %}')) throw new Error('the script contains "{% endraw %}": ansible would template the rest of it');
  return `{% raw %}${script}{% endraw %}`;
}

export interface RawTask {
  /** The step id: the json callback names each task's results by it. */
  name: string;
  raw: string;
  ignore_errors: true;
}

export interface RawTasksPlay {
  name: string;
  hosts: 'all';
  gather_facts: false;
  tasks: RawTask[];
}

/**
 * The steps as the playbook an operator would write to run them with `ansible -m raw`: one play over
 * every host (default linear strategy, no fact gathering) with one raw task per step, in plan order,
 * each the step's exact command. `ignore_errors` on every task: a step that exits non-zero must not
 * stop its host, as oo-responder runs every step regardless (the outcome check still fails the host).
 */
export function buildRawTasksPlaybook(steps: readonly ScriptStep[]): RawTasksPlay[] {
  validateSteps(steps);
  return [
    {
      name: 'oo-responder diagnosis steps, one raw task each',
      hosts: 'all',
      gather_facts: false,
      tasks: steps.map((step) => ({ name: step.id, raw: ansibleRawArgument(step.command), ignore_errors: true })),
    },
  ];
}

/** Output as the command printed it: a pseudo-terminal (ansible's raw module runs on one) writes every \n as \r\n. */
export function withoutCarriageReturns(text: string): string {
  return text.replace(/\r\n/g, '\n').replace(/\r/g, '');
}

/**
 * Reads the per-step results back from what the script printed. Carriage returns are dropped (ansible's
 * raw module runs the command on a pseudo-terminal, which turns every \n into \r\n). Every expected
 * step must appear, once, with a numeric exit status.
 */
export function parseStepsOutput(text: string, nonce: string, expectedIds: readonly string[]): ParsedScriptOutput {
  const mark = marker(nonce);
  const normalized = withoutCarriageReturns(text);
  const steps: ScriptStepResult[] = [];
  const problems: string[] = [];
  if (normalized.includes(`${mark} setup-failed`)) {
    return { ok: false, error: 'the script could not set up its temporary folder and slots (mktemp -d or mkfifo failed)', steps };
  }
  const beginPattern = new RegExp(`^${escapeRegExp(mark)} begin ([a-z][a-z0-9_]*)$`, 'gm');
  const found = new Map<string, ScriptStepResult>();
  for (let match = beginPattern.exec(normalized); match !== null; match = beginPattern.exec(normalized)) {
    const id = match[1]!;
    const start = match.index + match[0].length + 1;
    const endPattern = new RegExp(`\\n${escapeRegExp(`${mark} end ${id}`)} (\\d+)$`, 'm');
    const rest = normalized.slice(start);
    const end = endPattern.exec(rest);
    if (!end) {
      problems.push(`step ${id}: no end marker`);
      continue;
    }
    if (found.has(id)) {
      problems.push(`step ${id}: printed twice`);
      continue;
    }
    const output = rest.slice(0, end.index).replace(/\n$/, '');
    const result = { id, exitCode: Number(end[1]), output };
    found.set(id, result);
    steps.push(result);
  }
  for (const id of expectedIds) if (!found.has(id)) problems.push(`step ${id}: missing from the output`);
  for (const id of found.keys()) if (!expectedIds.includes(id)) problems.push(`step ${id}: not one of the planned steps`);
  return problems.length > 0 ? { ok: false, error: problems.join('; '), steps } : { ok: true, steps };
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
