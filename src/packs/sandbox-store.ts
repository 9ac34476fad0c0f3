import { z } from 'zod';
import { AiboxError } from '../core/errors.js';
import { parseJson } from '../core/json.js';
import type { Runner } from '../core/runner.js';
import { shellQuote } from '../ssh/client.js';
import type { LayerCompression } from './layer.js';

/**
 * The packs installed in one sandbox, kept in its toolpacks volume (so they
 * survive re-creation). Only root in the container writes there, through
 * `podman exec --user 0`: the sandbox user `dev` can read and run packs but
 * never change them. Root without capabilities can still write root-owned
 * folders, and gVisor sees the change at once (it is made inside the sandbox).
 */
export const TOOLPACKS = '/opt/toolpacks';
const STATE_DIR = `${TOOLPACKS}/.aibox`;
const STAGING = `${TOOLPACKS}/.staging`;
export const INSTALLED_FILE = `${STATE_DIR}/installed.json`;
export const ENV_FILE = `${STATE_DIR}/env.sh`;
/** tar's record size for extraction in the sandbox, in 512-byte blocks (1 MiB). */
export const TAR_RECORD_BLOCKS = 2048;

const installedPackSchema = z
  .object({
    version: z.string(),
    /** Digest of the pack's OCI manifest: what was verified and installed. */
    digest: z.string(),
    layer: z.string(),
    registry: z.string(),
    installedAt: z.string(),
    path: z.array(z.string()),
    vars: z.record(z.string(), z.string()),
    caches: z.array(z.object({ name: z.string(), path: z.string() })),
    /** Where it came from: installed at run time, or baked into an image variant. */
    source: z.enum(['install', 'image']).default('install'),
  })
  .strict();

const installedSchema = z.object({ version: z.literal(1), packs: z.record(z.string(), installedPackSchema) }).strict();

export type InstalledPack = z.infer<typeof installedPackSchema>;
export type Installed = z.infer<typeof installedSchema>;

function exec(run: Runner, container: string, script: string, args: readonly string[], options: { inputFile?: string; input?: string; user?: string } = {}) {
  return run('podman', ['exec', '-i', '--user', options.user ?? '0', container, 'sh', '-c', script, 'sh', ...args], { inputFile: options.inputFile, input: options.input });
}

/** A running sandbox: written as root through podman exec, read as dev through its (shared) SSH connection. */
export interface SandboxTarget {
  container: string;
  sshConfig: string;
}

/**
 * installed.json, read over the shared SSH connection (a few ms; podman exec costs ~0.4 s
 * under gVisor). That runs dev's shell, whose ~/.bashrc the agent controls: what aibox
 * writes back as root must be read `asRoot` (podman exec).
 */
export async function readInstalled(run: Runner, target: SandboxTarget, options: { asRoot?: boolean } = {}): Promise<Installed> {
  const { container } = target;
  // exec: the shell becomes cat instead of forking it (~50 ms under gVisor).
  const read = `if [ -r ${INSTALLED_FILE} ]; then exec cat ${INSTALLED_FILE}; fi`;
  const result = options.asRoot ? await exec(run, container, read, []) : await run('ssh', ['-F', target.sshConfig, container, read]);
  return parseInstalled(result.stdout, container);
}

/**
 * For an install, holding its lock: removes the staging folders an interrupted
 * install left behind and reads installed.json as root (never through dev's shell,
 * which the agent controls), in one podman exec.
 */
export async function prepareInstall(run: Runner, container: string): Promise<Installed> {
  const result = await exec(run, container, `rm -rf ${STAGING}; cat ${INSTALLED_FILE} 2>/dev/null || true`, []);
  return parseInstalled(result.stdout, container);
}

function parseInstalled(text: string, container: string): Installed {
  if (!text.trim()) return { version: 1, packs: {} };
  const parsed = installedSchema.safeParse(parseJson(text));
  if (!parsed.success) {
    throw new AiboxError('INVALID_FILE', `${INSTALLED_FILE} in ${container} is corrupted`, `remove it and reinstall the packs: podman exec --user 0 ${container} rm ${INSTALLED_FILE}; aibox install …`);
  }
  return parsed.data;
}

/**
 * Extracts a verified layer into TOOLPACKS/NAME/VERSION atomically: into a
 * staging folder first, then one rename. An interrupted run leaves only staging
 * folders, which the next install (holding the install lock) removes.
 */
export async function extractLayer(run: Runner, container: string, layerPath: string, compression: LayerCompression, name: string, version: string): Promise<void> {
  const script = [
    'set -eu',
    `mkdir -p ${STAGING} ${STATE_DIR} "${TOOLPACKS}/$1"`,
    `stage=$(mktemp -d ${STAGING}/"$1-$2".XXXXXX)`,
    // 1 MiB records (tar's default is 10 KiB): under gVisor each read and write is a round trip to
    // the gofer, and this halves the extraction of a JDK (docs/performance.md, tool packs).
    `${compression} -dc | tar -x -b ${TAR_RECORD_BLOCKS} --no-same-owner -C "$stage"`,
    'chmod 0755 "$stage"',
    `dest="${TOOLPACKS}/$1/$2"`,
    'if [ -e "$dest" ]; then mv "$dest" "$stage.old"; fi',
    'mv "$stage" "$dest"',
    'rm -rf "$stage.old"',
  ].join('\n');
  await exec(run, container, script, [name, version], { inputFile: layerPath });
}

/** Deletes a pack version's folder. */
export async function removePackDir(run: Runner, container: string, name: string, version: string): Promise<void> {
  await exec(run, container, `rm -rf "${TOOLPACKS}/$1/$2"; rmdir "${TOOLPACKS}/$1" 2>/dev/null || true`, [name, version]);
}

/** Writes installed.json and the shell environment of all packs, each atomically. */
export async function writeInstalled(run: Runner, container: string, installed: Installed): Promise<void> {
  // One podman exec (each costs ~0.4 s under gVisor): env.sh as an argument, installed.json on stdin.
  const script = `set -eu; mkdir -p ${STATE_DIR}; printf %s "$1" | base64 -d > ${ENV_FILE}.tmp; cat > ${INSTALLED_FILE}.tmp; chmod 0644 ${ENV_FILE}.tmp ${INSTALLED_FILE}.tmp; mv ${ENV_FILE}.tmp ${ENV_FILE}; mv ${INSTALLED_FILE}.tmp ${INSTALLED_FILE}`;
  await exec(run, container, script, [Buffer.from(renderEnv(installed)).toString('base64')], { input: `${JSON.stringify(installed, null, 2)}\n` });
}

/** Creates the packs' cache folders as dev (under /home/dev: on the home volume, so they survive re-creation). */
export async function ensureCacheDirs(run: Runner, container: string, paths: readonly string[]): Promise<void> {
  if (paths.length > 0) await exec(run, container, 'mkdir -p "$@"', paths, { user: '1000:1000' });
}

/** The packs' PATH entries and variables, sourced by every bash, zsh and sh (login or not) via /etc/aibox/env.sh. */
export function renderEnv(installed: Installed): string {
  const lines = ['# Written by aibox: the environment of the installed tool packs. Do not edit.'];
  for (const [name, pack] of Object.entries(installed.packs).sort(([a], [b]) => a.localeCompare(b))) {
    lines.push(`# ${name}@${pack.version}`);
    for (const [key, value] of Object.entries(pack.vars)) lines.push(`export ${key}=${shellQuote(value)}`);
    for (const dir of [...pack.path].reverse()) lines.push(`case ":$PATH:" in *:${dir}:*) ;; *) PATH=${shellQuote(dir)}:"$PATH" ;; esac`);
  }
  lines.push('export PATH', '');
  return lines.join('\n');
}
