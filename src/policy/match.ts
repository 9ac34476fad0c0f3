import { AiboxError } from '../core/errors.js';

/*
 * Glob matching with the semantics of OPA's `glob.match(pattern, delimiters, value)`,
 * so a Rego policy over `aibox policy show --json` decides as aibox does. OPA compiles
 * the pattern with gobwas/glob (topdown/glob.go; syntax in gobwas/glob v0.2.3 glob.go):
 *   `*`  any run of characters without a delimiter    `**` any run of characters
 *   `?`  one character that is not a delimiter        `\c` the character c
 *   `[abc]`, `[a-z]`, `[!abc]`, `[!a-z]`  one character, delimiters included
 *   `{a,b}`  one of the alternatives (each a pattern; they nest)
 * Matching is case-sensitive; callers lowercase what DNS and git servers treat
 * case-insensitively. OPA reads an EMPTY delimiter list as ["."] and `null` as
 * "no delimiter" (OPA docs, policy-reference/builtins/glob), so a kind with no
 * delimiter is written `null` in Rego (see docs/opa/).
 */

export const GLOB_KINDS = ['host', 'repo', 'pack'] as const;
export type GlobKind = (typeof GLOB_KINDS)[number];

/** The delimiters of each kind of pattern: `*` and `?` stop at them. Packs have none. */
export const GLOB_DELIMITERS: Record<GlobKind, readonly string[]> = { host: ['.'], repo: ['/'], pack: [] };

const regexLiteral = (char: string) => char.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const classChar = (char: string) => `\\u{${char.codePointAt(0)?.toString(16)}}`;

/** The pattern as an anchored RegExp, or the reason it is not a valid glob. */
function compile(pattern: string, delimiters: readonly string[]): RegExp | string {
  const chars = [...pattern];
  const oneChar = delimiters.length > 0 ? `[^${delimiters.map(classChar).join('')}]` : '[\\s\\S]';
  let source = '';
  let depth = 0;
  for (let i = 0; i < chars.length; i++) {
    const char = chars[i] ?? '';
    if (char === '\\') {
      const next = chars[++i];
      if (next === undefined) return 'it ends with a lone "\\"';
      source += regexLiteral(next);
    } else if (char === '*') {
      if (chars[i + 1] === '*') {
        i++;
        source += '[\\s\\S]*';
      } else {
        source += `${oneChar}*`;
      }
    } else if (char === '?') {
      source += oneChar;
    } else if (char === '[') {
      const set = charClass(chars, i + 1);
      if (typeof set === 'string') return set;
      source += set.source;
      i = set.end;
    } else if (char === '{') {
      depth++;
      source += '(?:';
    } else if (char === ',' && depth > 0) {
      source += '|';
    } else if (char === '}' && depth > 0) {
      depth--;
      source += ')';
    } else {
      source += regexLiteral(char);
    }
  }
  if (depth > 0) return 'a "{" is not closed';
  return new RegExp(`^${source}$`, 'u');
}

/**
 * A class from `chars[start]` (just after "["), read as gobwas reads it: after an
 * optional "!", a character followed by "-" starts a range `lo-hi` that must close
 * right after hi; otherwise a non-empty list up to the first "]". aibox refuses "\\"
 * in a list (gobwas would read it as an escape) rather than mimic it.
 */
function charClass(chars: string[], start: number): { source: string; end: number } | string {
  const not = chars[start] === '!';
  const first = not ? start + 1 : start;
  const [lo, dash, hi, close] = chars.slice(first, first + 4);
  let set: string;
  let end: number;
  if (dash === '-') {
    if (lo === undefined || hi === undefined || close !== ']') return 'a range must be written like [a-z]';
    if ((hi.codePointAt(0) ?? 0) < (lo.codePointAt(0) ?? 0)) return `the range [${lo}-${hi}] is backwards`;
    set = `${classChar(lo)}-${classChar(hi)}`;
    end = first + 3;
  } else {
    end = chars.indexOf(']', first);
    if (end < 0) return 'a "[" is not closed';
    const list = chars.slice(first, end);
    if (list.length === 0 || list.includes('\\')) return 'a "[...]" list is empty or has a "\\"';
    set = list.map(classChar).join('');
  }
  return { source: `[${not ? '^' : ''}${set}]`, end };
}

/** Why `pattern` is not a glob aibox accepts, or undefined when it is one. */
export function globProblem(pattern: string): string | undefined {
  const compiled = compile(pattern, []);
  return typeof compiled === 'string' ? compiled : undefined;
}

export function globMatch(pattern: string, value: string, kind: GlobKind): boolean {
  const compiled = compile(pattern, GLOB_DELIMITERS[kind]);
  if (typeof compiled === 'string') throw new AiboxError('INVALID_FILE', `invalid pattern "${pattern}": ${compiled}`, 'fix the pattern in the policy file');
  return compiled.test(value);
}

/**
 * Whether everything `inner` matches is also matched by `outer` (the tighten-only
 * check). A false "no" only refuses a lower layer; a false "yes" would let it loosen,
 * so this answers yes only when it can tell:
 * - `inner` is literal: exactly when `outer` matches it;
 * - `inner` uses only `*` and `outer` has no `?`, `[` or `\`: when `outer` matches
 *   `inner` read as a literal. Then each `*` of `inner` is taken by a `*` or `**` of
 *   `outer`, which also takes any run without delimiters that `inner`'s `*` stands for;
 * - otherwise only when both are the same text.
 */
export function patternCovers(outer: string, inner: string, kind: GlobKind): boolean {
  if (outer === inner) return true;
  if (/[?[{\\]/.test(inner) || inner.includes('**')) return false;
  if (inner.includes('*') && /[?[\\]/.test(outer)) return false;
  return globMatch(outer, inner, kind);
}

/** Why `path` is not a plain absolute sandbox path, or undefined when it is one. */
export function pathProblem(path: string): string | undefined {
  if (!path.startsWith('/')) return 'must be an absolute path in the sandbox';
  const segments = path.slice(1).split('/');
  if (segments.some((segment) => segment === '.' || segment === '..')) return 'must not contain "." or ".." segments';
  if (segments.slice(0, -1).includes('')) return 'must not contain "//"';
  return undefined;
}

/** Whether `inner` is `outer` or a path below it; never for an inner path with "..", "." or "//". */
export function pathCovers(outer: string, inner: string): boolean {
  if (pathProblem(inner)) return false;
  const base = outer.replace(/\/+$/, '');
  return inner === base || inner.startsWith(`${base}/`) || base === '';
}
