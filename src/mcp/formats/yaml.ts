import { isMap, isScalar, isSeq, LineCounter, parseDocument, stringify, type Pair, type ParsedNode } from 'yaml';
import { AiboxError } from '../../core/errors.js';
import type { Container, Format } from './format.js';
import { deleteLines, indentAt, insertLines, lineEnd, lineStart, replaceLines } from './lines.js';

/**
 * YAML through the `yaml` package's Document API, used to validate the file
 * and to find each item's exact lines. aibox then adds, replaces and removes
 * whole lines of its own items only, so comments, quoting and indentation of
 * everything else stay byte for byte (re-serialising the document would not:
 * it normalises indentation and spacing). The container must be block style.
 */

const MAX_ALIAS_COUNT = 100;

interface Item {
  name: string | undefined;
  /** Whole lines of the item, [start, end). */
  start: number;
  end: number;
  indent: string;
}

interface Tree {
  pair: Pair<ParsedNode, ParsedNode | null> | undefined;
  items: Item[];
}

function problem(code: 'INVALID_FILE' | 'CONFLICT', file: string, what: string, fix: string): AiboxError {
  return new AiboxError(code, `${file}: ${what}; aibox left it unchanged`, fix);
}

function parse(text: string, file: string, container: Container): { data: unknown; tree: Tree } | AiboxError {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { prettyErrors: false, lineCounter, uniqueKeys: true });
  const [error] = doc.errors;
  if (error) {
    const line = lineCounter.linePos(error.pos[0]).line;
    return new AiboxError('INVALID_FILE', `${file}:${line} is not valid YAML (${error.message.split('\n')[0]}); aibox left it unchanged`, `fix the syntax in ${file}, then run the command again`);
  }
  const contents = doc.contents;
  const empty = contents === null || (isScalar(contents) && contents.value === null);
  if (!empty && !isMap(contents)) return problem('INVALID_FILE', file, 'the top level is not a mapping', `fix ${file} or move it aside`);
  if (isMap(contents) && contents.flow) return problem('CONFLICT', file, 'the top level is a flow mapping ({…})', `write ${file} in block style`);
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) ?? {};
  } catch (cause) {
    return problem('INVALID_FILE', file, `its aliases cannot be expanded (${cause instanceof Error ? cause.message : String(cause)})`, `fix or remove the aliases (*name) in ${file}`);
  }
  const pair = isMap(contents) ? contents.items.find((candidate) => isScalar(candidate.key) && candidate.key.value === container.key) : undefined;
  const value = pair?.value;
  if (!value || (isScalar(value) && value.value === null)) return { data, tree: { pair, items: [] } };
  const wanted = container.kind === 'map' ? isMap(value) : isSeq(value);
  if (!wanted) return problem('INVALID_FILE', file, `${container.key} is not a ${container.kind === 'map' ? 'mapping' : 'list'}`, `fix ${container.key} in ${file}`);
  if ((isMap(value) || isSeq(value)) && value.flow && value.items.length > 0) {
    return problem('CONFLICT', file, `${container.key} is written in flow style ([…] or {…})`, `write ${container.key} as an indented block in ${file}`);
  }
  const items: Item[] = [];
  if (isMap(value)) {
    for (const entry of value.items) {
      const start = entry.key.range[0];
      items.push({ name: isScalar(entry.key) ? String(entry.key.value) : undefined, start: lineStart(text, start), end: lineEnd(text, (entry.value ?? entry.key).range[1]), indent: indentAt(text, start) });
    }
  }
  if (isSeq(value)) {
    for (const entry of value.items) {
      const dash = text.lastIndexOf('-', entry.range[0]);
      if (dash < 0 || text.slice(dash + 1, entry.range[0]).trim() !== '') return problem('CONFLICT', file, `an item of ${container.key} is not a "- " list item`, `write ${container.key} as a block list in ${file}`);
      const name = isMap(entry) ? entry.get('name') : undefined;
      items.push({ name: typeof name === 'string' ? name : undefined, start: lineStart(text, dash), end: lineEnd(text, entry.range[1]), indent: indentAt(text, dash) });
    }
  }
  const names = items.flatMap((item) => (item.name === undefined ? [] : [item.name]));
  const twice = names.find((name, index) => names.indexOf(name) !== index);
  if (twice !== undefined) return problem('CONFLICT', file, `${container.key} has two entries named "${twice}"`, `remove one of them from ${file}`);
  return { data, tree: { pair, items } };
}

function treeOf(text: string, file: string, container: Container): Tree {
  const result = parse(text, file, container);
  if (result instanceof AiboxError) throw result;
  return result.tree;
}

function renderItem(container: Container, name: string, value: unknown, indent: string): string[] {
  const node = container.kind === 'map' ? { [name]: value } : [value];
  const text = stringify(node, { indent: 2, lineWidth: 0, aliasDuplicateObjects: false });
  return text.replace(/\n$/, '').split('\n').map((line) => indent + line);
}

export function yamlFormat(container: Container): Format {
  const empty = container.kind === 'list' ? '[]' : '{}';
  return {
    container,
    read(text, file) {
      const result = parse(text, file, container);
      return result instanceof AiboxError ? result : { data: result.data };
    },
    set(text, name, value, file) {
      const { pair, items } = treeOf(text, file, container);
      const existing = items.find((item) => item.name === name);
      if (existing) return replaceLines(text, existing.start, existing.end, renderItem(container, name, value, existing.indent));
      const last = items.at(-1);
      if (last) return insertLines(text, last.end, renderItem(container, name, value, items[0]?.indent ?? last.indent));
      if (!pair) return insertLines(text, text.length, [`${container.key}:`, ...renderItem(container, name, value, '  ')]);
      // An empty container (`key:`, `key: []`, `key: {}`, `key: ~`): drop the value so a block can follow.
      const [from, to] = pair.value?.range ?? [0, 0];
      const cut = to > from ? text.slice(0, text[from - 1] === ' ' ? from - 1 : from) + text.slice(to) : text;
      const keyAt = pair.key.range[0];
      return insertLines(cut, lineEnd(cut, keyAt + 1), renderItem(container, name, value, `${indentAt(cut, keyAt)}  `));
    },
    remove(text, name, file) {
      const { pair, items } = treeOf(text, file, container);
      const item = items.find((candidate) => candidate.name === name);
      if (!item || !pair) return text;
      const removed = deleteLines(text, item.start, item.end);
      if (items.length > 1) return removed;
      // The container is empty now: write it back as `[]` or `{}` (a bare `key:` would be null).
      const colon = removed.indexOf(':', pair.key.range[1]);
      return `${removed.slice(0, colon + 1)} ${empty}${removed.slice(colon + 1)}`;
    },
    dropContainer(text, file) {
      const { pair } = treeOf(text, file, container);
      if (!pair) return text;
      return deleteLines(text, lineStart(text, pair.key.range[0]), lineEnd(text, (pair.value ?? pair.key).range[1]));
    },
    isEmpty(text) {
      return text.trim() === '';
    },
  };
}
