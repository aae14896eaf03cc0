import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Finding, RankedCause } from '../../../src/diagnosis/types.js';
import { CAUSE_IDS, EVIDENCE_KEYS, VERDICTS } from '../../../src/diagnosis/vocabulary.js';
import {
  MAX_REMEDIATION_BUTTONS,
  allocate,
  REMEDIATE_ACTIONS_BLOCK_ID,
  chainText,
  codeLine,
  escapeMrkdwn,
  fitLines,
  pendingActionIdOf,
  renderDiagnosis,
  renderIncidentSummary,
  renderProgress,
  renderRemediationResult,
  truncate,
  type OfferedRemediation,
  type RenderedMessage,
} from '../../../src/slack/blocks.js';
import { SLACK_LIMITS, blocksTextLength, validateMessage, type Block } from '../../../src/slack/limits.js';
import { chainOf } from '../../../src/diagnosis/chain.js';

// nginx's error-log format (ngx_log_error: "YYYY/MM/DD HH:MM:SS [level] pid#tid: *cid message, client: …").
const REFUSED =
  '2024/05/14 10:21:33 [error] 1234#1234: *56 connect() failed (111: Connection refused) while connecting to upstream, client: 10.0.0.5, server: , request: "GET /healthcheck HTTP/1.1", upstream: "http://127.0.0.1:8000/healthcheck", host: "docs.example.com"';

function cause(overrides: Partial<RankedCause> = {}): RankedCause {
  return {
    id: 'backend_down',
    title: 'docservice is not running',
    confidence: 0.93,
    evidence: [
      { step: 'nginx_error_log', line: REFUSED },
      { step: 'service_status', line: 'ds:docservice                    STOPPED   May 14 10:20 AM' },
      { step: 'ports', line: 'LISTEN 0 511 0.0.0.0:80 0.0.0.0:* users:(("nginx",pid=1234,fd=6))' },
    ],
    remediations: [{ id: 'restart_docservice', title: 'Restart docservice', risk: 'low' }],
    ...overrides,
  };
}

function finding(overrides: Partial<Finding> = {}): Finding {
  return {
    host: 'docs-1',
    verdict: 'fault',
    causes: [cause()],
    steps: [
      { id: 'nginx_error_log', command: 'tail -n 200 /var/log/nginx/error.log', exitCode: 0, durationMs: 22, output: REFUSED },
      { id: 'service_status', command: 'supervisorctl status', exitCode: 3, durationMs: 140, output: 'ds:docservice STOPPED' },
      { id: 'ports', command: 'ss -ltnp', exitCode: 0, durationMs: 14, output: 'LISTEN 0 511 0.0.0.0:80' },
    ],
    ...overrides,
  };
}

const restart: OfferedRemediation = {
  actionId: 'pa_7f3c2a',
  remediationId: 'restart_docservice',
  title: 'Restart docservice',
  risk: 'low',
  host: 'docs-1',
  command: 'sudo supervisorctl restart ds:docservice',
};

function allText(blocks: Block[]): string {
  return JSON.stringify(blocks);
}

function expectValid(message: RenderedMessage): void {
  expect(validateMessage({ text: message.text, blocks: message.blocks })).toEqual([]);
  expect(blocksTextLength(message.blocks)).toBeLessThanOrEqual(SLACK_LIMITS.blocksTextBudget);
}

function codeBlocksOf(blocks: Block[]): string[] {
  return blocks.flatMap((b) => (b.type === 'section' && b.text ? [...b.text.text.matchAll(/```\n([\s\S]*?)\n```/g)].map((m) => m[1] as string) : []));
}

describe('text helpers', () => {
  it('escapes the three mrkdwn control characters', () => {
    expect(escapeMrkdwn('a & b <!channel> <@U1> c > d')).toBe('a &amp; b &lt;!channel&gt; &lt;@U1&gt; c &gt; d');
  });

  it('keeps code lines inside their block and readable', () => {
    expect(codeLine('echo ```; rm -rf /```')).not.toContain('```');
    expect(codeLine('a\u202Eevil\u0000b')).toBe('a\uFFFDevil\uFFFDb');
    expect(codeLine('bad \uD800 surrogate')).toBe('bad \uFFFD surrogate');
  });

  it('truncates without splitting a surrogate pair', () => {
    const cut = truncate('😀'.repeat(10), 6);
    expect(cut).toBe('😀😀…');
    expect(cut.length).toBeLessThanOrEqual(6);
  });

  it('cuts at line boundaries and counts what it left out', () => {
    const lines = Array.from({ length: 100 }, (_, i) => `line ${i}`);
    const head = fitLines(lines, 50);
    expect(head.lines).toEqual(['line 0', 'line 1', 'line 2', 'line 3', 'line 4', 'line 5', 'line 6']);
    expect(head.omittedLines).toBe(93);
    expect(head.omittedCharacters).toBe(lines.slice(7).join('').length);
    const tail = fitLines(lines, 24, true);
    expect(tail.lines).toEqual(['line 97', 'line 98', 'line 99']);
    const withLong = fitLines(['a', 'x'.repeat(100_000), 'b'], 500);
    expect(withLong.lines).toEqual(['a', '[a line of 100,000 characters, in the attached file]', 'b']);
    expect(withLong.omittedLines).toBe(1);
  });
});

describe('allocate', () => {
  it('gives each cause what it needs, and shares the rest fairly', () => {
    expect(allocate([100, 200], 1000)).toEqual([100, 200]);
    expect(allocate([100, 5000, 5000], 2100)).toEqual([100, 1000, 1000]);
    expect(allocate([0, 3000], 500)).toEqual([0, 500]);
    expect(allocate([10, 10], 0)).toEqual([0, 0]);
  });
});

describe('renderDiagnosis', () => {
  it('shows host, verdict, ranked causes, evidence, the broken link, timings and the fix', () => {
    const second = cause({ id: 'port_conflict', title: 'another process holds port 8000', confidence: 0.41, evidence: [{ step: 'ports', line: 'LISTEN 0 128 *:8000 users:(("python3",pid=99,fd=3))' }] });
    const message = renderDiagnosis(finding({ causes: [cause(), second] }), { remediations: [restart] });
    expectValid(message);
    const [head, summary, chain, first, next, fixes, actions, timings] = message.blocks;
    expect(head).toEqual({ type: 'header', text: { type: 'plain_text', text: ':red_circle: docs-1 — fault: docservice is not running', emoji: true } });
    expect(summary?.type === 'section' && summary.text?.text).toBe(
      '*Most likely:* docservice is not running — 93% `backend_down` · 1 other possible cause',
    );
    expect(chain?.type === 'section' && chain.text?.text).toContain('nginx → docservice  ━✖━▶  :x: *docservice*');
    expect(chain?.type === 'section' && chain.text?.text).toContain('Broken: docservice (backend_down, port_conflict).');
    expect(first?.type === 'section' && first.text?.text).toMatch(/^\*1\. docservice is not running\* — 93% `backend_down`\n```\nnginx_error_log \| 2024\/05\/14 10:21:33 \[error\]/);
    expect(next?.type === 'section' && next.text?.text).toMatch(/^\*2\. another process holds port 8000\* — 41%/);
    expect(fixes?.type === 'section' && fixes.text?.text).toContain('`sudo supervisorctl restart ds:docservice` on `docs-1`');
    expect(actions).toMatchObject({
      type: 'actions',
      block_id: REMEDIATE_ACTIONS_BLOCK_ID,
      elements: [
        {
          type: 'button',
          action_id: 'oo_remediate:pa_7f3c2a',
          value: 'pa_7f3c2a',
          style: 'primary',
          text: { type: 'plain_text', text: 'Restart docservice' },
          confirm: {
            title: { type: 'plain_text', text: 'Restart docservice on docs-1?' },
            text: { type: 'mrkdwn', text: 'Runs `sudo supervisorctl restart ds:docservice` on `docs-1` (risk: low).' },
          },
        },
      ],
    });
    expect(timings?.type === 'context' && timings.elements[0]?.type === 'mrkdwn' && timings.elements[0].text).toBe(
      ':stopwatch: nginx_error_log 22 ms · service_status 140 ms (exit 3) · ports 14 ms · total 176 ms',
    );
    expect(message.attachments).toEqual([]);
    expect(message.omitted).toEqual({ lines: 0, characters: 0 });
    expect(message.text).toBe('docs-1: fault — docservice is not running (93%)');
  });

  it('marks high-risk fixes as danger, in the button and the dialog', () => {
    const risky = { ...restart, actionId: 'pa_2', risk: 'high' as const, title: 'Free port 8000', command: 'sudo fuser -k 8000/tcp' };
    const message = renderDiagnosis(finding(), { remediations: [restart, risky] });
    expectValid(message);
    const actions = message.blocks.find((b) => b.type === 'actions');
    if (actions?.type !== 'actions') throw new Error('no actions block');
    const danger = actions.elements[1] as Extract<(typeof actions.elements)[number], { type: 'button' }>;
    expect(danger.style).toBe('danger');
    expect(danger.confirm?.style).toBe('danger');
    expect(danger.confirm?.text.text).toBe('Runs `sudo fuser -k 8000/tcp` on `docs-1` (risk: high).');
    expect(pendingActionIdOf(danger.action_id as string)).toBe('pa_2');
    expect(pendingActionIdOf('something_else')).toBeUndefined();
  });

  it('offers at most a few buttons and lists the rest', () => {
    const many = Array.from({ length: 8 }, (_, i) => ({ ...restart, actionId: `pa_${i}`, title: `Fix ${i}` }));
    const message = renderDiagnosis(finding(), { remediations: many });
    expectValid(message);
    const actions = message.blocks.find((b) => b.type === 'actions');
    expect(actions?.type === 'actions' && actions.elements.length).toBe(MAX_REMEDIATION_BUTTONS);
    expect(allText(message.blocks)).toContain('3 fixes not offered as buttons here');
  });

  it('refuses action ids that are not opaque ids', () => {
    expect(() => renderDiagnosis(finding(), { remediations: [{ ...restart, actionId: 'rm -rf /' }] })).toThrow(/not an opaque id/);
    expect(() => renderDiagnosis(finding(), { remediations: [restart, restart] })).toThrow(/offered twice/);
  });

  it('fits 10,000 evidence lines, at line boundaries, and attaches the full text', () => {
    const lines = Array.from({ length: 10_000 }, (_, i) => ({ step: 'nginx_error_log' as const, line: `${REFUSED} #${i}` }));
    const message = renderDiagnosis(finding({ causes: [cause({ evidence: lines })] }), { remediations: [restart] });
    expectValid(message);
    const shown = codeBlocksOf(message.blocks)[0]?.split('\n') ?? [];
    expect(shown.length).toBeGreaterThan(3);
    // every shown line is a whole line of the input, in order
    shown.forEach((line, i) => expect(line).toBe(codeLine(`nginx_error_log | ${REFUSED} #${i}`)));
    expect(message.omitted.lines).toBe(10_000 - shown.length);
    expect(allText(message.blocks)).toContain(`${(10_000 - shown.length).toLocaleString('en-US')} more lines`);
    expect(message.attachments).toHaveLength(1);
    const [file] = message.attachments;
    expect(file?.filename).toBe('oo-docs-1-diagnosis.txt');
    expect(file?.content).toContain(`${REFUSED} #9999`);
    expect(file?.content).toContain('=== ports: ss -ltnp (exit 0, 14 ms) ===');
  });

  it('survives 100 KB lines, backticks, mentions and hostile unicode', () => {
    const hostile = [
      'x'.repeat(100 * 1024),
      '```\n<!channel> <!here> <@U0ALICE> &amp; *bold* _it_ ~st~ <https://evil.example|click>',
      'rtl \u202Egnp.exe\u202C and bidi \u2066x\u2069',
      'nul \u0000 bell \u0007 esc \u001b[31m del \u007f',
      '😀 漢字 עברית é \uD800',
      '`'.repeat(500),
    ];
    const evil = cause({
      title: '<!channel> *pwn* ``` `',
      evidence: hostile.map((line) => ({ step: 'docservice_log' as const, line })),
    });
    const message = renderDiagnosis(
      finding({ host: 'docs-1\u202E<!here>', causes: [evil, evil, evil, evil, evil, evil], error: '<!everyone> '.repeat(1000) }),
      { remediations: [{ ...restart, title: 'x'.repeat(500), command: `echo ${'`'.repeat(400)} <!channel>` }] },
    );
    expectValid(message);
    const json = allText(message.blocks);
    for (const mention of ['<!channel>', '<!here>', '<!everyone>', '<@U0ALICE>', '<https://evil']) expect(json).not.toContain(mention);
    expect(json).not.toContain('\u202E');
    expect(json).not.toContain('\\u0000');
    for (const code of codeBlocksOf(message.blocks)) expect(code).not.toContain('```');
    expect(message.text).not.toContain('<!here>');
    expect(message.attachments[0]?.content).toContain('x'.repeat(100 * 1024));
  });

  it('renders healthy, unreachable and unknown findings', () => {
    const healthy = renderDiagnosis(finding({ verdict: 'healthy', causes: [] }));
    expectValid(healthy);
    expect(allText(healthy.blocks)).toContain('No fault found');
    const unreachable = renderDiagnosis(
      finding({ verdict: 'unreachable', causes: [], steps: [], error: 'connect ECONNREFUSED 10.231.0.2:22' }),
    );
    expectValid(unreachable);
    expect(allText(unreachable.blocks)).toContain('Could not reach the host');
    expect(allText(unreachable.blocks)).toContain('connect ECONNREFUSED 10.231.0.2:22');
    expect(unreachable.blocks.some((b) => b.type === 'actions')).toBe(false);
  });

  it('shows the broken link of the one chain model (src/diagnosis/chain.ts) for each kind of cause', () => {
    const text = (id: RankedCause['id'], verdict: Finding['verdict'] = 'fault') =>
      chainText(chainOf(finding({ verdict, causes: [cause({ id })] })));
    expect(text('nginx_down')).toContain('━✖━▶  :x: *nginx*');
    expect(text('nginx_down')).toContain('Broken: nginx (nginx_down).');
    expect(text('backend_down')).toContain('━✖━▶  :x: *docservice*');
    expect(text('upstream_timeout')).toContain('━✖━▶  :x: *nginx → docservice*');
    expect(text('dependency_redis')).toContain('━✖━▶  :x: *dependencies (PostgreSQL, RabbitMQ, Redis)*');
    // The example hangs off nginx on its own: the main path stays whole, the side branch is broken.
    const example = text('example_not_started');
    expect(example).not.toContain('━✖━▶');
    expect(example).toContain('·   :x: *example (/example/)*');
    expect(text('host_unreachable', 'unreachable')).toMatch(/^\*Path:\* :x: \*host \(ssh\)\* {2}→ {2}:grey_question: nginx/);
    const healthy = chainText(chainOf({ verdict: 'healthy', causes: [] }));
    expect(healthy).not.toContain(':x:');
    expect(healthy).toContain('_Every link answers._');
    const unknown = chainText(chainOf({ verdict: 'unknown', causes: [] }));
    expect(unknown).toContain('_Not every link could be examined._');
  });

  it('always fits Slack, whatever the finding (property)', () => {
    const text = fc.oneof(
      fc.string({ maxLength: 300 }),
      fc.string({ unit: 'grapheme', maxLength: 200 }),
      fc.string({ unit: 'binary', maxLength: 200 }),
      fc.constantFrom('```', '<!channel>', '&', '\u202E', 'x'.repeat(5000)),
    );
    const arbCause = fc.record({
      id: fc.constantFrom(...CAUSE_IDS),
      title: text,
      confidence: fc.double({ min: -1, max: 2, noNaN: false }),
      evidence: fc.array(fc.record({ step: fc.constantFrom(...EVIDENCE_KEYS), line: text }), { maxLength: 60 }),
      remediations: fc.constant([] as RankedCause['remediations']),
    });
    const arbFinding = fc.record({
      host: text,
      verdict: fc.constantFrom(...VERDICTS),
      causes: fc.array(arbCause, { maxLength: 8 }),
      steps: fc.array(
        fc.record({ id: text, command: text, exitCode: fc.option(fc.integer(), { nil: null }), durationMs: fc.double(), output: text }),
        { maxLength: 30 },
      ),
      error: fc.option(text, { nil: undefined }),
    });
    const arbRemediations = fc.uniqueArray(
      fc.record({
        actionId: fc.stringMatching(/^[a-z0-9_]{1,40}$/),
        remediationId: text,
        title: text,
        risk: fc.constantFrom('low' as const, 'medium' as const, 'high' as const),
        host: text,
        command: text,
      }),
      { selector: (r) => r.actionId, maxLength: 12 },
    );
    fc.assert(
      fc.property(arbFinding, arbRemediations, (f, remediations) => {
        const message = renderDiagnosis(f as Finding, { remediations });
        expect(validateMessage({ text: message.text, blocks: message.blocks })).toEqual([]);
      }),
      { numRuns: 150 },
    );
  });
});

describe('renderProgress', () => {
  it('shows steps done of total and the current step', () => {
    const message = renderProgress({ host: 'docs-1', stepsDone: 3, stepsTotal: 10, currentStep: 'ss -ltnp', elapsedMs: 2300 });
    expectValid(message);
    expect(allText(message.blocks)).toContain('▰▰▰▱▱▱▱▱▱▱  *3/10* steps');
    expect(allText(message.blocks)).toContain('Now: `ss -ltnp`');
    expect(allText(message.blocks)).toContain('2.3 s so far');
    expect(message.text).toBe('Diagnosing docs-1: 3/10 steps');
  });

  it('clamps nonsense and says when it is done', () => {
    expectValid(renderProgress({ host: 'x'.repeat(10_000), stepsDone: 99, stepsTotal: -4 }));
    const done = renderProgress({ host: 'docs-1', stepsDone: 12, stepsTotal: 12, currentStep: 'http_probe' });
    expect(allText(done.blocks)).toContain('*12/12* steps — done');
    expect(allText(done.blocks)).not.toContain('Now:');
  });
});

describe('renderRemediationResult', () => {
  const base = {
    host: 'docs-1',
    title: 'Restart docservice',
    remediationId: 'restart_docservice',
    command: 'sudo supervisorctl restart ds:docservice',
    approvedBy: 'U0ALICE',
    requestedBy: 'U0BOB',
    exitCode: 0,
    durationMs: 2400,
    output: 'ds:docservice: stopped\nds:docservice: started\n',
  };

  it('says who approved, what ran, its output and that the host is healthy again', () => {
    const message = renderRemediationResult({ ...base, verified: { healthy: true, detail: 'GET /healthcheck answered true in 12 ms' } });
    expectValid(message);
    const json = allText(message.blocks);
    expect(message.blocks[0]).toMatchObject({ type: 'header', text: { text: ':white_check_mark: docs-1 — fixed: Restart docservice' } });
    expect(json).toContain('*Approved by* <@U0ALICE> · *asked by* <@U0BOB>');
    expect(json).toContain('*Ran* `sudo supervisorctl restart ds:docservice` on `docs-1` — exit 0 after 2.4 s');
    expect(json).toContain('ds:docservice: stopped\\nds:docservice: started');
    expect(json).toContain(':white_check_mark: *Verified healthy*: GET /healthcheck answered true in 12 ms');
    expect(message.attachments).toEqual([]);
  });

  it('says plainly when the fix failed or did not help', () => {
    const failed = renderRemediationResult({ ...base, exitCode: 7, output: 'ds:docservice: ERROR (spawn error)' });
    expect(failed.blocks[0]).toMatchObject({ text: { text: ':x: docs-1 — Restart docservice failed (exit 7)' } });
    expect(allText(failed.blocks)).toContain('*Not verified*');
    const unhealthy = renderRemediationResult({ ...base, verified: { healthy: false, detail: 'still 502' } });
    expect(unhealthy.blocks[0]).toMatchObject({ text: { text: ':warning: docs-1 — Restart docservice ran, still not healthy' } });
    const timedOut = renderRemediationResult({ ...base, exitCode: null, timedOut: true });
    expect(timedOut.blocks[0]).toMatchObject({ text: { text: ':x: docs-1 — Restart docservice failed (timed out)' } });
  });

  it('keeps the end of a long output and attaches all of it', () => {
    const output = Array.from({ length: 5000 }, (_, i) => `line ${i} <!channel>`).join('\n');
    const message = renderRemediationResult({ ...base, output, approvedBy: '<!channel>' });
    expectValid(message);
    const code = codeBlocksOf(message.blocks)[0] ?? '';
    expect(code.endsWith('line 4999 &lt;!channel&gt;')).toBe(true);
    expect(allText(message.blocks)).not.toContain('<!channel>');
    expect(message.attachments[0]?.content).toContain('line 0 <!channel>');
    expect(message.attachments[0]?.filename).toBe('oo-docs-1-restart_docservice-output.txt');
    expect(message.omitted.lines).toBe(5000 - code.split('\n').length);
  });
});

describe('renderIncidentSummary', () => {
  const opened = Date.parse('2024-05-14T10:21:00Z');
  const info = {
    title: 'OnlyofficeDocs502',
    host: 'docs-1',
    incidentKey: 'inc_0123456789abcdef0123456789abcdef',
    openedAt: opened,
    diagnosedAt: opened + 42_000,
    recoveredAt: new Date(opened + 3 * 60_000 + 5_000),
    cause: { id: 'backend_down', title: 'docservice is not running' },
    fixedBy: 'U0ALICE',
    timeline: [
      { at: opened + 42_000, text: 'Diagnosis: docservice is not running (93%)' },
      { at: opened, text: 'Alert OnlyofficeDocs502 fired' },
      { at: '2024-05-14T10:23:30Z', text: 'Restart docservice approved by alice' },
    ],
  };

  it('shows the timeline in order with times, time to diagnosis and to recovery', () => {
    const message = renderIncidentSummary(info);
    expectValid(message);
    const json = allText(message.blocks);
    expect(json).toContain('*Time to diagnosis*\\n42.0 s');
    expect(json).toContain('*Time to recovery*\\n3 min 5 s');
    expect(json).toContain(`<!date^${opened / 1000}^{date_num} {time_secs}|2024-05-14T10:21:00.000Z>`);
    const timeline = message.blocks[2];
    const text = timeline?.type === 'section' ? (timeline.text?.text ?? '') : '';
    expect(text.indexOf('fired')).toBeLessThan(text.indexOf('Diagnosis'));
    expect(text.indexOf('Diagnosis')).toBeLessThan(text.indexOf('approved'));
    expect(message.text).toBe('Incident summary: OnlyofficeDocs502 on docs-1 — recovery 3 min 5 s');
  });

  it('says what is not known yet and bounds a huge timeline', () => {
    const timeline = Array.from({ length: 2000 }, (_, i) => ({ at: opened + i * 1000, text: `event ${i} <!here>` }));
    const message = renderIncidentSummary({ ...info, diagnosedAt: undefined, recoveredAt: undefined, cause: undefined, timeline });
    expectValid(message);
    const json = allText(message.blocks);
    expect(json).toContain('*Time to recovery*\\nnot yet');
    expect(json).toContain('not identified');
    expect(json).not.toContain('<!here>');
    expect(message.attachments[0]?.content.split('\n').filter(Boolean)).toHaveLength(2000);
    expect(message.omitted.lines).toBeGreaterThan(1900);
  });
});
