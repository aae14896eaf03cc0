import { describe, expect, it } from 'vitest';
import { SLACK_LIMITS, blocksTextLength, checkMessage, validateMessage, validateView } from '../../../src/slack/limits.js';

const button = (n: number, extra: Record<string, unknown> = {}) => ({
  type: 'button',
  text: { type: 'plain_text', text: `Button ${n}` },
  action_id: `a${n}`,
  value: `v${n}`,
  ...extra,
});

// A message as Slack's Block Kit Builder produces it: every block type we render, within limits.
const valid = {
  text: 'docs-1: fault — backend down',
  blocks: [
    { type: 'header', text: { type: 'plain_text', text: 'docs-1 — fault', emoji: true } },
    { type: 'section', text: { type: 'mrkdwn', text: '*Most likely:* backend down' } },
    { type: 'section', fields: [{ type: 'mrkdwn', text: '*Opened*\nnow' }, { type: 'plain_text', text: 'x' }] },
    { type: 'divider' },
    {
      type: 'actions',
      block_id: 'oo_remediations',
      elements: [
        button(1, {
          style: 'danger',
          confirm: {
            title: { type: 'plain_text', text: 'Restart?' },
            text: { type: 'mrkdwn', text: 'Runs `supervisorctl restart ds:docservice` on `docs-1`' },
            confirm: { type: 'plain_text', text: 'Run it' },
            deny: { type: 'plain_text', text: 'Cancel' },
            style: 'danger',
          },
        }),
        { type: 'static_select', action_id: 'pick', options: [] },
      ],
    },
    { type: 'context', elements: [{ type: 'mrkdwn', text: 'ports 14 ms' }, { type: 'image', image_url: 'https://x/y.png', alt_text: 'y' }] },
  ],
};

function withBlock(block: Record<string, unknown>) {
  return { text: 't', blocks: [block] };
}

describe('validateMessage', () => {
  it('accepts a message within every limit', () => {
    expect(validateMessage(valid)).toEqual([]);
  });

  it('limits the number of blocks to 50', () => {
    const blocks = Array.from({ length: 51 }, () => ({ type: 'divider' }));
    expect(validateMessage({ blocks })).toEqual(['blocks: 51 items, more than the limit of 50']);
    expect(validateMessage({ blocks: blocks.slice(0, 50) })).toEqual([]);
  });

  it('limits section text to 3000 and fields to 10 × 2000', () => {
    const text = (n: number) => ({ type: 'mrkdwn', text: 'x'.repeat(n) });
    expect(validateMessage(withBlock({ type: 'section', text: text(3000) }))).toEqual([]);
    expect(validateMessage(withBlock({ type: 'section', text: text(3001) }))).toEqual([
      'blocks[0].text.text: 3001 characters, more than the limit of 3000',
    ]);
    expect(validateMessage(withBlock({ type: 'section', fields: [text(10), text(2001)] }))).toEqual([
      'blocks[0].fields[1].text: 2001 characters, more than the limit of 2000',
    ]);
    expect(validateMessage(withBlock({ type: 'section', fields: Array.from({ length: 11 }, () => text(1)) }))).toEqual([
      'blocks[0].fields: 11 items, more than the limit of 10',
    ]);
    expect(validateMessage(withBlock({ type: 'section', text: text(0) }))).toEqual(['blocks[0].text.text: must not be empty']);
    expect(validateMessage(withBlock({ type: 'section' }))).toEqual(['blocks[0]: a section needs text or fields']);
  });

  it('limits the header to 150 plain_text characters', () => {
    expect(validateMessage(withBlock({ type: 'header', text: { type: 'plain_text', text: 'h'.repeat(151) } }))).toEqual([
      'blocks[0].text.text: 151 characters, more than the limit of 150',
    ]);
    expect(validateMessage(withBlock({ type: 'header', text: { type: 'mrkdwn', text: '*h*' } }))).toEqual([
      'blocks[0].text.type: expected one of "plain_text", received "mrkdwn"',
    ]);
  });

  it('limits actions to 25 elements and buttons to their field limits', () => {
    const many = Array.from({ length: 26 }, (_, i) => button(i));
    expect(validateMessage(withBlock({ type: 'actions', elements: many }))).toEqual([
      'blocks[0].elements: 26 items, more than the limit of 25',
    ]);
    expect(
      validateMessage(
        withBlock({
          type: 'actions',
          elements: [
            { ...button(1), text: { type: 'plain_text', text: 'b'.repeat(76) } },
            { ...button(2), value: 'v'.repeat(2001) },
            { ...button(3), action_id: 'a'.repeat(256) },
            { ...button(4), style: 'loud' },
          ],
        }),
      ),
    ).toEqual([
      'blocks[0].elements[0].text.text: 76 characters, more than the limit of 75',
      'blocks[0].elements[1].value: 2001 characters, more than the limit of 2000',
      'blocks[0].elements[2].action_id: 256 characters, more than the limit of 255',
      'blocks[0].elements[3].style: expected one of "primary", "danger", received "loud"',
    ]);
  });

  it('checks the confirm dialog limits', () => {
    const confirm = {
      title: { type: 'plain_text', text: 't'.repeat(101) },
      text: { type: 'mrkdwn', text: 'x'.repeat(301) },
      confirm: { type: 'plain_text', text: 'c'.repeat(31) },
      deny: { type: 'plain_text', text: 'Cancel' },
    };
    expect(validateMessage(withBlock({ type: 'actions', elements: [button(1, { confirm })] }))).toEqual([
      'blocks[0].elements[0].confirm.title.text: 101 characters, more than the limit of 100',
      'blocks[0].elements[0].confirm.text.text: 301 characters, more than the limit of 300',
      'blocks[0].elements[0].confirm.confirm.text: 31 characters, more than the limit of 30',
    ]);
  });

  it('limits block_id to 255 and requires it unique, and action_id unique in its block', () => {
    expect(validateMessage(withBlock({ type: 'divider', block_id: 'b'.repeat(256) }))).toEqual([
      'blocks[0].block_id: 256 characters, more than the limit of 255',
    ]);
    expect(validateMessage({ blocks: [{ type: 'divider', block_id: 'x' }, { type: 'divider', block_id: 'x' }] })).toEqual([
      'blocks[1].block_id: duplicate block_id "x" (first used by blocks[0])',
    ]);
    expect(validateMessage(withBlock({ type: 'actions', elements: [button(1), button(1)] }))).toEqual([
      'blocks[0].elements[1].action_id: duplicate action_id "a1" in one block',
    ]);
  });

  it('limits context to 10 elements', () => {
    const elements = Array.from({ length: 11 }, () => ({ type: 'mrkdwn', text: 'c' }));
    expect(validateMessage(withBlock({ type: 'context', elements }))).toEqual([
      'blocks[0].elements: 11 items, more than the limit of 10',
    ]);
  });

  it('limits the message text to 40,000 characters', () => {
    expect(validateMessage({ text: 'x'.repeat(40_000) })).toEqual([]);
    expect(checkMessage({ text: 'x'.repeat(40_001) })).toEqual([
      { path: 'text', message: '40001 characters, more than the limit of 40000', rule: 'message_text' },
    ]);
  });

  it('keeps all block text under the cumulative budget', () => {
    const blocks = Array.from({ length: 4 }, () => ({ type: 'section', text: { type: 'mrkdwn', text: 'x'.repeat(2600) } }));
    expect(blocksTextLength(blocks)).toBe(10_400);
    expect(checkMessage({ blocks })).toEqual([
      {
        path: 'blocks',
        message: `10400 characters of text in all blocks together, more than the budget of ${SLACK_LIMITS.blocksTextBudget}`,
        rule: 'blocks_text_budget',
      },
    ]);
  });

  it('names unknown block types, unknown fields and wrong shapes', () => {
    expect(validateMessage(withBlock({ type: 'table' }))).toEqual(['blocks[0].type: unsupported type "table"']);
    expect(validateMessage(withBlock({ type: 'divider', colour: 'red' }))).toEqual(['blocks[0]: unknown field(s) "colour"']);
    expect(validateMessage({ blocks: 'nope' })).toEqual(['blocks: expected array, received string']);
    expect(validateMessage('nope')).toEqual(['payload: expected object, received string']);
    expect(validateMessage({ blocks: [null] })).toEqual(['blocks[0]: expected object, received null']);
  });
});

describe('validateView', () => {
  const modal = {
    type: 'modal',
    title: { type: 'plain_text', text: 'Approve fix' },
    submit: { type: 'plain_text', text: 'Run' },
    blocks: [{ type: 'section', text: { type: 'mrkdwn', text: 'Restart docservice on docs-1?' } }],
  };

  it('accepts a modal within its limits and names what is wrong', () => {
    expect(validateView(modal)).toEqual([]);
    expect(validateView({ ...modal, title: { type: 'plain_text', text: 'x'.repeat(25) } })).toEqual([
      'view.title.text: 25 characters, more than the limit of 24',
    ]);
    expect(validateView({ ...modal, blocks: Array.from({ length: 101 }, () => ({ type: 'divider' })) })).toEqual([
      'view.blocks: 101 items, more than the limit of 100',
    ]);
    expect(validateView({ type: 'modal', blocks: [] })).toEqual(['view.title: a modal needs a title']);
  });
});
