// deploy/oo.example.yaml documents every field of oo.yaml. The proof: it parses with the real
// parseConfig, every field path of the zod schema (walked, not listed by hand, so a field added to
// src/config/schema.ts without an example here fails this test) appears in it, and each is commented.
// Fields that exclude each other (redis: url, sentinels, cluster) are shown in alternatives: a top-level
// `x-<section>-<variant>` key (ignored by oo) holding what goes in that section instead; each must
// parse when put in the section's place.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, stringify, type Node } from 'yaml';
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { configSchema, parseConfig } from '../../../src/config/index.js';

const FILE = path.resolve(import.meta.dirname, '../../../deploy/oo.example.yaml');
const text = readFileSync(FILE, 'utf8');

/** A record's key in a path; `[]` is an array's element. */
const ANY = '*';
const SECTIONS = Object.keys((configSchema as unknown as { shape: Record<string, unknown> }).shape);

/** The section an `x-<section>-<variant>` key shows an alternative of, or undefined. */
function alternativeOf(key: string): string | undefined {
  const section = /^x-([A-Za-z]+)-[A-Za-z0-9-]+$/.exec(key)?.[1];
  return section !== undefined && SECTIONS.includes(section) ? section : undefined;
}

/** The example's data, then once more for each alternative, with it in its section's place. */
function variants(): { name: string; data: Record<string, unknown> }[] {
  const data = parseDocument(text, { merge: true }).toJS() as Record<string, unknown>;
  const out = [{ name: 'as written', data }];
  for (const [key, value] of Object.entries(data)) {
    const section = alternativeOf(key);
    if (section) out.push({ name: key, data: { ...data, [section]: value } });
  }
  return out;
}

/**
 * Every path to a field the schema accepts (`hosts.*.address`, `policy.approvers.low`), through the
 * wrappers zod 4 puts around a schema (optional, default, prefault, pipe, …).
 */
export function schemaPaths(schema: z.ZodType, prefix: string[] = [], depth = 0): string[][] {
  if (depth > 20) throw new Error(`schema nested deeper than 20 at ${prefix.join('.')}`);
  const def = (schema as unknown as { _zod: { def: Record<string, unknown> & { type: string } } })._zod.def;
  switch (def.type) {
    case 'object': {
      const shape = def.shape as Record<string, z.ZodType>;
      return Object.entries(shape).flatMap(([key, child]) => [[...prefix, key], ...schemaPaths(child, [...prefix, key], depth + 1)]);
    }
    case 'record':
      return schemaPaths(def.valueType as z.ZodType, [...prefix, ANY], depth + 1);
    case 'array':
      return schemaPaths(def.element as z.ZodType, prefix, depth + 1);
    case 'optional':
    case 'nullable':
    case 'default':
    case 'prefault':
    case 'readonly':
    case 'catch':
      return schemaPaths(def.innerType as z.ZodType, prefix, depth + 1);
    case 'pipe':
      return schemaPaths(def.in as z.ZodType, prefix, depth + 1);
    default:
      return [];
  }
}

/** Whether `data` has a value at `fieldPath`, `*` standing for any key of a mapping. */
function hasPath(data: unknown, fieldPath: readonly string[]): boolean {
  if (fieldPath.length === 0) return data !== undefined;
  // A list of mappings (redis.sentinels): the field is shown when one of its entries has it.
  if (Array.isArray(data)) return data.some((item) => hasPath(item, fieldPath));
  if (typeof data !== 'object' || data === null) return false;
  const [head, ...rest] = fieldPath;
  const record = data as Record<string, unknown>;
  if (head === ANY) return Object.values(record).some((value) => hasPath(value, rest));
  return head! in record && hasPath(record[head!], rest);
}

/**
 * The first written key node at `fieldPath` in the document (not through `<<` merges), with whether
 * it carries a comment: on its own line, on the line above, or on the line above its parent mapping
 * when its value is a flow sequence written on the same line.
 */
function commentedKeys(): Map<string, boolean> {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, merge: true });
  const lines = text.split('\n');
  const commented = (offset: number) => {
    const line = lineCounter.linePos(offset).line; // 1-based
    const own = lines[line - 1] ?? '';
    const above = (lines[line - 2] ?? '').trim();
    return own.includes(' #') || above.startsWith('#');
  };
  const out = new Map<string, boolean>();
  const walk = (node: Node | null | undefined, at: string[]) => {
    if (!isMap(node)) return;
    for (const pair of node.items) {
      if (!isPair(pair) || !isScalar(pair.key)) continue;
      const key = String(pair.key.value);
      if (key === '<<') continue;
      // Keys right under hosts: and groups: are names the operator chose: the schema's `*`.
      const isRecordKey = at.length === 1 && ['hosts', 'groups'].includes(at[0]!);
      const next = [...at, isRecordKey ? ANY : at.length === 0 ? (alternativeOf(key) ?? key) : key];
      const name = next.join('.');
      const ok = commented(pair.key.range?.[0] ?? 0);
      out.set(name, (out.get(name) ?? false) || ok);
      if (isMap(pair.value)) walk(pair.value, next);
      else if (isSeq(pair.value)) for (const item of pair.value.items) walk(item as Node, next);
    }
  };
  walk(doc.contents as Node, []);
  return out;
}

describe('deploy/oo.example.yaml', () => {
  const paths = schemaPaths(configSchema);

  it('parses with the real parseConfig', () => {
    const config = parseConfig(text, FILE);
    expect(Object.keys(config.hosts).length).toBeGreaterThanOrEqual(2);
    expect(config.policy?.channels).toContain(config.slack?.channel);
  });

  it('shows alternatives that parse in their section\'s place', () => {
    const alternatives = variants().slice(1);
    expect(alternatives.map((variant) => variant.name)).toEqual(['x-redis-sentinel', 'x-redis-cluster']);
    for (const { data } of alternatives) expect(() => parseConfig(stringify(data), FILE)).not.toThrow();
  });

  it('the schema walk finds the fields (it is not vacuous)', () => {
    const names = paths.map((p) => p.join('.'));
    for (const known of ['hosts.*.address', 'hosts.*.hostKeys', 'ssh.maxSessionsPerConnection', 'policy.highRisk.allowSelfApproval', 'redis.prefix', 'workers.diagnosisBackoffMs', 'groups']) {
      expect(names).toContain(known);
    }
    // And a path the example lacks is reported.
    expect(hasPath(parseDocument(text, { merge: true }).toJS(), ['hosts', ANY, 'noSuchField'])).toBe(false);
  });

  it('shows every field the schema accepts', () => {
    const all = variants();
    const missing = paths.filter((p) => !all.some(({ data }) => hasPath(data, p))).map((p) => p.join('.'));
    expect(missing).toEqual([]);
  });

  it('comments every field the schema accepts, where it is first written', () => {
    const keys = commentedKeys();
    const uncommented = paths.map((p) => p.join('.')).filter((name) => keys.get(name) !== true);
    expect(uncommented).toEqual([]);
  });

  it('stays valid for oo config check: no REDIS password and no real token in the example', () => {
    expect(text).not.toMatch(/xox[abp]-|xapp-/);
    expect(text).not.toMatch(/redis:\/\/[^\s@]*:[^\s@]*@/);
  });
});
