import { createHash, randomBytes } from 'node:crypto';

/**
 * API token secrets. A secret is 32 random bytes (256 bits), so a plain
 * sha256 of it is as safe to store as a slow password hash: slow hashes
 * (bcrypt, scrypt) only matter for secrets people choose, which can be guessed.
 * It also lets the store find a token by its hash with an index lookup, and a
 * stolen database yields no usable token.
 */

const PREFIX = 'aibox_';

export function newSecret(): string {
  return `${PREFIX}${randomBytes(32).toString('base64url')}`;
}

export function newTokenId(): string {
  return randomBytes(8).toString('hex');
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/** Anything else cannot be one of ours: refuse it before touching the database. */
export function looksLikeSecret(secret: string): boolean {
  return /^aibox_[A-Za-z0-9_-]{43}$/.test(secret);
}
