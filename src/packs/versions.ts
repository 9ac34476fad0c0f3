import { EXACT_VERSION } from './manifest.js';

/** Numeric order of exact versions (MAJOR.MINOR.PATCH). */
export function compareVersions(a: string, b: string): number {
  const [left, right] = [a, b].map((version) => version.split('.').map(Number));
  for (let i = 0; i < 3; i++) {
    const difference = (left?.[i] ?? 0) - (right?.[i] ?? 0);
    if (difference !== 0) return difference;
  }
  return 0;
}

/** Whether an exact version satisfies a request: none (any), `21`, `21.0` or `21.0.2`. */
export function satisfies(version: string, requested: string | undefined): boolean {
  return requested === undefined || version === requested || version.startsWith(`${requested}.`);
}

/** The exact versions among a repository's tags (floating tags and signatures left out), newest first. */
export function exactVersions(tags: readonly string[]): string[] {
  return tags.filter((tag) => EXACT_VERSION.test(tag)).sort((a, b) => compareVersions(b, a));
}

/** The newest exact version among the tags that satisfies the request. */
export function newestMatching(tags: readonly string[], requested: string | undefined): string | undefined {
  return exactVersions(tags).find((version) => satisfies(version, requested));
}

/**
 * The floating tags that publishing `version` moves to it: `MAJOR.MINOR`, `MAJOR`
 * and `latest`, each only when `version` is the newest it covers (tags move only forward).
 */
export function floatingTags(version: string, existingTags: readonly string[]): string[] {
  const versions = [...exactVersions(existingTags), version];
  const [major, minor] = version.split('.');
  const candidates: [string, string | undefined][] = [
    [`${major}.${minor}`, `${major}.${minor}`],
    [`${major}`, `${major}`],
    ['latest', undefined],
  ];
  return candidates.filter(([, requested]) => newestMatching(versions, requested) === version).map(([tag]) => tag);
}
