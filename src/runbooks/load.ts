import { readFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readYaml, YamlFileError, zodProblems, type YamlProblem } from '../config/yaml-errors.js';
import { runbookSchema, type Runbook } from './schema.js';

/** Any problem with a runbook file: `file`, `line`, `column` and `field` name the first; `problems` all. */
export class RunbookError extends YamlFileError {
  constructor(problems: readonly YamlProblem[]) {
    super(problems);
    this.name = 'RunbookError';
  }
}

export const DEFAULT_RUNBOOK_FILE = 'onlyoffice-502.yaml';

/**
 * The package's runbooks folder. This module sits at src/runbooks/ under vitest and at dist/runbooks/
 * after tsc, two levels below the package root either way.
 */
export function runbooksDir(): string {
  return fileURLToPath(new URL('../../runbooks/', import.meta.url));
}

function validate(text: string, file: string): { runbook?: Runbook; problems: YamlProblem[] } {
  const parsed = readYaml(text, file);
  if (parsed.syntaxProblems.length > 0) return { problems: parsed.syntaxProblems };
  const result = runbookSchema.safeParse(parsed.data ?? {}, { reportInput: true });
  if (!result.success) return { problems: zodProblems(result.error.issues, parsed) };
  return { runbook: { ...result.data, file }, problems: [] };
}

/** Validates one runbook's text. Throws RunbookError naming every problem with file, line and field. */
export function parseRunbook(text: string, file: string): Runbook {
  const { runbook, problems } = validate(text, file);
  if (!runbook) throw new RunbookError(problems);
  return runbook;
}

/** Every `*.yaml` / `*.yml` in the folder, validated; problems of all files are reported together. */
export async function loadRunbooks(dir: string = runbooksDir()): Promise<Runbook[]> {
  const names = (await readdir(dir)).filter((name) => /\.ya?ml$/.test(name)).sort();
  const runbooks: Runbook[] = [];
  const problems: YamlProblem[] = [];
  const ids = new Map<string, string>();
  for (const name of names) {
    const file = path.join(dir, name);
    const result = validate(await readFile(file, 'utf8'), file);
    problems.push(...result.problems);
    if (!result.runbook) continue;
    const other = ids.get(result.runbook.id);
    if (other !== undefined) {
      problems.push({ file, line: 1, column: 1, field: 'id', message: `runbook id "${result.runbook.id}" is also used by ${other}` });
      continue;
    }
    ids.set(result.runbook.id, file);
    runbooks.push(result.runbook);
  }
  if (problems.length > 0) throw new RunbookError(problems);
  return runbooks;
}

let cachedDefault: Runbook | undefined;

/** The ONLYOFFICE 502 runbook shipped with the package (read once). */
export function defaultRunbook(): Runbook {
  if (!cachedDefault) {
    const file = path.join(runbooksDir(), DEFAULT_RUNBOOK_FILE);
    cachedDefault = parseRunbook(readFileSync(file, 'utf8'), file);
  }
  return cachedDefault;
}
