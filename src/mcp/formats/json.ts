import { getNodeValue, parseTree, printParseErrorCode, type Node, type ParseError } from 'jsonc-parser';
import { AiboxError } from '../../core/errors.js';
import { plain, type Container, type Format } from './format.js';
import { eolOf, indentAt, lineStart } from './lines.js';

/**
 * JSON and JSONC through Microsoft's jsonc-parser (VS Code's own): its syntax
 * tree gives each property's exact offsets, so aibox splices only its own
 * properties and every other byte — comments, trailing commas, key order,
 * indentation — stays as the user (or the agent) wrote it. Its `modify` is not
 * used: with formatting on, it re-indents the user's neighbouring properties.
 * Comments are accepted in every agent's file: aibox keeps what it finds.
 */

interface Tree {
  root: Node;
  /** The container object, when present. */
  container: Node | undefined;
}

function position(text: string, offset: number): string {
  const line = text.slice(0, offset).split('\n').length;
  return `${line}:${offset - lineStart(text, offset) + 1}`;
}

function propertyName(property: Node): unknown {
  return property.children?.[0]?.value;
}

function end(node: Node): number {
  return node.offset + node.length;
}

function parse(text: string, file: string, key: string): Tree | AiboxError {
  const errors: ParseError[] = [];
  const root = parseTree(text.trim() === '' ? '{}' : text, errors, { allowTrailingComma: true, disallowComments: false });
  const [error] = errors;
  if (error) return new AiboxError('INVALID_FILE', `${file}:${position(text, error.offset)} is not valid JSON (${printParseErrorCode(error.error)}); aibox left it unchanged`, `fix the syntax in ${file}, then run the command again`);
  if (root?.type !== 'object') return new AiboxError('INVALID_FILE', `${file}: the top level is not a JSON object; aibox left it unchanged`, `fix ${file} or move it aside`);
  const [property, again] = (root.children ?? []).filter((child) => propertyName(child) === key);
  if (again) return new AiboxError('CONFLICT', `${file}: "${key}" appears twice; aibox left the file unchanged`, `merge the two "${key}" objects in ${file}`);
  const container = property?.children?.[1];
  if (container && container.type !== 'object') return new AiboxError('INVALID_FILE', `${file}: "${key}" is not an object; aibox left the file unchanged`, `make "${key}" an object in ${file}`);
  const names = (container?.children ?? []).map(propertyName);
  const twice = names.find((name, index) => names.indexOf(name) !== index);
  if (twice !== undefined) return new AiboxError('CONFLICT', `${file}: "${key}" has two entries named "${String(twice)}"; aibox left the file unchanged`, `remove one of them from ${file}`);
  return { root, container };
}

function parsed(text: string, file: string, key: string): Tree {
  const tree = parse(text, file, key);
  if (tree instanceof AiboxError) throw tree;
  return tree;
}

/** The file's indentation step (its first indented line), two spaces when it has none. */
function indentUnit(text: string): string {
  const first = /^([ \t]+)\S/m.exec(text)?.[1];
  if (!first) return '  ';
  return first.startsWith('\t') ? '\t' : first;
}

function splice(text: string, start: number, length: number, insert: string): string {
  return text.slice(0, start) + insert + text.slice(start + length);
}

function startsLine(text: string, offset: number): boolean {
  return text.slice(lineStart(text, offset), offset).trim() === '';
}

/** A value rendered at an indentation, in the file's style (one line when the whole file is one line). */
function render(text: string, value: unknown, indent: string): string {
  if (!text.includes('\n')) return JSON.stringify(value);
  return JSON.stringify(value, null, indentUnit(text)).replaceAll('\n', eolOf(text) + indent);
}

function insertProperty(text: string, object: Node, key: string, value: unknown): string {
  const properties = object.children ?? [];
  const first = properties[0];
  const last = properties.at(-1);
  const compact = !text.includes('\n');
  const eol = compact ? '' : eolOf(text);
  const indent = compact ? '' : first && startsLine(text, first.offset) ? indentAt(text, first.offset) : indentAt(text, object.offset) + indentUnit(text);
  const property = `${indent}${JSON.stringify(key)}:${compact ? '' : ' '}${render(text, value, indent)}`;
  if (last) return splice(text, end(last), 0, `,${eol}${property}`);
  const innerStart = object.offset + 1;
  const inner = text.slice(innerStart, end(object) - 1);
  if (inner.trim() === '') return splice(text, innerStart, inner.length, `${eol}${property}${eol}${compact ? '' : indentAt(text, object.offset)}`);
  return splice(text, innerStart, 0, `${eol}${property}`);
}

/** The inverse of insertProperty; an object left with only whitespace inside becomes `{}`. */
function removeProperty(text: string, object: Node, key: string): string {
  const properties = object.children ?? [];
  const index = properties.findIndex((property) => propertyName(property) === key);
  const property = properties[index];
  if (!property) return text;
  const previous = properties[index - 1];
  const next = properties[index + 1];
  if (previous) return text.slice(0, end(previous)) + text.slice(end(property));
  if (next) return text.slice(0, property.offset) + text.slice(next.offset);
  let start = property.offset;
  while (start > object.offset + 1 && /\s/.test(text[start - 1] ?? '')) start--;
  const comma = /^\s*,/.exec(text.slice(end(property)))?.[0] ?? '';
  const removed = text.slice(0, start) + text.slice(end(property) + comma.length);
  const close = end(object) - 1 - (end(property) + comma.length - start);
  const inner = removed.slice(object.offset + 1, close);
  return inner.trim() === '' ? removed.slice(0, object.offset + 1) + removed.slice(close) : removed;
}

export function jsonFormat(key: string): Format {
  const container: Container = { key, kind: 'map' };
  return {
    container,
    read(text, file) {
      const tree = parse(text, file, key);
      return tree instanceof AiboxError ? tree : { data: plain(getNodeValue(tree.root)) };
    },
    set(current, name, value, file) {
      const text = current.trim() === '' ? `{}${eolOf(current)}` : current;
      const { root, container: object } = parsed(text, file, key);
      const property = object?.children?.find((child) => propertyName(child) === name);
      const old = property?.children?.[1];
      if (property && old) return splice(text, old.offset, old.length, render(text, value, indentAt(text, property.offset)));
      return object ? insertProperty(text, object, name, value) : insertProperty(text, root, key, { [name]: value });
    },
    remove(text, name, file) {
      const { container: object } = parsed(text, file, key);
      return object ? removeProperty(text, object, name) : text;
    },
    dropContainer(text, file) {
      return removeProperty(text, parsed(text, file, key).root, key);
    },
    isEmpty(text) {
      return text.trim() === '' || text.replace(/\s/g, '') === '{}';
    },
  };
}
