// Block Kit limits encoded in zod. Slack offers no offline validator, and a message that breaks a limit
// is rejected whole (invalid_blocks), so the renderers and the local stand-in check against these.
// Sources: docs.slack.dev/reference/block-kit (section, header, context, actions blocks; button element;
// text and confirmation dialog objects), chat.postMessage (text truncated past 40,000 characters).
import { z } from 'zod';

export const SLACK_LIMITS = {
  blocksPerMessage: 50,
  blocksPerModal: 100,
  messageText: 40_000,
  sectionText: 3000,
  sectionFields: 10,
  sectionFieldText: 2000,
  headerText: 150,
  contextElements: 10,
  actionsElements: 25,
  buttonText: 75,
  buttonValue: 2000,
  buttonUrl: 3000,
  actionId: 255,
  blockId: 255,
  textObject: 3000,
  confirmTitle: 100,
  confirmText: 300,
  confirmButton: 30,
  imageUrl: 3000,
  imageAltText: 2000,
  markdownBlockText: 12_000,
  modalTitle: 24,
  modalButton: 24,
  callbackId: 255,
  privateMetadata: 3000,
  /**
   * Not a documented limit: chat.postMessage answers `msg_blocks_too_long` once the text of all blocks
   * together passes roughly 11,000–13,000 characters (slackapi/bolt-js#2509, #2867). We keep our own
   * messages under this conservative budget so they never meet the undocumented one.
   */
  blocksTextBudget: 10_000,
} as const;

const L = SLACK_LIMITS;

const plainText = (max: number) =>
  z.strictObject({
    type: z.literal('plain_text'),
    text: z.string().min(1).max(max),
    emoji: z.boolean().optional(),
  });

const mrkdwnText = (max: number) =>
  z.strictObject({
    type: z.literal('mrkdwn'),
    text: z.string().min(1).max(max),
    verbatim: z.boolean().optional(),
  });

const textObject = (max: number) => z.discriminatedUnion('type', [plainText(max), mrkdwnText(max)]);

const blockId = z.string().min(1).max(L.blockId).optional();
const actionId = z.string().min(1).max(L.actionId);

export const confirmDialogSchema = z.strictObject({
  title: plainText(L.confirmTitle),
  text: textObject(L.confirmText),
  confirm: plainText(L.confirmButton),
  deny: plainText(L.confirmButton),
  style: z.enum(['primary', 'danger']).optional(),
});

export const buttonSchema = z.strictObject({
  type: z.literal('button'),
  text: plainText(L.buttonText),
  action_id: actionId.optional(),
  value: z.string().max(L.buttonValue).optional(),
  url: z.string().max(L.buttonUrl).optional(),
  style: z.enum(['primary', 'danger']).optional(),
  confirm: confirmDialogSchema.optional(),
  accessibility_label: z.string().max(75).optional(),
});

const imageElement = z.strictObject({
  type: z.literal('image'),
  image_url: z.string().min(1).max(L.imageUrl),
  alt_text: z.string().min(1).max(L.imageAltText),
});

// Interactive elements we do not render ourselves (selects, overflow, pickers…): the stand-in still has
// to accept them, so only what every one of them shares is checked.
const otherInteractiveElement = z.looseObject({
  type: z.enum([
    'static_select',
    'external_select',
    'users_select',
    'conversations_select',
    'channels_select',
    'multi_static_select',
    'multi_users_select',
    'multi_conversations_select',
    'multi_channels_select',
    'overflow',
    'datepicker',
    'timepicker',
    'datetimepicker',
    'checkboxes',
    'radio_buttons',
    'workflow_button',
  ]),
  action_id: actionId.optional(),
  confirm: confirmDialogSchema.optional(),
});

const actionsElement = z.discriminatedUnion('type', [buttonSchema, otherInteractiveElement]);
const accessoryElement = z.discriminatedUnion('type', [buttonSchema, imageElement, otherInteractiveElement]);

export const sectionBlockSchema = z.strictObject({
  type: z.literal('section'),
  block_id: blockId,
  text: textObject(L.sectionText).optional(),
  fields: z.array(textObject(L.sectionFieldText)).min(1).max(L.sectionFields).optional(),
  accessory: accessoryElement.optional(),
  expand: z.boolean().optional(),
});

export const headerBlockSchema = z.strictObject({
  type: z.literal('header'),
  block_id: blockId,
  text: plainText(L.headerText),
});

export const contextBlockSchema = z.strictObject({
  type: z.literal('context'),
  block_id: blockId,
  elements: z
    .array(z.discriminatedUnion('type', [plainText(L.textObject), mrkdwnText(L.textObject), imageElement]))
    .min(1)
    .max(L.contextElements),
});

export const actionsBlockSchema = z.strictObject({
  type: z.literal('actions'),
  block_id: blockId,
  elements: z.array(actionsElement).min(1).max(L.actionsElements),
});

export const dividerBlockSchema = z.strictObject({
  type: z.literal('divider'),
  block_id: blockId,
});

const imageBlockSchema = z.strictObject({
  type: z.literal('image'),
  block_id: blockId,
  image_url: z.string().min(1).max(L.imageUrl).optional(),
  slack_file: z.looseObject({}).optional(),
  alt_text: z.string().min(1).max(L.imageAltText),
  title: plainText(2000).optional(),
});

const markdownBlockSchema = z.strictObject({
  type: z.literal('markdown'),
  block_id: blockId,
  text: z.string().min(1).max(L.markdownBlockText),
});

// rich_text is a deep tree that other code may post; only its container is checked.
const richTextBlockSchema = z.looseObject({
  type: z.literal('rich_text'),
  block_id: blockId,
  elements: z.array(z.looseObject({ type: z.string() })),
});

const inputBlockSchema = z.strictObject({
  type: z.literal('input'),
  block_id: blockId,
  label: plainText(2000),
  element: z.looseObject({ type: z.string(), action_id: actionId.optional() }),
  dispatch_action: z.boolean().optional(),
  hint: plainText(2000).optional(),
  optional: z.boolean().optional(),
});

const fileBlockSchema = z.strictObject({
  type: z.literal('file'),
  block_id: blockId,
  external_id: z.string().min(1),
  source: z.literal('remote'),
});

export const blockSchema = z.discriminatedUnion('type', [
  sectionBlockSchema,
  headerBlockSchema,
  contextBlockSchema,
  actionsBlockSchema,
  dividerBlockSchema,
  imageBlockSchema,
  markdownBlockSchema,
  richTextBlockSchema,
  inputBlockSchema,
  fileBlockSchema,
]);

export type PlainText = z.infer<ReturnType<typeof plainText>>;
export type MrkdwnText = z.infer<ReturnType<typeof mrkdwnText>>;
export type TextObject = PlainText | MrkdwnText;
export type ConfirmDialog = z.infer<typeof confirmDialogSchema>;
export type ButtonElement = z.infer<typeof buttonSchema>;
export type SectionBlock = z.infer<typeof sectionBlockSchema>;
export type HeaderBlock = z.infer<typeof headerBlockSchema>;
export type ContextBlock = z.infer<typeof contextBlockSchema>;
export type ActionsBlock = z.infer<typeof actionsBlockSchema>;
export type DividerBlock = z.infer<typeof dividerBlockSchema>;
export type Block = z.infer<typeof blockSchema>;

const messageSchema = z.looseObject({
  text: z.string().max(L.messageText).optional(),
  blocks: z.array(blockSchema).max(L.blocksPerMessage).optional(),
});

const viewSchema = z.looseObject({
  type: z.enum(['modal', 'home']),
  title: plainText(L.modalTitle).optional(),
  submit: plainText(L.modalButton).optional(),
  close: plainText(L.modalButton).optional(),
  blocks: z.array(blockSchema).max(L.blocksPerModal),
  callback_id: z.string().max(L.callbackId).optional(),
  private_metadata: z.string().max(L.privateMetadata).optional(),
  external_id: z.string().max(255).optional(),
});

/** Which of Slack's answers a violation earns: the stand-in maps these to Slack's error codes. */
export type ViolationRule = 'message_text' | 'blocks' | 'blocks_text_budget' | 'payload';

export interface Violation {
  /** Dotted path into the payload, e.g. `blocks[3].text.text`. */
  path: string;
  message: string;
  rule: ViolationRule;
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

function pathOf(path: readonly PropertyKey[]): string {
  return path.length === 0 ? 'payload' : z.core.toDotPath(path);
}

/** One zod issue as a sentence about the payload (lengths and counts stated, not just "too big"). */
export function describeIssue(issue: z.core.$ZodIssue): string {
  const input = (issue as { input?: unknown }).input;
  switch (issue.code) {
    case 'too_big':
      if (issue.origin === 'string' && typeof input === 'string') {
        return `${input.length} characters, more than the limit of ${String(issue.maximum)}`;
      }
      if (issue.origin === 'array' && Array.isArray(input)) {
        return `${input.length} items, more than the limit of ${String(issue.maximum)}`;
      }
      return issue.message;
    case 'too_small':
      if (issue.origin === 'string') return 'must not be empty';
      if (issue.origin === 'array') return `needs at least ${String(issue.minimum)} item(s)`;
      return issue.message;
    case 'invalid_type': {
      const expected = issue.expected === 'record' ? 'object' : issue.expected;
      return `expected ${expected}, received ${describeValue(input)}`;
    }
    case 'invalid_union':
      if (issue.discriminator !== undefined && issue.errors.length === 0) {
        const received =
          input && typeof input === 'object' ? (input as Record<string, unknown>)[issue.discriminator ?? 'type'] : input;
        return received === undefined
          ? `missing "${issue.discriminator ?? 'type'}"`
          : `unsupported ${issue.discriminator ?? 'type'} ${JSON.stringify(received)}`;
      }
      return issue.message;
    case 'invalid_value':
      return `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}, received ${JSON.stringify(input)}`;
    case 'unrecognized_keys':
      return `unknown field(s) ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}`;
    default:
      return issue.message;
  }
}

function fromIssues(issues: readonly z.core.$ZodIssue[], rootRule: (path: readonly PropertyKey[]) => ViolationRule): Violation[] {
  return issues.map((issue) => ({ path: pathOf(issue.path), message: describeIssue(issue), rule: rootRule(issue.path) }));
}

/** Every string under a `text` key anywhere in the blocks: what the undocumented cumulative limit counts. */
export function blocksTextLength(blocks: readonly unknown[]): number {
  let total = 0;
  const stack: unknown[] = [...blocks];
  let visited = 0;
  while (stack.length > 0 && visited < 1_000_000) {
    visited += 1;
    const node = stack.pop();
    if (Array.isArray(node)) {
      stack.push(...node);
    } else if (node && typeof node === 'object') {
      for (const [key, value] of Object.entries(node)) {
        if (key === 'text' && typeof value === 'string') total += value.length;
        else if (value && typeof value === 'object') stack.push(value);
      }
    }
  }
  return total;
}

function checkIds(blocks: readonly Block[], prefix: string): Violation[] {
  const violations: Violation[] = [];
  const seenBlockIds = new Map<string, number>();
  blocks.forEach((block, index) => {
    if (block.block_id !== undefined) {
      const first = seenBlockIds.get(block.block_id);
      if (first !== undefined) {
        violations.push({
          path: `${prefix}[${index}].block_id`,
          message: `duplicate block_id ${JSON.stringify(block.block_id)} (first used by ${prefix}[${first}])`,
          rule: 'blocks',
        });
      } else {
        seenBlockIds.set(block.block_id, index);
      }
    }
    if (block.type === 'section' && block.text === undefined && block.fields === undefined) {
      violations.push({ path: `${prefix}[${index}]`, message: 'a section needs text or fields', rule: 'blocks' });
    }
    if (block.type === 'actions') {
      const seenActionIds = new Set<string>();
      block.elements.forEach((element, elementIndex) => {
        const id = element.action_id;
        if (typeof id !== 'string') return;
        if (seenActionIds.has(id)) {
          violations.push({
            path: `${prefix}[${index}].elements[${elementIndex}].action_id`,
            message: `duplicate action_id ${JSON.stringify(id)} in one block`,
            rule: 'blocks',
          });
        }
        seenActionIds.add(id);
      });
    }
  });
  return violations;
}

/** Violations of a chat.postMessage / chat.update payload, each with the rule it breaks. */
export function checkMessage(payload: unknown): Violation[] {
  if (!payload || typeof payload !== 'object' || Array.isArray(payload)) {
    return [{ path: 'payload', message: `expected object, received ${describeValue(payload)}`, rule: 'payload' }];
  }
  const parsed = messageSchema.safeParse(payload, { reportInput: true });
  if (!parsed.success) {
    return fromIssues(parsed.error.issues, (path) => (path[0] === 'text' ? 'message_text' : 'blocks'));
  }
  const blocks = (parsed.data.blocks ?? []) as Block[];
  const violations = checkIds(blocks, 'blocks');
  const textLength = blocksTextLength(blocks);
  if (textLength > L.blocksTextBudget) {
    violations.push({
      path: 'blocks',
      message: `${textLength} characters of text in all blocks together, more than the budget of ${L.blocksTextBudget}`,
      rule: 'blocks_text_budget',
    });
  }
  return violations;
}

/** `path: problem` for every limit the message breaks; empty when Slack would accept it. */
export function validateMessage(payload: unknown): string[] {
  return checkMessage(payload).map((v) => `${v.path}: ${v.message}`);
}

/** Same for a view (views.open / views.update): a modal holds up to 100 blocks. */
export function validateView(view: unknown): string[] {
  if (!view || typeof view !== 'object' || Array.isArray(view)) {
    return [`view: expected object, received ${describeValue(view)}`];
  }
  const parsed = viewSchema.safeParse(view, { reportInput: true });
  if (!parsed.success) {
    return fromIssues(parsed.error.issues, () => 'blocks').map((v) => `view.${v.path}: ${v.message}`);
  }
  const problems = checkIds(parsed.data.blocks as Block[], 'blocks').map((v) => `view.${v.path}: ${v.message}`);
  if (parsed.data.type === 'modal' && parsed.data.title === undefined) problems.push('view.title: a modal needs a title');
  return problems;
}
