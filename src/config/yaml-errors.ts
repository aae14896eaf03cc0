// One way to turn YAML syntax errors and zod issues into "file:line:col field: problem" lines, shared by
// the inventory (oo.yaml) and the runbooks so that an operator reads the same kind of message for both.
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import type { z } from 'zod';

export interface YamlProblem {
  file: string;
  /** 1-based; 0 when the problem has no position (e.g. the file could not be read). */
  line: number;
  /** 1-based; 0 when the problem has no position. */
  column: number;
  /** Dotted path of the offending field (`hosts.docs-1.port`, `steps[2].command.docker`); '' for the document. */
  field: string;
  message: string;
}

export function formatProblem(problem: YamlProblem): string {
  const where = problem.line > 0 ? `${problem.file}:${problem.line}:${problem.column}` : problem.file;
  return problem.field ? `${where} ${problem.field}: ${problem.message}` : `${where}: ${problem.message}`;
}

/** Base of ConfigError and RunbookError: every problem found in one file, the first one in the fields. */
export class YamlFileError extends Error {
  readonly problems: readonly YamlProblem[];
  readonly file: string;
  readonly line: number;
  readonly column: number;
  readonly field: string;

  constructor(problems: readonly YamlProblem[]) {
    if (problems.length === 0) throw new TypeError('YamlFileError needs at least one problem');
    const sorted = [...problems].sort((a, b) => a.line - b.line || a.column - b.column);
    super(sorted.map(formatProblem).join('\n'));
    this.name = 'YamlFileError';
    this.problems = sorted;
    const first = sorted[0]!;
    this.file = first.file;
    this.line = first.line;
    this.column = first.column;
    this.field = first.field;
  }
}

export function fieldPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else out += out ? `.${String(segment)}` : String(segment);
  }
  return out;
}

export interface ParsedYaml {
  file: string;
  /** The plain data (undefined when the text had syntax errors). */
  data: unknown;
  /** YAML syntax problems; when non-empty, `data` must not be validated. */
  syntaxProblems: YamlProblem[];
  /** Position of the node at `path`; `preferKey` points at the key of a mapping entry rather than its value. */
  locate(path: readonly PropertyKey[], preferKey?: boolean): { line: number; column: number };
  problemAt(path: readonly PropertyKey[], message: string, preferKey?: boolean): YamlProblem;
}

function firstLineOf(message: string): string {
  // yaml's pretty errors append " at line L, column C:" and a code frame; the position is reported separately.
  const cut = message.search(/ at line \d+, column \d+/);
  return (cut >= 0 ? message.slice(0, cut) : message.split('\n')[0] ?? message).trim();
}

export function readYaml(text: string, file: string): ParsedYaml {
  const lineCounter = new LineCounter();
  // `merge` lets inventories share host defaults with `<<: *defaults`, as operators write YAML.
  const doc: Document = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true, merge: true });

  const position = (offset: number | undefined) => {
    if (offset === undefined) return { line: 1, column: 1 };
    const { line, col } = lineCounter.linePos(offset);
    return { line, column: col };
  };

  const locate = (path: readonly PropertyKey[], preferKey = false) => {
    let node: unknown = doc.contents;
    let best: Node | null = isNodeLike(doc.contents) ? (doc.contents as Node) : null;
    let lastKey: Node | null = null;
    let resolved = true;
    for (const segment of path) {
      if (isMap(node)) {
        const pair = node.items.find((item) => isScalar(item.key) && String(item.key.value) === String(segment));
        if (!pair) {
          resolved = false;
          break;
        }
        lastKey = pair.key as Node;
        node = pair.value;
        best = isNodeLike(pair.value) ? (pair.value as Node) : lastKey;
      } else if (isSeq(node) && typeof segment === 'number') {
        const item = node.items[segment];
        if (!isNodeLike(item)) {
          resolved = false;
          break;
        }
        lastKey = null;
        node = item;
        best = item as Node;
      } else {
        resolved = false;
        break;
      }
    }
    // A missing field is reported on the key of the entry that should hold it (e.g. `docs-1:`);
    // a bad value on the value itself, unless the value is a whole block (then on its key).
    let target: Node | null;
    if (!resolved) target = lastKey ?? best;
    else if (preferKey && lastKey) target = lastKey;
    else if (best && !isScalar(best) && lastKey) target = lastKey;
    else target = best;
    return position(target?.range?.[0]);
  };

  const problemAt = (path: readonly PropertyKey[], message: string, preferKey = false): YamlProblem => ({
    file,
    ...locate(path, preferKey),
    field: fieldPath(path),
    message,
  });

  const syntaxProblems: YamlProblem[] = doc.errors.map((error) => {
    const pos = error.linePos?.[0];
    return {
      file,
      line: pos?.line ?? 1,
      column: pos?.col ?? 1,
      field: '',
      message: `YAML syntax error: ${firstLineOf(error.message)}`,
    };
  });

  const data = syntaxProblems.length === 0 ? doc.toJS({ maxAliasCount: 1000 }) : undefined;
  return { file, data, syntaxProblems, locate, problemAt };
}

function isNodeLike(value: unknown): boolean {
  return typeof value === 'object' && value !== null && 'range' in value;
}

type Issue = z.core.$ZodIssue;

/**
 * Zod reports a failed union as one issue holding each branch's issues. The branch whose issues are not
 * "wrong type at the union itself" is the one the author meant (a map given where a map is allowed):
 * report its issues, so a typo inside the map is named instead of "invalid input".
 */
function flattenIssue(issue: Issue): Issue[] {
  if (issue.code !== 'invalid_union' || !('errors' in issue) || issue.errors.length === 0) return [issue];
  const meant = issue.errors.filter(
    (branch) => !branch.some((inner) => inner.code === 'invalid_type' && inner.path.length === 0),
  );
  if (meant.length !== 1) return [issue];
  return meant[0]!.flatMap((inner) =>
    flattenIssue({ ...inner, path: [...issue.path, ...inner.path] } as Issue),
  );
}

function describe(issue: Issue): string {
  switch (issue.code) {
    case 'invalid_type':
      return issue.input === undefined ? `is required (${issue.expected})` : `expected ${issue.expected}, got ${typeName(issue.input)}`;
    case 'invalid_key':
      return `invalid name: ${issue.issues.map((inner) => inner.message).join('; ')}`;
    default:
      return issue.message;
  }
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a map';
  const shown = JSON.stringify(value) ?? String(value);
  return `${typeof value} ${shown.length > 60 ? `${shown.slice(0, 57)}...` : shown}`;
}

export function zodProblems(issues: readonly Issue[], parsed: ParsedYaml): YamlProblem[] {
  const problems: YamlProblem[] = [];
  for (const issue of issues.flatMap(flattenIssue)) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        problems.push(parsed.problemAt([...issue.path, key], `unknown key "${key}"`, true));
      }
    } else if (issue.code === 'invalid_key') {
      problems.push(parsed.problemAt(issue.path, describe(issue), true));
    } else {
      problems.push(parsed.problemAt(issue.path, describe(issue)));
    }
  }
  return problems;
}
