// `/oo <subcommand> [args]` as typed in Slack, parsed into a command or a problem that names what was
// wrong. Pure. Slack sends the text after `/oo` as one string (form field `text`).
const TARGET = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,252}$/;
const MAX_EXPLAIN_CHARS = 40_000;

export type OoCommand =
  | { name: 'help' }
  | { name: 'diagnose'; target: string }
  | { name: 'status' }
  | { name: 'hosts' }
  | { name: 'runbooks' }
  | { name: 'incidents' }
  | { name: 'explain'; text: string }
  | { name: 'audit'; host?: string };

export type ParsedCommand = { ok: true; command: OoCommand } | { ok: false; problem: string };

export const SUBCOMMANDS = ['help', 'diagnose', 'status', 'hosts', 'runbooks', 'incidents', 'explain', 'audit'] as const;

function shown(text: string): string {
  return JSON.stringify(text.length > 60 ? `${text.slice(0, 60)}…` : text);
}

export function parseOoCommand(rawText: string): ParsedCommand {
  const text = rawText.trim();
  if (text === '') return { ok: true, command: { name: 'help' } };
  const match = /^(\S+)\s*([\s\S]*)$/.exec(text);
  const name = (match?.[1] ?? '').toLowerCase();
  const rest = (match?.[2] ?? '').trim();
  const words = rest === '' ? [] : rest.split(/\s+/);
  const noArguments = (command: OoCommand): ParsedCommand =>
    words.length === 0 ? { ok: true, command } : { ok: false, problem: `\`/oo ${name}\` takes no arguments (got ${shown(rest)})` };

  switch (name) {
    case 'help':
      return { ok: true, command: { name: 'help' } };
    case 'status':
    case 'hosts':
    case 'runbooks':
    case 'incidents':
      return noArguments({ name });
    case 'diagnose': {
      if (words.length === 0) return { ok: false, problem: '`/oo diagnose` needs a host or group name: `/oo diagnose docs-1`' };
      if (words.length > 1) return { ok: false, problem: `\`/oo diagnose\` takes one host or group name (got ${words.length}: ${shown(rest)})` };
      const target = words[0]!;
      if (!TARGET.test(target)) {
        return { ok: false, problem: `${shown(target)} is not a host or group name (letters, digits, "_", "." and "-")` };
      }
      return { ok: true, command: { name: 'diagnose', target } };
    }
    case 'explain': {
      // The pasted lines keep their own line breaks: that is where the log's structure is.
      const pasted = (match?.[2] ?? '').replace(/^[ \t]*\r?\n/, '').trimEnd();
      if (pasted.trim() === '') return { ok: false, problem: '`/oo explain` needs the log lines to classify, pasted after the word explain' };
      if (pasted.length > MAX_EXPLAIN_CHARS) {
        return { ok: false, problem: `the pasted text is ${pasted.length} characters; \`/oo explain\` takes at most ${MAX_EXPLAIN_CHARS}` };
      }
      return { ok: true, command: { name: 'explain', text: pasted } };
    }
    case 'audit': {
      if (words.length > 1) return { ok: false, problem: `\`/oo audit\` takes at most one host name (got ${shown(rest)})` };
      if (words.length === 1 && !TARGET.test(words[0]!)) return { ok: false, problem: `${shown(words[0]!)} is not a host name` };
      return { ok: true, command: words.length === 1 ? { name: 'audit', host: words[0]! } : { name: 'audit' } };
    }
    default:
      return { ok: false, problem: `unknown subcommand ${shown(name)}; try one of: ${SUBCOMMANDS.join(', ')}` };
  }
}
