// Property-based hostility for the pure core, adding to test/unit/diagnosis/robustness.test.ts (which
// feeds the *guarded* parsers and classify arbitrary values) and test/unit/security/redact.test.ts
// (fixed examples, idempotence):
// - every parser module is called *unguarded* (a throw is not hidden by the index's guard) on real
//   fixture lines cut, spliced and salted with hostile text (CR/LF mixes, NUL, RTL overrides, zero-width,
//   emoji, lone surrogates); every `raw` line a parser cites occurs verbatim in its input;
// - classify on the same: causes from CAUSE_IDS, confidences in (0, 1], cited lines in the input;
// - redaction never lets four characters in a row of a generated secret through, in every syntax secrets
//   really appear in (test/support/secret-syntaxes.ts: shell, env output, docker inspect, local.json,
//   YAML in each scalar style, URLs, headers, Slack tokens, PEM keys whole, cut or tail-only, INI, TOML,
//   PHP, Python, .NET, XML, Kubernetes, query strings, nginx, redis.conf, logfmt, JWTs), on its own,
//   through a step record (runStep) and through `/oo explain`'s rendered reply; real evidence lines next
//   to them come out unchanged.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { classify } from '../../src/diagnosis/classify.js';
import { runStep } from '../../src/diagnosis/diagnose.js';
import { parseFirewall } from '../../src/diagnosis/parsers/firewall.js';
import { parseListeners } from '../../src/diagnosis/parsers/listeners.js';
import { parseNginxConfig, parseNginxTest } from '../../src/diagnosis/parsers/nginxConfig.js';
import { parseNginxErrorLine, parseNginxErrorLog } from '../../src/diagnosis/parsers/nginxErrorLog.js';
import { parseDependencies, parseDetect, parseDns, parseHttpProbes, parseSshFailures } from '../../src/diagnosis/parsers/ownFormats.js';
import { parseOomLine, parseOpenFilesLine, parseResources } from '../../src/diagnosis/parsers/resources.js';
import { parseAvcLine, parseSelinux } from '../../src/diagnosis/parsers/selinux.js';
import { parseServiceLog, parseServiceLogLine } from '../../src/diagnosis/parsers/serviceLog.js';
import { parseServiceStatus } from '../../src/diagnosis/parsers/serviceStatus.js';
import { parseNotInstalled, splitSections, stripLogPrefix } from '../../src/diagnosis/parsers/text.js';
import type { Evidence } from '../../src/diagnosis/types.js';
import { CAUSE_IDS, EVIDENCE_KEYS } from '../../src/diagnosis/vocabulary.js';
import { bindRunbook, defaultRunbook } from '../../src/runbooks/index.js';
import { redactSecrets } from '../../src/security/redact.js';
import { explainText, renderExplanation } from '../../src/slack/explain.js';
import { leaks, plantedAmong } from '../support/secret-syntaxes.js';

const FIXTURES = path.join(import.meta.dirname, '../fixtures/real');
const REAL_LINES: string[] = readdirSync(FIXTURES, { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  // Tool output only: the .xml files are supervisord's raw XML-RPC answers, which the runbook turns into
  // supervisorctl lines on the host before any parser sees them.
  .flatMap((dir) =>
    readdirSync(path.join(FIXTURES, dir.name))
      .filter((file) => !file.endsWith('.xml'))
      .map((file) => readFileSync(path.join(FIXTURES, dir.name, file), 'utf8')),
  )
  .flatMap((text) => text.split('\n'))
  .filter((line) => line.trim() !== '');

const HOSTILE = ['\u202E', '\u200B', '\u2066', '\uFEFF', '\u0000', '\r', '\r\n', '\t', '🔥', '\uD800', '\uDFFF', '$(id)', '`id`', '; rm -rf /', '{{x}}', '"', '\\', '==> x <=='];

/** Real lines, cut, repeated and salted with hostile characters, joined with mixed line ends. */
const hostileText = fc
  .array(
    fc.oneof(
      fc.constantFrom(...REAL_LINES),
      fc.tuple(fc.constantFrom(...REAL_LINES), fc.nat(), fc.constantFrom(...HOSTILE)).map(([line, at, salt]) => {
        const cut = at % (line.length + 1);
        return line.slice(0, cut) + salt + line.slice(cut);
      }),
      fc.string({ unit: 'grapheme', maxLength: 60 }),
      fc.string({ unit: 'binary', maxLength: 60 }),
      fc.constantFrom(...HOSTILE),
    ),
    { maxLength: 25 },
  )
  .chain((lines) => fc.tuple(fc.constant(lines), fc.array(fc.constantFrom('\n', '\r\n', '\r', '\n\n'), { minLength: lines.length, maxLength: lines.length })))
  .map(([lines, ends]) => lines.map((line, i) => line + ends[i]!).join(''));

/** Every string under a `raw` key anywhere in a parser's result. */
function rawLines(value: unknown, found: string[] = [], depth = 0): string[] {
  if (depth > 8 || value === null || typeof value !== 'object') return found;
  for (const [key, inner] of Object.entries(value as Record<string, unknown>)) {
    if (key === 'raw' && typeof inner === 'string') found.push(inner);
    else rawLines(inner, found, depth + 1);
  }
  return found;
}

const TEXT_PARSERS: Record<string, (text: string) => unknown> = {
  parseFirewall,
  parseListeners,
  parseNginxConfig,
  parseNginxTest,
  parseNginxErrorLog,
  parseDependencies,
  parseDetect,
  parseDns,
  parseHttpProbes,
  parseSshFailures,
  parseResources,
  parseSelinux,
  parseServiceLog,
  parseServiceStatus,
  parseNotInstalled,
  splitSections,
};
const LINE_PARSERS: Record<string, (line: string) => unknown> = {
  parseNginxErrorLine,
  parseOomLine,
  parseOpenFilesLine,
  parseAvcLine,
  parseServiceLogLine,
  stripLogPrefix,
};

describe('parsers, unguarded, on hostile text', () => {
  it('never throw, and every line they cite occurs verbatim in the input', () => {
    let cited = 0;
    fc.assert(
      fc.property(hostileText, (text) => {
        for (const [name, parse] of Object.entries(TEXT_PARSERS)) {
          let result: unknown;
          expect(() => (result = parse(text)), name).not.toThrow();
          expect(result, name).toBeDefined();
          for (const raw of rawLines(result)) {
            cited += 1;
            expect(text.includes(raw), `${name} cited ${JSON.stringify(raw)}`).toBe(true);
          }
        }
        for (const line of text.split(/\r\n|\r|\n/).slice(0, 30)) {
          for (const [name, parse] of Object.entries(LINE_PARSERS)) {
            let result: unknown;
            expect(() => (result = parse(line)), name).not.toThrow();
            for (const raw of rawLines(result)) expect(line.includes(raw), `${name} cited ${JSON.stringify(raw)}`).toBe(true);
          }
        }
      }),
      { numRuns: 250 },
    );
    // Not vacuous: the real lines in the input are recognised and cited.
    expect(cited).toBeGreaterThan(100);
  });
});

describe('classify on hostile evidence', () => {
  const evidence = fc.dictionary(fc.constantFrom(...EVIDENCE_KEYS), hostileText, { maxKeys: EVIDENCE_KEYS.length }).chain((steps) =>
    fc.option(fc.constantFrom('deb', 'rpm', 'docker', 'unknown'), { nil: undefined }).map((install) => ({ ...steps, ...(install ? { install } : {}) }) as Evidence),
  );

  it('names only causes of the vocabulary, with confidences in (0, 1], citing lines of the input', () => {
    fc.assert(
      fc.property(evidence, (input) => {
        const result = classify(input);
        expect(result.verdict === 'fault').toBe(result.causes.length > 0);
        for (const cause of result.causes) {
          expect(CAUSE_IDS).toContain(cause.id);
          expect(Number.isFinite(cause.confidence)).toBe(true);
          expect(cause.confidence).toBeGreaterThan(0);
          expect(cause.confidence).toBeLessThanOrEqual(1);
          expect(typeof cause.title).toBe('string');
          for (const line of cause.evidence) {
            const stepText = (input as Record<string, string | undefined>)[line.step];
            expect(typeof stepText === 'string' && stepText.includes(line.line), `${cause.id} cited ${JSON.stringify(line)}`).toBe(true);
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});

// --- redaction -----------------------------------------------------------------------------------------

/** Real evidence lines without secrets: they must come out of redaction unchanged, whatever follows them. */
const CLEAN_LINES = REAL_LINES.filter((line) => redactSecrets(line) === line);
const planted = plantedAmong(CLEAN_LINES);

describe('redaction of secrets in realistic contexts', () => {
  it('redactSecrets never lets a run of 4+ characters of a planted secret through, and keeps the evidence around it', () => {
    fc.assert(
      fc.property(planted, ({ planted: { text, ...secrets }, noise }) => {
        // Not vacuous: the secrets stand in the input.
        expect(leaks(text, secrets)).not.toEqual([]);
        const redacted = redactSecrets(text);
        expect(leaks(redacted, secrets)).toEqual([]);
        for (const line of noise) expect(redacted.split('\n')).toContain(line);
      }),
      { numRuns: 500 },
    );
  });

  it('a step that printed secrets records none of them, whatever else it printed', async () => {
    await fc.assert(
      fc.asyncProperty(planted, fc.boolean(), async ({ planted: { text, ...secrets } }, toStderr) => {
        const runner = {
          run: async () => ({ exitCode: 1, stdout: toStderr ? '' : text, stderr: toStderr ? text : '', durationMs: 1, timedOut: false, truncated: false }),
        };
        const record = await runStep(runner, { id: 'other', command: 'cat local.json', timeoutMs: 1000, maxOutputBytes: 65_536 });
        expect(leaks(record.output, secrets)).toEqual([]);
      }),
      { numRuns: 200 },
    );
  });

  it('`/oo explain` of pasted secrets answers without them (text, blocks and cited evidence)', () => {
    const runbook = bindRunbook(defaultRunbook());
    fc.assert(
      fc.property(planted, ({ planted: { text, ...secrets } }) => {
        const finding = explainText(text, runbook);
        const rendered = renderExplanation(finding);
        // Rendering escapes and truncates; checked against the JSON of the finding and the rendered reply.
        expect(leaks(JSON.stringify(finding), secrets)).toEqual([]);
        expect(leaks(`${rendered.text}\n${JSON.stringify(rendered.blocks)}`, secrets)).toEqual([]);
      }),
      { numRuns: 150 },
    );
  });
});
