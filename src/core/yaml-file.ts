import { parseDocument, type Document } from 'yaml';
import type { z } from 'zod';
import { AiboxError } from './errors.js';
import { readRegularFile } from './files.js';

/** How often aliases (`*name`) may expand: plenty for hand-written files, nowhere near a "billion laughs". */
const MAX_ALIAS_COUNT = 100;

/** Reads a YAML file as a Document (comments kept), or undefined when absent. */
export async function readYamlDocument(path: string): Promise<Document | undefined> {
  const text = await readRegularFile(path);
  if (text === undefined) return undefined;
  const document = parseDocument(text, { prettyErrors: false });
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
  return validateFile(schema, data ?? {}, path);
}

/** Validates parsed data against a schema; the error names the file, the field and the problem. */
export function validateFile<T extends z.ZodType>(schema: T, data: unknown, path: string): z.infer<T> {
  const result = schema.safeParse(data);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const where = issue && issue.path.length > 0 ? issue.path.join('.') : '(top level)';
  throw new AiboxError('INVALID_FILE', `${path}: ${where}: ${issue?.message ?? 'invalid'}`, `fix ${where} in ${path}`);
}
