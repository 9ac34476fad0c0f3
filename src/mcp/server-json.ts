import { mkdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { stringify } from 'yaml';
import { z } from 'zod';
import { AiboxError } from '../core/errors.js';
import { readRegularFile, writeFileAtomic } from '../core/files.js';
import { parseJson } from '../core/json.js';
import { validateFile } from '../core/yaml-file.js';
import type { McpServer } from './canonical.js';
import { mcpPackSchema, type McpPack } from './pack.js';

/**
 * Import of an MCP registry `server.json` (schema 2025-12-11) as an MCP pack.
 * Only the fields aibox uses are read; everything else may be there.
 *
 * Where the program comes from decides the shape:
 * - `--pack TOOLPACK --command CMD`: a signed tool pack provides CMD (the way
 *   aibox's own packs work); the package's arguments follow it.
 * - an npm package without `--pack`: `npx -y IDENTIFIER@VERSION` on the node@20
 *   pack, which fetches the server from the npm registry at launch, unverified:
 *   the pack needs egress to that registry, and the import says so.
 * - a remote (streamable-http) server: its URL, with every secret header read
 *   from the agent's environment.
 * Every environment variable becomes a reference to the agent's environment:
 * an MCP pack never holds a value.
 */
const input = z.object({ name: z.string(), description: z.string().optional(), value: z.string().optional(), isSecret: z.boolean().optional(), isRequired: z.boolean().optional() }).passthrough();
const argument = z.object({ type: z.string().optional(), name: z.string().optional(), value: z.string().optional(), default: z.string().optional() }).passthrough();

export const serverJsonSchema = z
  .object({
    name: z.string().min(1),
    description: z.string().min(1),
    version: z.string().min(1),
    packages: z
      .array(
        z
          .object({
            registryType: z.string(),
            identifier: z.string().min(1),
            version: z.string().optional(),
            transport: z.object({ type: z.string() }).passthrough(),
            environmentVariables: z.array(input).default([]),
            packageArguments: z.array(argument).default([]),
          })
          .passthrough(),
      )
      .default([]),
    remotes: z.array(z.object({ type: z.string(), url: z.string(), headers: z.array(input).default([]) }).passthrough()).default([]),
  })
  .passthrough();
export type ServerJson = z.infer<typeof serverJsonSchema>;

export interface ImportOptions {
  /** The MCP pack's name; default: the last part of the server's name. */
  name?: string;
  /** A tool pack that provides the server's command, e.g. mcp-jira@1.2.0. */
  pack?: string;
  /** The command that tool pack puts on PATH (needed with pack). */
  command?: string;
  /** The npm registry the sandbox uses (for the npx route's egress need). */
  npmRegistry?: string;
}

const envName = (header: string) => header.toUpperCase().replace(/[^A-Z0-9]+/g, '_').replace(/^_+|_+$/g, '');

function endpointOf(url: string): string {
  const parsed = new URL(url);
  return `${parsed.hostname}:${parsed.port || (parsed.protocol === 'http:' ? '80' : '443')}`;
}

/** A version the pack schema accepts (exact MAJOR.MINOR.PATCH), from what the server says. */
function exactVersion(version: string): string {
  const match = /^v?(\d+)\.(\d+)\.(\d+)/.exec(version);
  if (!match) throw new AiboxError('INVALID_FILE', `server.json: version "${version}" is not MAJOR.MINOR.PATCH`, 'fix the version in server.json');
  return `${match[1]}.${match[2]}.${match[3]}`;
}

function packageArgs(values: ServerJson['packages'][number]['packageArguments']): string[] {
  return values.flatMap((arg) => {
    const value = arg.value ?? arg.default;
    if (value === undefined) return [];
    return arg.type === 'named' && arg.name ? [arg.name, value] : [value];
  });
}

export function importServerJson(json: ServerJson, options: ImportOptions = {}): McpPack {
  const name = options.name ?? json.name.split('/').pop()?.replace(/[^A-Za-z0-9_-]+/g, '-').replace(/^-+/, '') ?? '';
  const base = { name, version: exactVersion(json.version), description: json.description };
  const stdio = json.packages.find((pkg) => pkg.transport.type === 'stdio');
  const remote = json.remotes.find((entry) => entry.type === 'streamable-http');
  let pack: unknown;
  if (stdio && (options.pack || stdio.registryType === 'npm')) {
    const env = Object.fromEntries(stdio.environmentVariables.map((variable) => [variable.name, { from: 'env' as const }]));
    const args = packageArgs(stdio.packageArguments);
    if (options.pack) {
      if (!options.command) throw new AiboxError('USAGE', `--pack ${options.pack} needs --command: the program that pack puts on PATH`, 'e.g. aibox mcp import server.json --pack mcp-jira@1.2.0 --command jira-mcp');
      pack = { ...base, server: { transport: 'stdio', command: options.command, args, env }, source: { pack: options.pack } };
    } else {
      if (!options.npmRegistry) throw new AiboxError('MISSING_PREREQ', 'the npm registry of this machine is unknown (npm config get registry)', 'set it with npm config set registry URL, or import with --pack TOOLPACK --command CMD');
      const server: McpServer = { transport: 'stdio', command: 'npx', args: ['-y', `${stdio.identifier}@${stdio.version ?? json.version}`, ...args], env };
      pack = { ...base, server, source: { pack: 'node@20' }, network_requires: [endpointOf(options.npmRegistry)] };
    }
  } else if (remote) {
    const headers = Object.fromEntries(remote.headers.map((header) => [header.name, { from: 'env' as const, name: envName(header.name) }]));
    pack = { ...base, server: { transport: 'http', url: remote.url, headers }, source: { image: true }, network_requires: [endpointOf(remote.url)] };
  } else {
    const kinds = [...json.packages.map((pkg) => `${pkg.registryType} (${pkg.transport.type})`), ...json.remotes.map((entry) => `remote (${entry.type})`)];
    throw new AiboxError(
      'USAGE',
      `server.json of ${json.name} offers ${kinds.join(', ') || 'nothing to run'}; aibox imports an npm package, a stdio program from a tool pack, or a streamable-http remote`,
      'build a tool pack with the server and import with --pack TOOLPACK --command CMD',
    );
  }
  const parsed = mcpPackSchema.safeParse(pack);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new AiboxError('INVALID_FILE', `server.json of ${json.name}: ${issue?.path.join('.') || 'the pack'} ${issue?.message ?? 'is not valid'}`, 'pass --name NAME (letters, digits, "-", "_") or fix server.json');
  }
  return parsed.data;
}

/** Reads FILE, imports it, and writes DIR/NAME.yaml (never over an existing pack unless force). */
export async function importServerJsonFile(file: string, dir: string, options: ImportOptions & { force?: boolean }): Promise<{ pack: McpPack; path: string; warnings: string[] }> {
  const text = await readRegularFile(file);
  if (text === undefined) throw new AiboxError('NOT_FOUND', `${file} does not exist or is not a regular file`, 'pass the path of an MCP registry server.json');
  const data = parseJson(text);
  if (data === undefined) throw new AiboxError('INVALID_FILE', `${file} is not valid JSON`, 'pass an MCP registry server.json');
  const pack = importServerJson(validateFile(serverJsonSchema, data, file), options);
  const path = join(dir, `${pack.name}.yaml`);
  if (!options.force && (await readRegularFile(path)) !== undefined) {
    throw new AiboxError('CONFLICT', `the MCP pack ${path} exists already`, 'pass --force to replace it, or --name to import under another name');
  }
  const header = `# Imported by aibox mcp import from ${basename(file)} (${pack.name} ${pack.version}).\n`;
  await mkdir(dir, { recursive: true });
  await writeFileAtomic(path, header + stringify(pack), 0o644);
  const warnings =
    'pack' in pack.source && pack.source.pack === 'node@20' && pack.server.transport === 'stdio' && pack.server.command === 'npx'
      ? [`${pack.name} runs through npx: the server is fetched from the npm registry when an agent starts it, without a signature; for a verified server, build a tool pack and import with --pack`]
      : [];
  return { pack, path, warnings };
}
