import { parseTree, printParseErrorCode, type Node, type ParseError } from 'jsonc-parser';
import { AiboxError } from '../core/errors.js';
import { eolOf, indentAt } from '../mcp/formats/lines.js';

/**
 * The VS Code server baked into the image (pure parts). The org pins a server commit and
 * a mirror; `aibox image build` downloads the server archive and the curated VSIX files
 * on the host, checks each sha256 before anything is unpacked (vscode-fetch.ts), and the
 * Containerfile installs them under /opt/vscode-server/<commit> (root's, read-only for
 * dev). /home/dev is a volume, so the start's shell setup links that server into both
 * layouts VS Code looks in and merges telemetry off into the machine settings.
 */

/** Where the image keeps the server: /opt/vscode-server/<commit>/{server,extensions}, and the commit in ./commit. */
export const VSCODE_OPT = '/opt/vscode-server';

/** VS Code's name of this machine's architecture in server download URLs (server-linux-<arch>). */
export function vscodeArch(arch: string = process.arch): string {
  const names: Record<string, string> = { x64: 'x64', arm64: 'arm64', arm: 'armhf' };
  const name = names[arch];
  if (!name) throw new AiboxError('MISSING_PREREQ', `VS Code has no Linux server for the architecture ${arch}`, 'unset vscode.serverUrl: aibox config set vscode.serverUrl ""');
  return name;
}

/** Replaces {name} placeholders; an unknown placeholder is an error naming the setting. */
export function expandUrl(template: string, values: Record<string, string>, setting: string): string {
  return template.replace(/\{([^}]*)\}/g, (_whole, name: string) => {
    const value = values[name];
    if (value === undefined) {
      throw new AiboxError('INVALID_FILE', `setting ${setting} has an unknown placeholder {${name}} in ${template}`, `use only ${Object.keys(values).map((key) => `{${key}}`).join(', ')}: aibox config set ${setting} URL`);
    }
    return encodeURIComponent(value);
  });
}

export interface VscodeExtension {
  publisher: string;
  name: string;
  version: string;
  sha256: string;
}

/** `publisher.name-version`: the VSIX file name in the build context. */
export function extensionFile(extension: VscodeExtension): string {
  return `${extension.publisher}.${extension.name}-${extension.version}.vsix`;
}

const EXTENSION_LINE = /^([a-z0-9][\w-]*)\.([a-z0-9][\w.-]*)@(\d+\.\d+\.\d+[\w.+-]*)\s+(?:sha256:)?([0-9a-f]{64})$/i;

/**
 * The curated extension list: one `publisher.name@version sha256` a line (`sha256:` prefix
 * allowed), `#` comments and blank lines ignored. A bad line or an extension listed twice
 * is an error naming file and line.
 */
export function parseExtensionList(text: string, file: string): VscodeExtension[] {
  const extensions: VscodeExtension[] = [];
  const seen = new Map<string, number>();
  text.split('\n').forEach((raw, index) => {
    const line = raw.replace(/#.*/, '').trim();
    if (line === '') return;
    const at = `${file}:${index + 1}`;
    const match = EXTENSION_LINE.exec(line);
    if (!match) throw new AiboxError('INVALID_FILE', `${at}: not an extension line: ${JSON.stringify(line)}`, 'write publisher.name@version followed by the sha256 of its VSIX, e.g. example.linter@1.2.3 <64 hex digits>');
    const [, publisher = '', name = '', version = '', sha256 = ''] = match;
    const id = `${publisher}.${name}`.toLowerCase();
    const first = seen.get(id);
    if (first !== undefined) throw new AiboxError('CONFLICT', `${at}: ${publisher}.${name} is already listed on line ${first}`, `keep one version of it in ${file}`);
    seen.set(id, index + 1);
    extensions.push({ publisher, name, version, sha256: sha256.toLowerCase() });
  });
  return extensions;
}

export const TELEMETRY_KEY = 'telemetry.telemetryLevel';

/**
 * The machine settings with `"telemetry.telemetryLevel": "off"`, every other byte (the
 * user's keys, comments, order, indentation) as it was. Returns undefined when the file
 * already says off. Text that is not a JSON(C) object is an error: aibox never rewrites
 * a file it cannot read.
 */
export function mergeMachineSettings(current: string, file: string): string | undefined {
  const text = current.trim() === '' ? '{}\n' : current;
  const errors: ParseError[] = [];
  const root = parseTree(text, errors, { allowTrailingComma: true, disallowComments: false });
  const [error] = errors;
  if (error) throw new AiboxError('INVALID_FILE', `${file} is not valid JSON (${printParseErrorCode(error.error)} at offset ${error.offset}); aibox left it unchanged`, `fix ${file}, then run aibox start again`);
  if (root?.type !== 'object') throw new AiboxError('INVALID_FILE', `${file}: the top level is not a JSON object; aibox left it unchanged`, `fix ${file} or move it aside`);
  const properties = root.children ?? [];
  const existing = properties.filter((property: Node) => property.children?.[0]?.value === TELEMETRY_KEY);
  const value = JSON.stringify('off');
  if (existing.length > 0) {
    // The last one is what VS Code uses; each one says off afterwards.
    let out = text;
    for (const property of [...existing].reverse()) {
      const old = property.children?.[1];
      if (!old) continue;
      if (old.value === 'off') continue;
      out = out.slice(0, old.offset) + value + out.slice(old.offset + old.length);
    }
    return out === text && current.trim() !== '' ? undefined : out;
  }
  const compact = !text.includes('\n');
  const eol = compact ? '' : eolOf(text);
  const first = properties[0];
  const indent = compact ? '' : first ? indentAt(text, first.offset) || '  ' : '  ';
  const property = `${indent}${JSON.stringify(TELEMETRY_KEY)}:${compact ? '' : ' '}${value}`;
  const last = properties.at(-1);
  if (last) {
    const end = last.offset + last.length;
    return `${text.slice(0, end)},${eol}${property}${text.slice(end)}`;
  }
  const open = root.offset + 1;
  const close = root.offset + root.length - 1;
  const inner = text.slice(open, close);
  if (inner.trim() === '') return `${text.slice(0, open)}${eol}${property}${eol}${text.slice(close)}`;
  // Only comments inside: the property goes after them.
  let at = close;
  while (at > open && /\s/.test(text[at - 1] ?? '')) at--;
  return `${text.slice(0, at)}${eol}${property}${text.slice(at)}`;
}
