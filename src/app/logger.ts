// One line of JSON per event (pino) on stderr, filtered by LOG_LEVEL. It also serves as Bolt's logger,
// so Bolt's own warnings (a refused signature, an unhandled request) land in the same stream.
//
// Secrets never reach a log line: every message string and every string field goes through
// redactSecrets (the same rules as step outputs and audit entries) in pino's logMethod hook and its
// log/bindings formatters, and fields named like credentials are censored by pino's `redact` paths
// whatever their value looks like. `with({ incident, requestId })` binds the ids that tie the lines of
// one incident together: the alert handler, the job that diagnoses it and the Slack post all log them.
import { LogLevel, type Logger as BoltLogger } from '@slack/bolt';
import { pino, type Logger as PinoLogger } from 'pino';
import { REDACTED, redactSecrets } from '../security/redact.js';

export function parseLogLevel(value: string | undefined): LogLevel {
  const text = (value ?? 'info').trim().toLowerCase();
  const level = (Object.values(LogLevel) as string[]).find((candidate) => candidate === text);
  if (!level) throw new Error(`LOG_LEVEL must be one of ${Object.values(LogLevel).join(', ')} (got ${JSON.stringify(value)})`);
  return level as LogLevel;
}

/** Fields bound to a logger; they appear on every line it writes. */
export type LogFields = Record<string, string | number | boolean | undefined>;

export interface AppLogger extends BoltLogger {
  child(name: string): AppLogger;
  /** A logger whose lines also carry `fields` (e.g. `{ incident, requestId }`). */
  with(fields: LogFields): AppLogger;
}

/**
 * Field names censored whatever their value (pino `redact` paths, one level deep and at the top):
 * the settings' tokens and anything that carries an Authorization header.
 */
export const REDACTED_LOG_PATHS = [
  'token',
  'botToken',
  'appToken',
  'alertToken',
  'signingSecret',
  'password',
  'sentinelPassword',
  'secret',
  'authorization',
  'headers.authorization',
  'headers.cookie',
  '*.token',
  '*.botToken',
  '*.appToken',
  '*.signingSecret',
  '*.password',
  '*.sentinelPassword',
  '*.secret',
  '*.authorization',
];

function describe(value: unknown): string {
  if (value instanceof Error) return value.stack ?? value.message;
  if (typeof value === 'string') return value;
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}

/** redactSecrets over every string in a log object, nested up to a fixed depth (log objects are small). */
function redactDeep(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redactSecrets(value);
  if (depth >= 6 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((item) => redactDeep(item, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) out[key] = redactDeep(item, depth + 1);
  return out;
}

function wrap(instance: PinoLogger): AppLogger {
  const log = (at: LogLevel, messages: unknown[]) => {
    if (!instance.isLevelEnabled(at)) return;
    instance[at](messages.map(describe).join(' '));
  };
  return {
    debug: (...messages: unknown[]) => log(LogLevel.DEBUG, messages),
    info: (...messages: unknown[]) => log(LogLevel.INFO, messages),
    warn: (...messages: unknown[]) => log(LogLevel.WARN, messages),
    error: (...messages: unknown[]) => log(LogLevel.ERROR, messages),
    setLevel: (next: LogLevel) => {
      instance.level = next;
    },
    getLevel: () => instance.level as LogLevel,
    setName: (next: string) => {
      instance.setBindings({ name: next });
    },
    child: (childName: string) => {
      const name = (instance.bindings() as { name?: string }).name ?? 'oo';
      return wrap(instance.child({ name: `${name}.${childName}` }));
    },
    with: (fields: LogFields) => {
      // Child bindings bypass formatters.log (pino serialises them once, here), so redact them now.
      const defined = Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined));
      return wrap(instance.child(redactDeep(defined) as Record<string, unknown>));
    },
  };
}

export function createLogger(
  options: { level?: LogLevel; name?: string; write?: (line: string) => void } = {},
): AppLogger {
  const write = options.write ?? ((line: string) => process.stderr.write(line));
  const instance = pino(
    {
      level: options.level ?? LogLevel.INFO,
      base: { pid: process.pid },
      messageKey: 'msg',
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACTED_LOG_PATHS, censor: REDACTED },
      formatters: {
        // The level as its name ("info"), as the lines were before pino and as people grep for.
        level: (label) => ({ level: label }),
        log: (object) => redactDeep(object) as Record<string, unknown>,
      },
      hooks: {
        logMethod(args, method) {
          const cleaned = args.map((arg: unknown) => (typeof arg === 'string' ? redactSecrets(arg) : arg)) as Parameters<typeof method>;
          method.apply(this, cleaned);
        },
      },
    },
    { write },
  );
  return wrap(instance.child({ name: options.name ?? 'oo' }));
}
