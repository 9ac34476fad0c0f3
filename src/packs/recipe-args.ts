import { DEBIAN_SUITE, debianMirror, npmRegistry, type PackageSources } from '../config/package-sources.js';
import type { Config } from '../config/settings.js';
import { AiboxError } from '../core/errors.js';
import type { Runner } from '../core/runner.js';

const ARG_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Where a recipe downloads from: the npm registry and Debian mirror this machine
 * uses (an org's Nexus or Artifactory when it has one), the same ones the image is
 * built from. aibox names no registry host of its own.
 */
export async function recipeMirrors(run: Runner, config: Config): Promise<PackageSources> {
  const [debian, npm] = await Promise.all([config['image.mirror'] || debianMirror(DEBIAN_SUITE), npmRegistry(run)]);
  return { debianMirror: debian, npmRegistry: npm };
}

/** `--build-arg KEY=VALUE` flags, checked: a bad one is a usage error naming it. */
export function parseBuildArgs(pairs: readonly string[]): Record<string, string> {
  const args: Record<string, string> = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    const key = at > 0 ? pair.slice(0, at) : '';
    if (!ARG_NAME.test(key)) throw new AiboxError('USAGE', `invalid --build-arg "${pair}"`, 'use KEY=VALUE, e.g. --build-arg GRADLE_MIRROR=https://repo.example.com/gradle');
    if (key === 'BASE') throw new AiboxError('USAGE', '--build-arg BASE is set by aibox (the sandbox image without aibox itself)', 'to build FROM another image, set install.base_image in manifest.yaml');
    args[key] = pair.slice(at + 1);
  }
  return args;
}

/**
 * The `podman build` arguments of a recipe: BASE, then NPM_REGISTRY and
 * DEBIAN_MIRROR from the machine (without a trailing slash, so recipes write
 * `${NPM_REGISTRY}/NAME/-/FILE`), then the given ones, which win.
 */
export function recipeBuildArgs(base: string, mirrors: PackageSources, extra: Readonly<Record<string, string>> = {}): string[] {
  const trim = (url: string | undefined) => url?.replace(/\/+$/, '');
  const values: Record<string, string | undefined> = { BASE: base, NPM_REGISTRY: trim(mirrors.npmRegistry), DEBIAN_MIRROR: trim(mirrors.debianMirror), ...extra };
  return Object.entries(values).flatMap(([key, value]) => (value === undefined ? [] : ['--build-arg', `${key}=${value}`]));
}
