import type { z } from 'zod';
import { AiboxError } from '../../core/errors.js';

/** Helpers shared by the store's SQL code: placeholders, and rows parsed back through the schemas. */

/** Optional fields are absent, not undefined, in what the store returns; NULL stays only where the schema means it. */
export function withoutNulls(row: Record<string, unknown>, keep: readonly string[] = []): Record<string, unknown> {
  return Object.fromEntries(Object.entries(row).filter(([key, value]) => value !== null || keep.includes(key)));
}

export function placeholders(count: number): string {
  return Array.from({ length: count }, () => '?').join(', ');
}

export function parseRows<T extends z.ZodType>(schema: T, rows: unknown[], where: string): z.infer<T>[] {
  return rows.map((row) => parseStored(schema, row, where, 'row'));
}

/** A row that does not fit the schema means the database was changed behind aibox's back. */
export function parseStored<T extends z.ZodType>(schema: T, data: unknown, where: string, what: string): z.infer<T> {
  const result = schema.safeParse(data);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = issue && issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
  throw new AiboxError('INVALID_FILE', `the approval database ${where} holds an invalid ${what}: ${field}${issue?.message ?? 'invalid'}`, 'restore it from a backup, or rebuild it from the staging refs');
}
