import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { classify } from '../../../src/diagnosis/classify.js';
import * as parsers from '../../../src/diagnosis/parsers/index.js';
import type { Evidence } from '../../../src/diagnosis/types.js';
import { CAUSE_IDS, EVIDENCE_KEYS, VERDICTS } from '../../../src/diagnosis/vocabulary.js';
import { fixture } from './fixtures.js';

/** Fragments of real outputs, so random text also lands near the formats the parsers know. */
const FRAGMENTS = [
  fixture('nginx_error_log/captured-debian12-all-kinds.log'),
  fixture('nginx_config/nginx-T-wrong-port-debian12.txt'),
  fixture('service_status/supervisorctl-backoff-debian12.txt'),
  fixture('service_status/docker-for-linux-761-inspect-running.txt'),
  fixture('firewall/nft-policy-drop-debian12.txt'),
  fixture('firewall/ufw-status-verbose-deny-8000-debian12.txt'),
  fixture('ports/ss-ltnp-nginx-80-debian12.txt'),
  fixture('resources/df-h-full-tmpfs-debian12.txt'),
  fixture('docservice_log/onlyoffice-ynh-103-eaddrinuse-8000.log'),
  'probe docservice http://127.0.0.1:8000/healthcheck 000 0.001 curl: (7) Failed',
  '==> ss -ltnp <==',
  '-----BEGIN',
  '"State": {',
  'upstream docservice {',
  '}}}}{{{{;;;',
];

const mangled = fc
  .tuple(fc.constantFrom(...FRAGMENTS), fc.nat(), fc.nat(), fc.string({ maxLength: 40 }))
  .map(([text, start, length, noise]) => {
    const from = start % (text.length + 1);
    return text.slice(from, from + (length % 400)) + noise;
  });

const text = fc.oneof(fc.string({ maxLength: 300 }), fc.string({ unit: 'binary', maxLength: 200 }), mangled);
const anyValue = fc.oneof(text, fc.integer(), fc.constant(null), fc.constant(undefined), fc.array(fc.string(), { maxLength: 3 }), fc.object({ maxDepth: 1 }));

const evidence = fc.dictionary(fc.constantFrom(...EVIDENCE_KEYS, 'install', 'unknown_key'), anyValue, { maxKeys: 8 }) as fc.Arbitrary<Evidence>;

describe('robustness', () => {
  it('classify never throws and always answers within the vocabulary, citing real lines', () => {
    fc.assert(
      fc.property(evidence, (input) => {
        const result = classify(input);
        expect(VERDICTS).toContain(result.verdict);
        expect(result.verdict === 'fault').toBe(result.causes.length > 0);
        for (const cause of result.causes) {
          expect(CAUSE_IDS).toContain(cause.id);
          for (const line of cause.evidence) {
            const stepText = (input as Record<string, unknown>)[line.step];
            expect(typeof stepText === 'string' && stepText.includes(line.line)).toBe(true);
          }
        }
      }),
      { numRuns: 400 },
    );
  });

  it('every parser returns a value for any input, never throwing', () => {
    const parseFunctions = Object.entries(parsers).filter(([name, value]) => name.startsWith('parse') && typeof value === 'function') as Array<[string, (input: unknown) => unknown]>;
    expect(parseFunctions.length).toBeGreaterThanOrEqual(15);
    fc.assert(
      fc.property(anyValue, (input) => {
        for (const [, parse] of parseFunctions) expect(parse(input)).toBeDefined();
      }),
      { numRuns: 300 },
    );
  });

  // Speed is a benchmark's business (timed unit tests flake on a loaded machine); this proves a large
  // tail is read whole and the citation stays bounded. vitest's test timeout guards against a hang.
  it('handles a large log tail, citing a bounded number of lines', () => {
    const line = fixture('nginx_error_log/documentserver-1598-refused-8000.log').split('\n')[0]!;
    const big = Array.from({ length: 20_000 }, () => line).join('\n');
    const result = classify({ nginx_error_log: big, other: 'x'.repeat(200_000) });
    expect(result.causes[0]!.id).toBe('backend_down');
    expect(result.causes[0]!.evidence.length).toBeLessThanOrEqual(8);
  });
});
