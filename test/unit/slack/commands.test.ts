import { describe, expect, it } from 'vitest';
import { parseOoCommand } from '../../../src/slack/commands.js';
import { explainText } from '../../../src/slack/explain.js';
import { bindRunbook, defaultRunbook } from '../../../src/runbooks/index.js';

describe('parseOoCommand', () => {
  it('reads every subcommand', () => {
    expect(parseOoCommand('')).toEqual({ ok: true, command: { name: 'help' } });
    expect(parseOoCommand('  Diagnose docs-1 ')).toEqual({ ok: true, command: { name: 'diagnose', target: 'docs-1' } });
    expect(parseOoCommand('status')).toEqual({ ok: true, command: { name: 'status' } });
    expect(parseOoCommand('audit docs-1')).toEqual({ ok: true, command: { name: 'audit', host: 'docs-1' } });
    expect(parseOoCommand('audit')).toEqual({ ok: true, command: { name: 'audit' } });
  });

  it('keeps the line breaks of pasted text for explain', () => {
    expect(parseOoCommand('explain\nline one\n  line two\n')).toEqual({ ok: true, command: { name: 'explain', text: 'line one\n  line two' } });
  });

  it('names what is wrong', () => {
    expect(parseOoCommand('diagnose')).toMatchObject({ ok: false, problem: expect.stringContaining('needs a host or group name') });
    expect(parseOoCommand('diagnose a b')).toMatchObject({ ok: false, problem: expect.stringContaining('takes one host or group name (got 2') });
    expect(parseOoCommand('diagnose ../etc')).toMatchObject({ ok: false, problem: expect.stringContaining('is not a host or group name') });
    expect(parseOoCommand('hosts extra')).toMatchObject({ ok: false, problem: expect.stringContaining('takes no arguments') });
    expect(parseOoCommand('reboot')).toMatchObject({ ok: false, problem: expect.stringContaining('unknown subcommand "reboot"') });
    expect(parseOoCommand(`explain ${'x'.repeat(40_001)}`)).toMatchObject({ ok: false, problem: expect.stringContaining('at most 40000') });
  });
});

describe('explainText', () => {
  it('classifies pasted nginx lines as a cause with its fixes', () => {
    const line =
      '2024/05/14 10:21:33 [error] 1234#1234: *56 upstream timed out (110: Connection timed out) while reading response header from upstream, client: 10.0.0.5, server: , request: "GET /doc HTTP/1.1", upstream: "http://127.0.0.1:8000/doc", host: "docs.example.com"';
    const finding = explainText(line, bindRunbook(defaultRunbook()));
    expect(finding.causes[0]?.id).toBe('upstream_timeout');
    expect(finding.causes[0]?.evidence[0]?.line).toContain('upstream timed out');
  });
});
