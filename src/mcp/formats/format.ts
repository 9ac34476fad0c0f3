import type { AiboxError } from '../../core/errors.js';

/** Where an agent keeps its servers: a top-level key holding a map by name, or a list of `{name, …}`. */
export interface Container {
  key: string;
  kind: 'map' | 'list';
}

/**
 * One file format, edited as text so every byte aibox does not own stays as
 * it is. `set` and `remove` are called only after `read` succeeded on the same
 * text; they throw an AiboxError (CONFLICT) when an entry cannot be edited.
 */
export interface Format {
  container: Container;
  /** The document as plain data ('' is an absent file), or why aibox must not touch it. */
  read(text: string, file: string): { data: unknown } | AiboxError;
  /** Adds the entry at the end of the container, or replaces it where it is. */
  set(text: string, name: string, value: unknown, file: string): string;
  remove(text: string, name: string, file: string): string;
  /** Removes the container key itself (aibox created it and it is empty now). */
  dropContainer(text: string, file: string): string;
  /** The text holds nothing at all, so a file aibox created may go. */
  isEmpty(text: string): boolean;
}

/** Plain objects and arrays (parsers hand out null-prototype objects, which deep-equality tells apart). */
export function plain(value: unknown): unknown {
  return value === undefined ? undefined : JSON.parse(JSON.stringify(value));
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function containerOf(data: unknown, container: Container): unknown {
  return isRecord(data) ? data[container.key] : undefined;
}

/** The named entries of the container, as plain data. */
export function entriesOf(data: unknown, container: Container): Map<string, unknown> {
  const value = containerOf(data, container);
  if (container.kind === 'map') return new Map(isRecord(value) ? Object.entries(value) : []);
  const items = Array.isArray(value) ? value.filter(isRecord) : [];
  return new Map(items.flatMap((item) => (typeof item.name === 'string' ? [[item.name, item] as const] : [])));
}

/** Nothing (absent, null, `{}` or `[]`). */
export function isEmptyContainer(value: unknown): boolean {
  if (value === undefined || value === null) return true;
  if (Array.isArray(value)) return value.length === 0;
  return isRecord(value) && Object.keys(value).length === 0;
}

/** The document without the named entries, and without the container once it is empty. */
export function withoutEntries(data: unknown, container: Container, names: ReadonlySet<string>): unknown {
  if (!isRecord(data)) return data;
  const { [container.key]: value, ...rest } = data;
  let kept = value;
  if (container.kind === 'map' && isRecord(value)) kept = Object.fromEntries(Object.entries(value).filter(([name]) => !names.has(name)));
  if (container.kind === 'list' && Array.isArray(value)) kept = value.filter((item) => !(isRecord(item) && typeof item.name === 'string' && names.has(item.name)));
  return isEmptyContainer(kept) ? rest : { ...rest, [container.key]: kept };
}
