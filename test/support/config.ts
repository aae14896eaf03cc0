import { expect } from 'vitest';
import { ConfigError, parseConfig } from '../../src/config/index.js';

/** The problems parseConfig names for `text`, as `<line> <field>: <message>`; fails when it accepts it. */
export function configProblems(text: string, file: string): string[] {
  try {
    parseConfig(text, file);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems.map((problem) => `${problem.line} ${problem.field}: ${problem.message}`);
  }
  throw new Error('expected a ConfigError');
}
