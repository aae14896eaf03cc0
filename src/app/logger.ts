// One line of JSON per event on stderr, filtered by LOG_LEVEL. It also serves as Bolt's logger, so
// Bolt's own warnings (a refused signature, an unhandled request) land in the same stream.
import { LogLevel, type Logger as BoltLogger } from '@slack/bolt';
import { redactSecrets } from '../security/redact.js';

const ORDER: Record<LogLevel, number> = {
  [LogLevel.DEBUG]: 10,
  [LogLevel.INFO]: 20,
  [LogLevel.WARN]: 30,
  [LogLevel.ERROR]: 40,
};

export function parseLogLevel(value: string | undefined): LogLevel {
  const text = (value ?? 'info').trim().toLowerCase();
  const level = (Object.values(LogLevel) as string[]).find((candidate) => candidate === text);
  if (!level) throw new Error(`LOG_LEVEL must be one of ${Object.values(LogLevel).join(', ')} (got ${JSON.stringify(value)})`);
  return level as LogLevel;
}

export interface AppLogger extends BoltLogger {
  child(name: string): AppLogger;
}

function describe(value: unknown): string {
  if (value instanceof Error) return value.stack ?? value.message;
  if (typeof value === 'string') return value;
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}

export function createLogger(
  options: { level?: LogLevel; name?: string; write?: (line: string) => void } = {},
): AppLogger {
  let level = options.level ?? LogLevel.INFO;
  let name = options.name ?? 'oo';
  const write = options.write ?? ((line: string) => process.stderr.write(line));
  const log = (at: LogLevel, messages: unknown[]) => {
    if (ORDER[at] < ORDER[level]) return;
    const msg = redactSecrets(messages.map(describe).join(' '));
    write(`${JSON.stringify({ time: new Date().toISOString(), level: at, name, msg })}\n`);
  };
  return {
    debug: (...messages: unknown[]) => log(LogLevel.DEBUG, messages),
    info: (...messages: unknown[]) => log(LogLevel.INFO, messages),
    warn: (...messages: unknown[]) => log(LogLevel.WARN, messages),
    error: (...messages: unknown[]) => log(LogLevel.ERROR, messages),
    setLevel: (next: LogLevel) => {
      level = next;
    },
    getLevel: () => level,
    setName: (next: string) => {
      name = next;
    },
    child: (childName: string) => createLogger({ level, name: `${name}.${childName}`, write }),
  };
}
