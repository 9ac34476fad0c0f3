import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { link, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { AiboxError } from '../../core/errors.js';
import { Identity, TokenRole } from '../store/model.js';

/**
 * Dashboard sessions and CSRF tokens, both stateless: a session cookie is
 * `<payload>.<HMAC-SHA256 of it>`, the payload being the token's name and role,
 * an expiry and a random nonce; the CSRF token of a session is an HMAC of its
 * nonce. Stateless rather than a session table: no store schema change (both
 * databases, every replica), nothing to clean up, and a restart keeps people
 * logged in. What it gives up, revoking one session (or ending it when its
 * token expires), is bounded by the 12 h expiry; deleting
 * <workDir>/dashboard.key and restarting logs everyone out.
 * The token's secret is never in the cookie: only what verifyToken returned.
 */

export const SESSION_COOKIE = 'aibox_session';
/** Before login: a nonce whose HMAC the login form must echo (login CSRF). */
export const LOGIN_COOKIE = 'aibox_login';
export const SESSION_TTL_MS = 12 * 3600_000;
const KEY_BYTES = 32;

const Payload = z.object({ n: Identity, r: TokenRole, e: z.number().int(), s: z.string().regex(/^[A-Za-z0-9_-]{22}$/) });

export interface Session {
  name: string;
  role: TokenRole;
  expiresAt: Date;
  /** What every form of this session must carry. */
  csrf: string;
}

/** The service's session key: 32 random bytes in <workDir>/dashboard.key (0600), made once. */
export async function loadSessionKey(workDir: string): Promise<Buffer> {
  const path = join(workDir, 'dashboard.key');
  const read = async () => {
    const key = await readFile(path);
    if (key.length !== KEY_BYTES) throw new AiboxError('INVALID_FILE', `${path}: expected ${KEY_BYTES} bytes, found ${key.length}`, 'delete it; the service makes a new one at its next start (everyone logs in again)');
    return key;
  };
  try {
    return await read();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  // Written whole under another name, then linked: a replica starting at the same time reads a full key, whichever wins.
  const temp = `${path}.${randomBytes(6).toString('hex')}`;
  await writeFile(temp, randomBytes(KEY_BYTES), { mode: 0o600, flag: 'wx' });
  try {
    await link(temp, path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  } finally {
    await rm(temp, { force: true });
  }
  return read();
}

function mac(key: Buffer, purpose: string, data: string): string {
  return createHmac('sha256', key).update(`${purpose}\0${data}`).digest('base64url');
}

/** Constant time whatever the lengths: both sides are hashed to 32 bytes first. */
export function sameSecret(expected: string, given: string): boolean {
  const digest = (text: string) => createHmac('sha256', 'compare').update(text).digest();
  return timingSafeEqual(digest(expected), digest(given)) && expected.length > 0;
}

export function newNonce(): string {
  return randomBytes(16).toString('base64url');
}

export function csrfFor(key: Buffer, nonce: string): string {
  return mac(key, 'csrf', nonce);
}

export function issueSession(key: Buffer, who: { name: string; role: TokenRole }, now: Date): string {
  const payload: z.infer<typeof Payload> = { n: who.name, r: who.role, e: now.getTime() + SESSION_TTL_MS, s: newNonce() };
  const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
  return `${body}.${mac(key, 'session', body)}`;
}

/** The session a cookie value stands for, or undefined when it is forged, malformed or expired. */
export function readSession(key: Buffer, value: string | undefined, now: Date): Session | undefined {
  const [body, signature, extra] = (value ?? '').split('.');
  if (!body || !signature || extra !== undefined || !sameSecret(mac(key, 'session', body), signature)) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  const payload = Payload.safeParse(json);
  if (!payload.success || payload.data.e <= now.getTime()) return undefined;
  return { name: payload.data.n, role: payload.data.r, expiresAt: new Date(payload.data.e), csrf: csrfFor(key, payload.data.s) };
}

export function parseCookies(header: string | undefined): Map<string, string> {
  const cookies = new Map<string, string>();
  for (const part of (header ?? '').split(';')) {
    const at = part.indexOf('=');
    if (at > 0) cookies.set(part.slice(0, at).trim(), part.slice(at + 1).trim());
  }
  return cookies;
}

/** A Set-Cookie value; maxAgeS 0 clears the cookie. */
export function cookie(name: string, value: string, options: { secure: boolean; maxAgeS: number }): string {
  return `${name}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${options.maxAgeS}${options.secure ? '; Secure' : ''}`;
}
