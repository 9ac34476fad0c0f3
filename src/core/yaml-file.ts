import { isNode, LineCounter, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';
import { AiboxError } from './errors.js';
import { readRegularFile } from './files.js';

/** How often aliases (`*name`) may expand: plenty for hand-written files, nowhere near a "billion laughs". */
const MAX_ALIAS_COUNT = 100;

const lineCounters = new WeakMap<Document, LineCounter>();

/** The line of the node at `path` (or of its nearest parent that exists), for error messages. */
function lineOf(document: Document, path: readonly PropertyKey[]): number | undefined {
  const counter = lineCounters.get(document);
  for (let depth = path.length; counter && depth >= 0; depth--) {
    const node = document.getIn(path.slice(0, depth), true);
    if (isNode(node) && node.range) return counter.linePos(node.range[0]).line;
  }
  return undefined;
}

/** Reads a YAML file as a Document (comments kept), or undefined when absent. */
export async function readYamlDocument(path: string): Promise<Document | undefined> {
  const text = await readRegularFile(path);
  if (text === undefined) return undefined;
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { prettyErrors: false, lineCounter });
  lineCounters.set(document, lineCounter);
  const [first] = document.errors;
  if (first) {
    const line = first.linePos?.[0]?.line;
    throw new AiboxError(
      'INVALID_FILE',
      `${path}${line ? `:${line}` : ''} is not valid YAML: ${first.message.split('\n')[0]}`,
      `fix the syntax in ${path}`,
    );
  }
  return document;
}

/** Reads and validates a YAML file (an empty file is `{}`), or undefined when absent. */
export async function readYamlFile<T extends z.ZodType>(schema: T, path: string): Promise<z.infer<T> | undefined> {
  const document = await readYamlDocument(path);
  if (!document) return undefined;
  let data: unknown;
  try {
    data = document.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (error) {
    // yaml throws here only for aliases: too many expansions, or one without its anchor.
    throw new AiboxError('INVALID_FILE', `${path} is not valid YAML: ${error instanceof Error ? error.message : String(error)}`, `fix or remove the aliases (*name) in ${path}`);
  }
  return validateFile(schema, data ?? {}, path, (at) => lineOf(document, at));
}

/** Validates parsed data against a schema; the error names the file, the field and the problem. */
export function validateFile<T extends z.ZodType>(schema: T, data: unknown, path: string, line?: (at: readonly PropertyKey[]) => number | undefined): z.infer<T> {
  const result = schema.safeParse(data);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const where = issue && issue.path.length > 0 ? issue.path.join('.') : '(top level)';
  const at = issue && line?.(issue.path);
  throw new AiboxError('INVALID_FILE', `${path}${at ? `:${at}` : ''}: ${where}: ${issue?.message ?? 'invalid'}`, `fix ${where} in ${path}`);
}
