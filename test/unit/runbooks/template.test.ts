import { execFileSync } from 'node:child_process';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { renderCommand, shellQuote, TemplateError, templateProblems } from '../../../src/runbooks/index.js';

/** What `sh` makes of a command: its argv printed one per line, bracketed. */
function shellWords(command: string): string {
  return execFileSync('sh', ['-c', `for w in ${command}; do printf '[%s]\\n' "$w"; done`], { encoding: 'utf8' });
}

describe('shellQuote', () => {
  it('makes any string one literal word for sh', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 40 }).filter((s) => !s.includes('\0')), (value) => {
        const printed = execFileSync('sh', ['-c', `printf '%s' ${shellQuote(value)}`], { encoding: 'utf8' });
        expect(printed).toBe(value);
      }),
      { numRuns: 60 },
    );
  });

  it('escapes embedded single quotes', () => {
    expect(shellQuote(`it's`)).toBe(`'it'\\''s'`);
  });
});

describe('renderCommand', () => {
  it('inserts validated values shell-quoted', () => {
    expect(renderCommand('docker exec {{container}} tail -n {{logLines}} /var/log/x', { container: 'onlyoffice', logLines: 50 })).toBe(
      "docker exec 'onlyoffice' tail -n '50' /var/log/x",
    );
    expect(renderCommand('tail -n {{ logLines }} f', { logLines: 5 })).toBe("tail -n '5' f");
  });

  it('rejects container names that are not names, whatever they try', () => {
    for (const container of ['x; rm -rf /', '$(id)', '`id`', 'a b', "o'neil", '-rm', '', 'x\nid', 'a'.repeat(129)]) {
      expect(() => renderCommand('docker exec {{container}} true', { container }), container).toThrow(TemplateError);
    }
    expect(() => renderCommand('docker exec {{container}} true', { container: '$(id)' })).toThrow(/bad value for \{\{container\}\}/);
  });

  it('rejects log line counts out of range or not integers', () => {
    for (const logLines of [0, -1, 1.5, 10_001, Number.NaN]) {
      expect(() => renderCommand('tail -n {{logLines}} f', { logLines })).toThrow(TemplateError);
    }
  });

  it('rejects unknown placeholders and missing values', () => {
    expect(() => renderCommand('echo {{user}}', {})).toThrow(/unknown placeholder \{\{user\}\}/);
    expect(() => renderCommand('docker exec {{container}} true', {})).toThrow(/needs \{\{container\}\}/);
  });

  it('keeps docker Go templates as fixed text', () => {
    const template = "docker inspect --format '{{json .State}} {{.RestartCount}}' {{container}}";
    expect(templateProblems(template)).toEqual([]);
    expect(renderCommand(template, { container: 'oo' })).toBe("docker inspect --format '{{json .State}} {{.RestartCount}}' 'oo'");
  });

  it('a rendered value stays one word even in odd positions', () => {
    expect(shellWords(renderCommand('a {{container}}b c', { container: 'x.y_z-1' }))).toBe('[a]\n[x.y_z-1b]\n[c]\n');
  });
});

describe('templateProblems', () => {
  it('refuses placeholders inside quotes, where quoting would break', () => {
    expect(templateProblems("sh -c 'tail -n {{logLines}} f'")).toEqual([
      'placeholder {{logLines}} is inside single quotes; put it outside any quotes',
    ]);
    expect(templateProblems('echo "{{container}}"')[0]).toMatch(/inside double quotes/);
    expect(templateProblems('echo "$(tail -n {{logLines}} f)"')).toEqual([]);
    expect(templateProblems("sh -c 'tail -n \"$1\" f' sh {{logLines}}")).toEqual([]);
  });

  it('follows escapes and comments', () => {
    expect(templateProblems("echo \\' {{logLines}}")).toEqual([]);
    expect(templateProblems("# don't worry\ntail -n {{logLines}} f")).toEqual([]);
  });

  it('reports unbalanced quoting', () => {
    expect(templateProblems("echo 'open")).toEqual(["unterminated ' quote"]);
    expect(templateProblems('echo "open')).toEqual(['unterminated " quote']);
    expect(templateProblems('echo $(date')).toEqual(['unbalanced $( … )']);
  });
});
