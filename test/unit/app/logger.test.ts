// The pino logger: JSON lines with the level's name, secrets redacted in messages (redactSecrets via
// the logMethod hook), in bound fields and in error stacks, credential-named fields censored whatever
// their value, bound ids carried by children, and the level filter.
import { LogLevel } from '@slack/bolt';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/app/logger.js';

const capture = (level?: LogLevel) => {
  const lines: string[] = [];
  const logger = createLogger({ write: (line) => lines.push(line), ...(level ? { level } : {}) });
  const parsed = () => lines.join('').trim().split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>);
  return { logger, lines, parsed };
};

describe('createLogger (pino)', () => {
  it('writes one JSON object per line with time, level name, name and msg', () => {
    const { logger, parsed } = capture();
    logger.info('started', 'on port', 3000);
    const [line] = parsed();
    expect(line).toMatchObject({ level: 'info', name: 'oo', msg: 'started on port 3000', pid: process.pid });
    expect(new Date(line!.time as string).toISOString()).toBe(line!.time);
  });

  it('redacts secrets in messages, errors and bound fields, and censors credential fields', () => {
    const { logger, lines, parsed } = capture();
    const bot = 'xoxb-1111-2222-abcdefghijkl';
    logger.error('slack call failed with', bot, new Error('redis://:hunter2pass@redis:6379 refused; password=s3cr3t'));
    logger.with({ incident: 'am_abc', requestId: 'r1', token: 'plain-token-value', note: 'Authorization: Bearer abc.def.ghi' }).warn('x');
    const raw = lines.join('');
    for (const secret of [bot, 'hunter2pass', 's3cr3t', 'plain-token-value', 'abc.def.ghi']) expect(raw).not.toContain(secret);
    const [first, second] = parsed();
    expect(first!.msg).toContain('[REDACTED]');
    expect(first!.msg).toContain('redis://:[REDACTED]@redis:6379');
    expect(second).toMatchObject({ incident: 'am_abc', requestId: 'r1', token: '[REDACTED]' });
    expect(second!.note).toBe('Authorization: Bearer [REDACTED]');
  });

  it('carries bound ids into children and names children after their parent', () => {
    const { logger, parsed } = capture();
    const incident = logger.with({ incident: 'am_1', requestId: 'req1' });
    incident.child('worker').info('diagnosing');
    incident.with({ slackTs: '1.2' }).info('posted');
    const [a, b] = parsed();
    expect(a).toMatchObject({ name: 'oo.worker', incident: 'am_1', requestId: 'req1', msg: 'diagnosing' });
    expect(b).toMatchObject({ name: 'oo', incident: 'am_1', requestId: 'req1', slackTs: '1.2' });
  });

  it('filters by level and follows setLevel (Bolt calls it)', () => {
    const { logger, parsed } = capture(LogLevel.WARN);
    logger.info('not shown');
    logger.debug('not shown');
    logger.warn('shown');
    expect(logger.getLevel()).toBe(LogLevel.WARN);
    logger.setLevel(LogLevel.DEBUG);
    logger.debug('now shown');
    expect(parsed().map((line) => line.msg)).toEqual(['shown', 'now shown']);
  });
});
