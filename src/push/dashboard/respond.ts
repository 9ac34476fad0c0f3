import type { IncomingMessage, ServerResponse } from 'node:http';
import { AiboxError } from '../../core/errors.js';

/**
 * How the dashboard reads forms and answers: every response carries the
 * security headers (a CSP without any script, no framing, no sniffing, no
 * caching of pages), and forms are small url-encoded bodies.
 */

const MAX_FORM_BYTES = 64 * 1024;

export const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cache-control': 'no-store',
} as const;

export function sendHtml(res: ServerResponse, status: number, body: string, cookies: string[] = []): void {
  send(res, status, body, 'text/html; charset=utf-8', cookies);
}

export function send(res: ServerResponse, status: number, body: string, type: string, cookies: string[] = []): void {
  res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': type, 'content-length': Buffer.byteLength(body), ...(cookies.length ? { 'set-cookie': cookies } : {}) });
  res.end(body);
}

/** 303: after a form, the browser GETs the page (a reload does not post again). */
export function redirect(res: ServerResponse, location: string, cookies: string[] = []): void {
  res.writeHead(303, { ...SECURITY_HEADERS, location, 'content-length': 0, ...(cookies.length ? { 'set-cookie': cookies } : {}) });
  res.end();
}

/** The fields of a url-encoded form (the last of a repeated name wins). */
export async function readForm(req: IncomingMessage): Promise<Record<string, string>> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim();
  if (type !== 'application/x-www-form-urlencoded') throw new AiboxError('USAGE', `form: expected application/x-www-form-urlencoded (got ${JSON.stringify(type)})`);
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_FORM_BYTES) throw new AiboxError('USAGE', `form: larger than ${MAX_FORM_BYTES} bytes`);
    chunks.push(chunk);
  }
  return Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString('utf8')));
}

/** Whether the browser reached the service over https: directly, through a proxy that says so, or as configured. */
export function cameOverHttps(req: IncomingMessage, publicUrl: string | undefined): boolean {
  // A forged X-Forwarded-Proto only makes the cookie Secure (stricter), so it is safe to believe.
  return publicUrl?.startsWith('https:') === true || ('encrypted' in req.socket && req.socket.encrypted === true) || req.headers['x-forwarded-proto'] === 'https';
}
