import { readFile } from 'node:fs/promises';
import type { Config } from '../config/settings.js';
import { AiboxError } from '../core/errors.js';

/**
 * The keyring debootstrap checks the mirror's Release file against. Without
 * one debootstrap only warns and goes on installing unverified packages as root.
 */
export async function readKeyring(path: string): Promise<Buffer> {
  const keyring = await readFile(path).catch(() => undefined);
  if (!keyring?.length) {
    throw new AiboxError(
      'MISSING_PREREQ',
      `Debian archive keyring ${path} (setting image.keyring) ${keyring ? 'is empty' : 'does not exist'}`,
      'apt-get install -y debian-archive-keyring (or aibox config set image.keyring /path/to/mirror-keyring.gpg)',
    );
  }
  return keyring;
}

export interface KeyringCheck {
  ok: boolean;
  detail: string;
  fix?: string;
}

/** For `aibox doctor`: is the keyring that verifies the debootstrap mirror there? */
export async function checkKeyring(config: Config): Promise<KeyringCheck> {
  if (config['image.from'] !== '') return { ok: true, detail: `not needed: the base image is image.from ${config['image.from']}` };
  const path = config['image.keyring'];
  try {
    await readKeyring(path);
    return { ok: true, detail: `${path} (setting image.keyring) is there to check the Debian mirror with` };
  } catch (error) {
    if (!(error instanceof AiboxError)) throw error;
    return { ok: false, detail: error.message, fix: error.hint };
  }
}
