import { stat } from 'node:fs/promises';
import { AiboxError } from '../../core/errors.js';
import { readRegularFile } from '../../core/files.js';

/**
 * Resolves a secret reference of the config file at service start:
 * `env:VARIABLE` or `file:/absolute/path` (a file only its owner may read).
 * Errors name the field and the reference, never a value.
 */
export async function resolveSecret(reference: string, field: string, env: NodeJS.ProcessEnv): Promise<string> {
  if (reference.startsWith('env:')) {
    const name = reference.slice(4);
    const value = env[name];
    if (value === undefined || value === '') throw new AiboxError('MISSING_PREREQ', `${field}: the environment variable ${name} (from ${reference}) is not set`, `set ${name} in the service's environment, or use file:/path`);
    return value;
  }
  const path = reference.slice(5);
  const info = await stat(path).catch((error: NodeJS.ErrnoException) => {
    throw new AiboxError('MISSING_PREREQ', `${field}: cannot read ${path} (from ${reference}): ${error.code ?? String(error)}`, `create ${path} with the secret, mode 600`);
  });
  if ((info.mode & 0o077) !== 0) {
    throw new AiboxError('POLICY_DENIED', `${field}: ${path} is readable by group or others (mode ${(info.mode & 0o777).toString(8).padStart(4, '0')})`, `chmod 600 ${path}`);
  }
  const value = (await readRegularFile(path, 64 * 1024))?.replace(/[\r\n]+$/, '');
  if (!value) throw new AiboxError('MISSING_PREREQ', `${field}: ${path} (from ${reference}) is empty`, `write the secret into ${path}`);
  return value;
}
