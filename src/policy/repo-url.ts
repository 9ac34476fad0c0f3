import type { Runner } from '../core/runner.js';

/** One `url.<base>.insteadOf <prefix>` (or `pushInsteadOf`) of the git configuration. */
export interface UrlRewrite {
  base: string;
  prefix: string;
  push: boolean;
}

export type CanonicalRepo = { repo: string } | { problem: string };

const SCHEMES = ['https', 'http', 'ssh', 'git', 'git+ssh', 'ssh+git'];

/**
 * The URL a push goes to after git's rewrites: the longest matching pushInsteadOf
 * prefix, else the longest matching insteadOf prefix (git applies one, never both).
 */
export function rewritePushUrl(url: string, rewrites: readonly UrlRewrite[]): string {
  for (const push of [true, false]) {
    const matching = rewrites.filter((rewrite) => rewrite.push === push && url.startsWith(rewrite.prefix));
    const longest = matching.reduce<UrlRewrite | undefined>((best, rewrite) => (best && best.prefix.length >= rewrite.prefix.length ? best : rewrite), undefined);
    if (longest) return longest.base + url.slice(longest.prefix.length);
  }
  return url;
}

/**
 * A repository as policies name it: lowercase `host/path`, whatever way the remote
 * is written. `https://Git.Example.com./acme//app.git/`, `git@git.example.com:acme/app`,
 * `ssh://git@git.example.com:22/acme/./app` and `git.example.com/acme/x/../app` are all
 * `git.example.com/acme/app`. Lowercase because the big git hosts treat paths
 * case-insensitively (the stricter reading). Policy patterns go through it too.
 */
export function canonicalRepo(remote: string, rewrites: readonly UrlRewrite[] = []): CanonicalRepo {
  const url = rewritePushUrl(remote.trim(), rewrites);
  if (/[\s\p{Cc}%]/u.test(url)) return { problem: 'it contains spaces, control characters or "%"' };
  if (/^[a-z0-9][a-z0-9+.-]*::/i.test(url)) return { problem: 'it goes through a remote helper (transport::address)' };
  let authority: string;
  let path: string;
  const withScheme = /^([a-z][a-z0-9+.-]*):\/\/([^/]*)(.*)$/i.exec(url);
  const scp = /^((?:[^@/]+@)?[^:/[\]]+):(.*)$/.exec(url);
  if (withScheme) {
    const scheme = withScheme[1]?.toLowerCase() ?? '';
    if (scheme === 'file') return { problem: 'it is a local repository (file://), not a remote one' };
    if (!SCHEMES.includes(scheme)) return { problem: `git does not push over "${scheme}://"` };
    if (/[?#]/.test(url)) return { problem: 'it has a query or fragment ("?" or "#")' };
    authority = (withScheme[2] ?? '').replace(/^.*@/, '');
    const port = /:(\d*)$/.exec(authority);
    if (port) authority = authority.slice(0, port.index);
    path = withScheme[3] ?? '';
  } else if (scp) {
    authority = (scp[1] ?? '').replace(/^.*@/, '');
    path = scp[2] ?? '';
  } else {
    if (/^(\/|~|\.\.?(\/|$))/.test(url)) return { problem: 'it is a local path, not a remote repository' };
    [authority = '', path = ''] = splitOnce(url, '/');
  }
  const host = authority.toLowerCase().replace(/\.+$/, '');
  if (host === '' || /[@:/\\]/.test(host)) return { problem: `"${authority}" is not a host name` };
  const segments: string[] = [];
  for (const segment of path.split('/')) {
    if (segment === '..') {
      if (segments.pop() === undefined) return { problem: 'its ".." climbs above the host' };
    } else if (segment !== '' && segment !== '.') {
      segments.push(segment);
    }
  }
  const last = segments.pop();
  if (last === undefined) return { problem: 'it names no repository path' };
  segments.push(last.length > '.git'.length ? last.replace(/\.git$/i, '') : last);
  return { repo: `${host}/${segments.join('/')}`.toLowerCase() };
}

function splitOnce(text: string, separator: string): [string, string] {
  const index = text.indexOf(separator);
  return index < 0 ? [text, ''] : [text.slice(0, index), text.slice(index + 1)];
}

/** The URL rewrites of the git configuration seen from `cwd`; none when git is missing or has none. */
export async function loadGitRewrites(run: Runner, cwd: string): Promise<UrlRewrite[]> {
  const result = await run('git', ['config', '--get-regexp', '^url\\..*\\.(pushinsteadof|insteadof)$'], { cwd, allowFailure: true, timeoutMs: 10_000 }).catch(() => undefined);
  if (result?.exitCode !== 0) return [];
  return result.stdout.split('\n').flatMap((line) => {
    const [key = '', prefix = ''] = splitOnce(line, ' ');
    const match = /^url\.(.+)\.(pushinsteadof|insteadof)$/i.exec(key);
    return match?.[1] ? [{ base: match[1], prefix, push: match[2]?.toLowerCase() === 'pushinsteadof' }] : [];
  });
}
