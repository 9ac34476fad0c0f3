import { join } from 'node:path';
import { z } from 'zod';
import { AiboxError } from '../core/errors.js';
import { readYamlFile } from '../core/yaml-file.js';

/** Variables a pack may not set: they would change how every shell or program in the sandbox runs. */
const SHELL_CONTROL = /^(PATH|LD_[A-Z_]*|BASH_ENV|ENV|SHELLOPTS|BASHOPTS|PROMPT_COMMAND|IFS|PS4|HOME|USER|SHELL|NODE_OPTIONS|PYTHONSTARTUP|PERL5OPT|GIT_[A-Z_]*|SSH_[A-Z_]*)$/;

export const PACK_NAME = /^[a-z][a-z0-9-]{0,39}$/;
export const EXACT_VERSION = /^\d+\.\d+\.\d+$/;

/** A dependency or install request: `node`, `node@20`, `node@20.11`, `node@20.11.1`. */
export const PACK_SPEC = /^([a-z][a-z0-9-]{0,39})(?:@(\d+(?:\.\d+){0,2}|latest))?$/;

const relativePath = z
  .string()
  .min(1)
  .refine((path) => !path.startsWith('/') && !path.split('/').includes('..'), 'must be a path inside the pack, without ".."');
const memory = z.string().regex(/^\d+(\.\d+)?[mg]$/i, 'must be a size such as 512m or 4g');
const endpoint = z.string().regex(/^[a-z0-9*]([a-z0-9*.-]*[a-z0-9])?:\d{1,5}$/i, 'must be HOST:PORT, e.g. repo.example.com:443');

/**
 * manifest.yaml of a tool pack: the single source of truth for its format
 * (docs/packs.md, and schemas/pack-manifest.schema.json for editors, come from it).
 */
export const packManifestSchema = z
  .object({
    name: z.string().regex(PACK_NAME, 'must be 1-40 lowercase letters, digits and "-", starting with a letter').describe('Pack name, e.g. java'),
    // YAML reads `version: 21.0` as a number: take its text, so the message says what is wrong with it.
    // (No .pipe: the JSON Schema of a pipe's input loses the pattern, and makes the field optional.)
    version: z.preprocess((value) => (typeof value === 'number' ? String(value) : value), z.string().regex(EXACT_VERSION, 'must be an exact version MAJOR.MINOR.PATCH, e.g. 21.0.2')).describe('Exact version; published versions are immutable'),
    description: z.string().min(1).describe('One line: what the pack provides'),
    maintainer: z.string().min(1).describe('Who to ask, e.g. platform@example.com'),
    install: z
      .object({
        method: z.enum(['docker-layer', 'script', 'nix']).describe('docker-layer: a prebuilt layer (primary); script: an approved script run in the sandbox; nix: nix profile install'),
        base_image: z.string().optional().describe('Image the recipe (Containerfile) builds FROM; default the sandbox image without aibox itself (localhost/aibox-system:<hash>)'),
        packages: z.array(z.string().min(1)).default([]).describe('Packages the recipe installs (Debian packages, or nix attributes for method nix)'),
        script: relativePath.optional().describe('For method script: the script in the pack folder, run as root in the sandbox with PACK_DIR set'),
      })
      .strict()
      .describe('How the pack gets into a sandbox'),
    network: z
      .object({ requires: z.array(endpoint).default([]).describe('Endpoints (HOST:PORT) the tool needs at run time; install refuses the pack unless the policy\'s network.egress allows each') })
      .strict()
      .default({ requires: [] })
      .describe('What the tool reaches over the network'),
    filesystem: z
      .object({
        creates: z.array(z.string()).default([]).describe('Paths outside /opt/toolpacks/NAME the tool writes to (informational)'),
        caches: z
          .array(
            z
              .object({
                name: z.string().regex(/^[a-z][a-z0-9-]{0,29}$/, 'must be a short lowercase name such as maven').describe('Short name of the cache, e.g. maven'),
                path: z.string().regex(/^\/home\/dev\/[^\0]+$/, 'must be a folder under /home/dev').describe('The folder, under /home/dev'),
              })
              .strict(),
          )
          .default([])
          .describe('Cache folders the tool uses; install creates them as dev in the home volume, so they survive re-creation'),
      })
      .strict()
      .default({ creates: [], caches: [] })
      .describe('Where the tool writes outside its own folder'),
    resources: z
      .object({
        min_memory: memory.optional().describe('Memory the tool needs at least, e.g. 1g'),
        recommended_memory: memory.optional().describe('Memory the tool works well with, e.g. 4g'),
      })
      .strict()
      .default({})
      .describe('What the tool needs of the sandbox (informational)'),
    security: z
      .object({
        checksum: z.string().regex(/^sha256:[a-f0-9]{64}$/, 'must be sha256:<64 hex digits>').optional().describe('Digest of the pack layer; `aibox pack build` fills it in'),
        signature: z.literal('cosign').default('cosign').describe('How the pack is signed: cosign-compatible keyed signatures'),
      })
      .strict()
      .default({ signature: 'cosign' })
      .describe('Integrity of the pack'),
    env: z
      .object({
        path: z.array(relativePath).default([]).describe('Folders of the pack put on PATH, e.g. bin'),
        vars: z.record(z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'must be an environment variable name'), z.string()).superRefine((vars, check) => {
          for (const name of Object.keys(vars).filter((key) => SHELL_CONTROL.test(key))) check.addIssue({ code: 'custom', path: [name], message: 'must not be a variable that controls the shell or the loader (PATH goes in env.path)' });
        }).default({}).describe('Variables; $PACK_DIR is the installed folder, ${setting:KEY} the host setting KEY at install (a variable whose setting is empty is left out)'),
      })
      .strict()
      .default({ path: [], vars: {} })
      .describe('The environment every shell in the sandbox gets from the pack'),
    depends: z.array(z.string().regex(PACK_SPEC, 'must be NAME or NAME@VERSION, e.g. node@20')).default([]).describe('Packs installed first, e.g. node@20'),
    tags: z.array(z.string().min(1)).default([]).describe('Free-form labels, e.g. jvm'),
  })
  .strict();

export type PackManifest = z.infer<typeof packManifestSchema>;

export const MANIFEST_FILE = 'manifest.yaml';

/** Reads and validates DIR/manifest.yaml; errors name the field and its line. */
export async function readPackManifest(dir: string): Promise<PackManifest> {
  const path = join(dir, MANIFEST_FILE);
  const manifest = await readYamlFile(packManifestSchema, path);
  if (!manifest) throw new AiboxError('NOT_FOUND', `no ${MANIFEST_FILE} in ${dir}`, `a pack folder holds ${MANIFEST_FILE}: see docs/packs.md`);
  return manifest;
}

/** The JSON Schema of manifest.yaml, for pack authors' editors (schemas/pack-manifest.schema.json). */
export function manifestJsonSchema(): string {
  return `${JSON.stringify({ ...z.toJSONSchema(packManifestSchema, { io: 'input' }), title: 'aibox tool pack manifest' }, null, 2)}\n`;
}

export interface PackRequest {
  name: string;
  /** undefined or "latest": the newest; "21": newest 21.x.y; "21.0": newest 21.0.x; "21.0.2": exactly. */
  version?: string;
}

export function parsePackSpec(spec: string): PackRequest {
  const match = PACK_SPEC.exec(spec.trim());
  if (!match?.[1]) throw new AiboxError('USAGE', `invalid pack "${spec}"`, 'use NAME or NAME@VERSION, e.g. java, java@21, java@21.0.2');
  return { name: match[1], version: match[2] === 'latest' ? undefined : match[2] };
}

export function formatSpec(request: PackRequest): string {
  return request.version ? `${request.name}@${request.version}` : request.name;
}
