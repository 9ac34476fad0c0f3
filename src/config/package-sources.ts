import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, realpath, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { findOnPath, type Runner } from '../core/runner.js';

/**
 * The package registries this machine is configured to use. aibox names no
 * registry host of its own: the image mirror and the built-in egress policy
 * come from the machine's apt sources and npm configuration.
 */
export interface PackageSources {
  /** Base URL of the Debian archive apt uses for `suite`, e.g. http://mirror.example.com/debian. */
  debianMirror?: string;
  /** The registry URL npm uses. */
  npmRegistry?: string;
}

const APT_DIR = '/etc/apt';

/** The Debian release the sandbox image is built from. */
export const DEBIAN_SUITE = 'bookworm';

/** The first apt source (deb822 `.sources` or one-line `sources.list`) that serves `suite` itself. */
export async function debianMirror(suite: string, aptDir = APT_DIR): Promise<string | undefined> {
  const files = [join(aptDir, 'sources.list')];
  const partsDir = join(aptDir, 'sources.list.d');
  const parts = await readdir(partsDir).catch(() => []);
  files.push(...parts.filter((name) => name.endsWith('.sources') || name.endsWith('.list')).sort().map((name) => join(partsDir, name)));
  for (const file of files) {
    const text = await readFile(file, 'utf8').catch(() => '');
    const found = file.endsWith('.sources') ? fromDeb822(text, suite) : fromOneLine(text, suite);
    if (found) return found.replace(/\/+$/, '');
  }
  return undefined;
}

function fromDeb822(text: string, suite: string): string | undefined {
  for (const stanza of text.split(/\n\s*\n/)) {
    const field = (name: string) => new RegExp(`^${name}:\\s*(.+)$`, 'im').exec(stanza)?.[1]?.trim().split(/\s+/) ?? [];
    if (!field('Types').includes('deb') || /^Enabled:\s*no/im.test(stanza)) continue;
    if (field('Suites').includes(suite)) return field('URIs')[0];
  }
  return undefined;
}

function fromOneLine(text: string, suite: string): string | undefined {
  for (const line of text.split('\n')) {
    const words = line.replace(/#.*/, '').replace(/\[[^\]]*\]/, '').trim().split(/\s+/);
    if (words[0] === 'deb' && words[2] === suite) return words[1];
  }
  return undefined;
}

/** The registry npm is configured with (`npm config get registry`), or undefined without npm. */
export async function npmRegistry(run: Runner): Promise<string | undefined> {
  const result = await run('npm', ['config', 'get', 'registry'], { allowFailure: true, timeoutMs: 10_000 }).catch(() => undefined);
  const url = result?.exitCode === 0 ? result.stdout.trim() : '';
  return /^https?:\/\//.test(url) ? url : undefined;
}

/**
 * npmRegistry, remembered in `cacheDir` while npm's inputs stay the same: running
 * npm costs ~0.25 s, on every command that loads the built-in policy. The key holds
 * the folder (a project's .npmrc), npm's environment variables, and the size and
 * time of every npmrc npm reads and of npm itself; an entry lives a day at most.
 */
export async function cachedNpmRegistry(run: Runner, cacheDir: string, cwd: string, env: NodeJS.ProcessEnv): Promise<string | undefined> {
  const npm = await findOnPath('npm', env);
  const files = [join(cwd, '.npmrc'), join(env.HOME ?? '', '.npmrc'), '/etc/npmrc', '/usr/etc/npmrc', '/usr/local/etc/npmrc', ...(npm ? [await realpath(npm).catch(() => npm)] : [])];
  const stamps = await Promise.all(files.map(async (file) => `${file}:${(await stat(file).then((info) => `${info.size}:${info.mtimeMs}`, () => '-'))}`));
  const npmEnv = Object.entries(env).filter(([name]) => /^npm_config_/i.test(name)).sort();
  const key = createHash('sha256').update(JSON.stringify({ stamps, npmEnv, day: Math.floor(Date.now() / 86_400_000) })).digest('hex');
  const file = join(cacheDir, 'npm-registry', key);
  const cached = await readFile(file, 'utf8').catch(() => undefined);
  if (cached !== undefined) return cached || undefined;
  const registry = await npmRegistry(run);
  await mkdir(dirname(file), { recursive: true, mode: 0o700 }).then(() => writeFile(file, registry ?? '', { mode: 0o600 })).catch(() => undefined);
  return registry;
}

export async function packageSources(run: Runner, suite: string, npm: () => Promise<string | undefined> = () => npmRegistry(run)): Promise<PackageSources> {
  const [mirror, registry] = await Promise.all([debianMirror(suite), npm()]);
  return { debianMirror: mirror, npmRegistry: registry };
}
