import { z } from 'zod';
import { AiboxError } from '../core/errors.js';
import { packManifestSchema } from './manifest.js';

/** The parts of a JSON Schema node (as zod writes it) that the field table shows. */
interface SchemaNode {
  type?: string;
  description?: string;
  properties?: Record<string, SchemaNode>;
  required?: string[];
  items?: SchemaNode;
  additionalProperties?: SchemaNode | boolean;
  propertyNames?: SchemaNode;
  enum?: unknown[];
  const?: unknown;
  pattern?: string;
  minLength?: number;
  default?: unknown;
}

const schemaNode: z.ZodType<SchemaNode> = z.lazy(() =>
  z.looseObject({
    type: z.string().optional(),
    description: z.string().optional(),
    properties: z.record(z.string(), schemaNode).optional(),
    required: z.array(z.string()).optional(),
    items: schemaNode.optional(),
    additionalProperties: z.union([schemaNode, z.boolean()]).optional(),
    propertyNames: schemaNode.optional(),
    enum: z.array(z.unknown()).optional(),
    const: z.unknown().optional(),
    pattern: z.string().optional(),
    minLength: z.number().optional(),
    default: z.unknown().optional(),
  }),
);

export interface ManifestField {
  /** Dotted path, `[]` for the items of a list: `filesystem.caches[].name`. */
  field: string;
  type: string;
  required: boolean;
  default?: unknown;
  description: string;
}

/** What a value of this node is, as a noun ("string", "object") and its format (a pattern, "not empty"). */
function typeOf(node: SchemaNode): { noun: string; format: string } {
  if (node.enum) return { noun: 'one of', format: ` ${node.enum.map((value) => `\`${String(value)}\``).join(', ')}` };
  if (node.const !== undefined) return { noun: 'exactly', format: ` \`${String(node.const)}\`` };
  if (node.type === 'array') {
    const item = typeOf(node.items ?? {});
    return { noun: `list of ${item.noun}s`, format: item.format };
  }
  if (node.type === 'object' && typeof node.additionalProperties === 'object') {
    const [key, value] = [typeOf(node.propertyNames ?? {}), typeOf(node.additionalProperties)];
    return { noun: 'map', format: ` of ${key.noun}${key.format} → ${value.noun}${value.format}` };
  }
  return { noun: node.type ?? 'any', format: node.pattern ? ` \`${node.pattern}\`` : node.minLength ? ', not empty' : '' };
}

function collect(node: SchemaNode, prefix: string, fields: ManifestField[]): void {
  for (const [name, child] of Object.entries(node.properties ?? {})) {
    const field = `${prefix}${name}`;
    const type = typeOf(child);
    fields.push({ field, type: `${type.noun}${type.format}`, required: (node.required ?? []).includes(name), default: child.default, description: child.description ?? '' });
    if (child.properties) collect(child, `${field}.`, fields);
    if (child.items?.properties) collect(child.items, `${field}[].`, fields);
  }
}

/** Every field of manifest.yaml, in schema order, from the JSON Schema of `packManifestSchema`. */
export function manifestFields(): ManifestField[] {
  const fields: ManifestField[] = [];
  collect(schemaNode.parse(z.toJSONSchema(packManifestSchema, { io: 'input' })), '', fields);
  return fields;
}

const cell = (text: string) => text.replaceAll('|', '\\|').replaceAll('\n', ' ');

/** The Markdown table of manifest.yaml's fields (docs/packs.md). */
export function renderManifestFields(): string {
  const rows = manifestFields().map((field) => {
    const presence = field.required ? 'required' : field.default === undefined ? 'optional' : `default \`${JSON.stringify(field.default)}\``;
    return `| \`${field.field}\` | ${cell(field.type)} | ${presence} | ${cell(field.description)} |`;
  });
  return ['| field | type | presence | meaning |', '|---|---|---|---|', ...rows].join('\n');
}

export const FIELDS_START = '<!-- manifest fields: generated from src/packs/manifest.ts by `npm run docs`; a unit test keeps it in sync -->';
export const FIELDS_END = '<!-- end of manifest fields -->';

/** docs/packs.md with its manifest field table regenerated (the rest is kept as written). */
export function withManifestFields(doc: string): string {
  const start = doc.indexOf(FIELDS_START);
  const end = doc.indexOf(FIELDS_END);
  if (start < 0 || end < start) throw new AiboxError('INVALID_FILE', 'docs/packs.md has no manifest field section', `put the lines ${FIELDS_START} and ${FIELDS_END} where the table goes`);
  return `${doc.slice(0, start + FIELDS_START.length)}\n${renderManifestFields()}\n${doc.slice(end)}`;
}
