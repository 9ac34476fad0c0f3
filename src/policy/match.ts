/** Glob matching for policy patterns: `*` matches any run of characters, case-insensitively. */
export function globMatch(pattern: string, value: string): boolean {
  const source = pattern
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${source}$`, 'i').test(value);
}

/**
 * Whether everything `inner` can match is also matched by `outer` (sound for the
 * patterns policies use: `outer` matching `inner` read as a literal string).
 */
export function patternCovers(outer: string, inner: string): boolean {
  return globMatch(outer, inner);
}

/** Whether `inner` is `outer` or a path below it. */
export function pathCovers(outer: string, inner: string): boolean {
  const base = outer.replace(/\/+$/, '');
  return inner === base || inner.startsWith(`${base}/`) || base === '';
}

/**
 * A repository as policies name it: host/path, without scheme, user or ".git".
 * `git@github.com:acme/app.git` and `https://github.com/acme/app` are both `github.com/acme/app`.
 */
export function normalizeRepo(remote: string): string {
  let repo = remote.trim();
  const scp = /^(?:[^@/]+@)?([^:/]+):(?!\/\/)(.+)$/.exec(repo);
  if (scp) repo = `${scp[1]}/${scp[2]}`;
  repo = repo.replace(/^[a-z+]+:\/\//i, '').replace(/^[^@/]+@/, '');
  repo = repo.replace(/:\d+\//, '/');
  return repo.replace(/\.git$/, '').replace(/\/+$/, '');
}
