import { stat } from 'node:fs/promises';
import { z } from 'zod';
import { AiboxError } from './errors.js';
import { readRegularFile } from './files.js';

/** Where a secret is, never the secret itself: an environment variable or a file only its owner may read. */
export const SecretRef = z.string().regex(/^(env:[A-Za-z_][A-Za-z0-9_]*|file:\/.*[^/])$/, 'must be a secret reference: env:VARIABLE or file:/absolute/path');

/**
 * Resolves a secret reference (at service start, or when a setting is used):
 * `env:VARIABLE` or `file:/absolute/path` (a file only its owner may read).
 * Errors name the field and the reference, never a value.
 */
export async function resolveSecret(reference: string, field: string, env: NodeJS.ProcessEnv): Promise<string> {
  if (reference.startsWith('env:')) {
    const name = reference.slice(4);
    const value = env[name];
    if (value === undefined || value === '') throw new AiboxError('MISSING_PREREQ', `${field}: the environment variable ${name} (from ${reference}) is not set`, `set ${name} in the environment, or use file:/path`);
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
