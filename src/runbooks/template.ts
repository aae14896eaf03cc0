/**
 * Runbook command templates. A command is fixed text written by the runbook's author; the only values
 * ever put into it are the placeholders below, each validated by its schema and inserted shell-quoted.
 * Nothing a user, an alert or a host wrote can reach a command through here.
 */
import { z } from 'zod';
import { CONTAINER_NAME_PATTERN } from '../config/schema.js';

export const PLACEHOLDER_SCHEMAS = {
  /** The ONLYOFFICE container on a Docker host (docker manager). */
  container: z.string().regex(CONTAINER_NAME_PATTERN, {
    message: 'container names match ^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$',
  }),
  /** How many lines of each log a step shows. */
  logLines: z.number().int().min(1).max(10_000),
} as const;

export type PlaceholderName = keyof typeof PLACEHOLDER_SCHEMAS;
export const PLACEHOLDER_NAMES = Object.keys(PLACEHOLDER_SCHEMAS) as PlaceholderName[];
export type TemplateParams = { [K in PlaceholderName]?: z.input<(typeof PLACEHOLDER_SCHEMAS)[K]> };

export const DEFAULT_LOG_LINES = 200;

// Only `{{identifier}}` is a placeholder: Go templates that docker's --format takes (`{{.State}}`,
// `{{json .State}}`) do not match and pass through as the fixed text they are.
const PLACEHOLDER_PATTERN = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;

export class TemplateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TemplateError';
  }
}

/** POSIX shell single quoting: the value becomes one word, with no expansion of any kind. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

export function placeholdersIn(template: string): string[] {
  return scanTemplate(template).uses.map((use) => use.name);
}

type QuoteState = 'none' | 'single' | 'double';

interface PlaceholderUse {
  name: string;
  offset: number;
  length: number;
  /** The quoting the placeholder stands in. */
  quoting: QuoteState;
}

/**
 * Follows POSIX shell quoting through a template (single and double quotes, backslashes, `$( … )` that
 * opens a fresh context even inside double quotes, `#` comments) and records where each placeholder sits.
 */
function scanTemplate(template: string): { uses: PlaceholderUse[]; unbalanced?: string } {
  const uses: PlaceholderUse[] = [];
  const frames: { quoting: QuoteState; parens: number }[] = [{ quoting: 'none', parens: 0 }];
  const placeholderAt = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/y;
  for (let i = 0; i < template.length; i += 1) {
    const frame = frames[frames.length - 1]!;
    placeholderAt.lastIndex = i;
    const placeholder = placeholderAt.exec(template);
    if (placeholder) {
      uses.push({ name: placeholder[1]!, offset: i, length: placeholder[0].length, quoting: frame.quoting });
      i += placeholder[0].length - 1;
      continue;
    }
    const char = template[i]!;
    if (frame.quoting === 'single') {
      if (char === "'") frame.quoting = 'none';
    } else if (char === '\\') {
      i += 1;
    } else if (template.startsWith('$(', i)) {
      frames.push({ quoting: 'none', parens: 1 });
      i += 1;
    } else if (frame.quoting === 'double') {
      if (char === '"') frame.quoting = 'none';
    } else if (char === "'") frame.quoting = 'single';
    else if (char === '"') frame.quoting = 'double';
    else if (char === '#' && (i === 0 || /[\s;&|()]/.test(template[i - 1]!))) {
      // Quotes in a comment mean nothing to the shell; placeholders there are still rendered.
      const end = template.indexOf('\n', i) < 0 ? template.length : template.indexOf('\n', i);
      for (const match of template.slice(i, end).matchAll(PLACEHOLDER_PATTERN)) {
        uses.push({ name: match[1]!, offset: i + match.index, length: match[0].length, quoting: 'none' });
      }
      i = end;
    } else if (frames.length > 1 && char === '(') frame.parens += 1;
    else if (frames.length > 1 && char === ')') {
      frame.parens -= 1;
      if (frame.parens === 0) frames.pop();
    }
  }
  const last = frames[frames.length - 1]!;
  if (frames.length > 1) return { uses, unbalanced: 'unbalanced $( … )' };
  if (last.quoting !== 'none') return { uses, unbalanced: `unterminated ${last.quoting === 'single' ? "'" : '"'} quote` };
  return { uses };
}

/**
 * Problems a template has before any value is known: unknown placeholders, placeholders inside quotes
 * (a quoted value inside the author's quotes would end them and leave the value unquoted) and
 * unbalanced quoting.
 */
export function templateProblems(template: string): string[] {
  const problems: string[] = [];
  const { uses, unbalanced } = scanTemplate(template);
  for (const use of uses) {
    if (!(PLACEHOLDER_NAMES as string[]).includes(use.name)) {
      problems.push(`unknown placeholder {{${use.name}}} (known: ${PLACEHOLDER_NAMES.map((n) => `{{${n}}}`).join(', ')})`);
    } else if (use.quoting !== 'none') {
      problems.push(`placeholder {{${use.name}}} is inside ${use.quoting} quotes; put it outside any quotes`);
    }
  }
  if (unbalanced) problems.push(unbalanced);
  return problems;
}

/** Renders a template: each placeholder's value is validated by its schema, then shell-quoted. */
export function renderCommand(template: string, params: TemplateParams): string {
  const problems = templateProblems(template);
  if (problems.length > 0) throw new TemplateError(`bad command template: ${problems.join('; ')}`);
  const values = new Map<string, string>();
  for (const name of new Set(placeholdersIn(template))) {
    const key = name as PlaceholderName;
    const value = params[key];
    if (value === undefined) throw new TemplateError(`the command needs {{${name}}}, and no value was given`);
    const checked = PLACEHOLDER_SCHEMAS[key].safeParse(value);
    if (!checked.success) {
      throw new TemplateError(`bad value for {{${name}}}: ${checked.error.issues.map((issue) => issue.message).join('; ')}`);
    }
    values.set(name, shellQuote(String(checked.data)));
  }
  let rendered = '';
  let from = 0;
  for (const use of scanTemplate(template).uses) {
    rendered += template.slice(from, use.offset) + values.get(use.name)!;
    from = use.offset + use.length;
  }
  return rendered + template.slice(from);
}
