import { z } from 'zod';

/**
 * Slack's documented Block Kit limits for what aibox sends, as a schema
 * (docs.slack.dev, reference/block-kit): a message has at most 50 blocks; a
 * header's plain_text at most 150 characters; a section's text at most 3000
 * and at most 10 fields of at most 2000 each; a text object at least 1
 * character; a button's text at most 75, its url at most 3000, action_id
 * at most 255, value at most 2000; an actions block at most 25 elements; a
 * context block at most 10; a block_id at most 255. The top-level `text`
 * (the notification fallback) is cut by Slack past 40,000 characters.
 */
const BlockId = z.string().max(255).optional();
const plainText = (max: number) => z.strictObject({ type: z.literal('plain_text'), text: z.string().min(1).max(max), emoji: z.boolean().optional() });
const mrkdwn = (max: number) => z.strictObject({ type: z.literal('mrkdwn'), text: z.string().min(1).max(max), verbatim: z.boolean().optional() });
const textObject = (max: number) => z.union([plainText(max), mrkdwn(max)]);

const Button = z.strictObject({
  type: z.literal('button'),
  text: plainText(75),
  action_id: z.string().max(255).optional(),
  url: z.url().max(3000).optional(),
  value: z.string().max(2000).optional(),
  style: z.enum(['primary', 'danger']).optional(),
  accessibility_label: z.string().max(75).optional(),
});

const Header = z.strictObject({ type: z.literal('header'), text: plainText(150), block_id: BlockId });
const Section = z
  .strictObject({ type: z.literal('section'), text: textObject(3000).optional(), fields: z.array(textObject(2000)).min(1).max(10).optional(), accessory: Button.optional(), block_id: BlockId })
  .refine((section) => section.text !== undefined || section.fields !== undefined, 'a section needs text or fields');
const Actions = z.strictObject({ type: z.literal('actions'), elements: z.array(Button).min(1).max(25), block_id: BlockId });
const Context = z.strictObject({ type: z.literal('context'), elements: z.array(textObject(3000)).min(1).max(10), block_id: BlockId });
const Divider = z.strictObject({ type: z.literal('divider'), block_id: BlockId });

export const SlackMessage = z.strictObject({
  text: z.string().min(1).max(40_000),
  blocks: z.array(z.union([Header, Section, Actions, Context, Divider])).min(1).max(50),
});
export type SlackMessage = z.infer<typeof SlackMessage>;
