import { existsSync } from 'node:fs';
import { link, lstat, mkdir, unlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { AiboxError } from '../../core/errors.js';
import { readRegularFile, writeFileAtomic } from '../../core/files.js';
import type { Runner } from '../../core/runner.js';
import { stagingRoot } from '../staging.js';
import type { HookPolicy } from './policy.js';
import { HOOK_MARKER, preReceiveScript } from './script.js';

/**
 * Installs the pre-receive hook in a bare repository on the git server: checks
 * that it is one, never replaces a hook aibox did not write unless forced (and
 * then keeps it beside as pre-receive.aibox-bak), and swaps the hook in with one
 * rename, so a push always meets either the old hook or the whole new one.
 */

/** What install-hook reports (its --json result). */
export interface InstalledHook {
  repository: string;
  path: string;
  /** What was there: nothing, an earlier aibox hook, or a foreign hook (now the backup). */
  previous: 'none' | 'aibox' | 'foreign';
  backup?: string;
  serviceIdentity: string;
  identityEnv: string;
  namespace: HookPolicy['namespace'];
  /** Where each developer may push: this, then their identity and a slash. */
  stagingRoot: string;
  protect: string[];
}

export interface InstallHookOptions {
  repository: string;
  policy: HookPolicy;
  force: boolean;
}

/** The hooks folder of a bare repository (core.hooksPath honoured), or a one-line error naming BARE_REPO. */
async function hooksDir(run: Runner, repository: string): Promise<string> {
  const hint = 'give the bare repository the git server serves, such as /srv/git/app.git';
  if (!existsSync(repository)) throw new AiboxError('USAGE', `BARE_REPO: ${repository} does not exist`, hint);
  // safe.directory: the administrator named this repository, which the git server's user may own.
  // The system config is read: a core.hooksPath there is where git-receive-pack looks too.
  const args = ['-c', `safe.directory=${repository}`, `--git-dir=${repository}`, 'rev-parse', '--is-bare-repository', '--git-path', 'hooks'];
  const result = await run('git', args, { allowFailure: true });
  const [bare, hooks] = result.stdout.trim().split('\n');
  if (result.exitCode !== 0 || !hooks) {
    const why = result.stderr.trim().split('\n').pop() || `exit code ${result.exitCode}`;
    throw new AiboxError('USAGE', `BARE_REPO: ${repository} is not a bare git repository (git: ${why.replace(/^fatal: /, '')})`, hint);
  }
  if (bare !== 'true') throw new AiboxError('USAGE', `BARE_REPO: ${repository} is a repository with a working tree, not a bare repository`, hint);
  // A relative core.hooksPath is relative to where hooks run: the bare repository.
  return resolve(repository, hooks);
}

/** A file system error as one line: which file, what failed, and the usual fix. */
function fileError(path: string, action: string, error: unknown): AiboxError {
  if (error instanceof AiboxError) return error;
  const code = (error as NodeJS.ErrnoException).code ?? String(error);
  return new AiboxError('CONFLICT', `cannot ${action} ${path}: ${code}`, 'run as the user that owns the repository on the git server');
}

async function previousHook(path: string): Promise<InstalledHook['previous']> {
  const info = await lstat(path).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw fileError(path, 'read', error);
  });
  if (!info) return 'none';
  if (info.isSymbolicLink()) return 'foreign';
  if (!info.isFile()) throw new AiboxError('CONFLICT', `${path} is not a regular file`, `move ${path} away, then install the hook again`);
  const text = await readRegularFile(path);
  return text?.split('\n', 2)[1] === HOOK_MARKER ? 'aibox' : 'foreign';
}

export async function installHook(run: Runner, options: InstallHookOptions): Promise<InstalledHook> {
  const repository = resolve(options.repository);
  const dir = await hooksDir(run, repository);
  const path = join(dir, 'pre-receive');
  const previous = await previousHook(path);
  const script = preReceiveScript(options.policy);
  const backup = previous === 'foreign' ? `${path}.aibox-bak` : undefined;
  if (backup) {
    if (!options.force) {
      throw new AiboxError('CONFLICT', `${path} is a hook aibox did not write; it was left as it is`, 'merge what it does into your server setup, or run again with --force to replace it (kept as pre-receive.aibox-bak)');
    }
    // A hard link: the old hook stays in place until the rename below, and an earlier backup is never overwritten.
    await link(path, backup).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'EEXIST') throw new AiboxError('CONFLICT', `${backup} already exists`, `move ${backup} away (it is an earlier hook), then run again`);
      throw fileError(backup, 'create', error);
    });
  }
  try {
    await mkdir(dir, { recursive: true, mode: 0o755 });
    await writeFileAtomic(path, script, 0o755, { replaceLink: true });
  } catch (error) {
    if (backup) await unlink(backup);
    throw fileError(path, 'write', error);
  }
  const { serviceIdentity, identityEnv, namespace, protect } = options.policy;
  return { repository, path, previous, ...(backup ? { backup } : {}), serviceIdentity, identityEnv, namespace, stagingRoot: stagingRoot(namespace), protect };
}
