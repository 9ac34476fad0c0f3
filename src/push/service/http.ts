import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { z } from 'zod';
import { AiboxError } from '../../core/errors.js';
import { parseInput, RequestState } from '../store/model.js';
import { HTTP_STATUS } from './http-status.js';
import { approveRequest, cancelRequest, createRequest, CreateBody, getRequest, listRequests, ReasonBody, rejectRequest, type Caller, type ServiceDeps } from './requests.js';

/**
 * The approval service's JSON API under /v1, on node:http. Every call carries
 * `Authorization: Bearer <token>`; errors are `{error: {code, message}}`.
 * `/` and `/dashboard/…` go to the web dashboard (push/dashboard/), which logs in on its own.
 */
const MAX_BODY_BYTES = 64 * 1024;

class Unauthorized extends Error {}

/** The dashboard's handler: it answers every request it is given, errors included. */
export type PageHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

export function createApprovalServer(deps: ServiceDeps, dashboard?: PageHandler): Server {
  return createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (dashboard && (path === '/' || path === '/dashboard' || path.startsWith('/dashboard/'))) return void dashboard(req, res);
    handle(deps, req, res).catch((error: unknown) => sendError(res, error));
  });
}

async function handle(deps: ServiceDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://service');
  const caller = await authenticate(deps, req);
  const parts = url.pathname.split('/').filter(Boolean);
  if (parts[0] !== 'v1' || parts[1] !== 'requests' || parts.length > 4) throw new AiboxError('NOT_FOUND', `no such endpoint: ${req.method} ${url.pathname}`);
  const [, , id, action] = parts;
  const method = req.method ?? 'GET';
  if (id === undefined) {
    if (method === 'POST') return send(res, 201, await createRequest(deps, caller, parseInput(CreateBody, await readJson(req), 'request')));
    if (method === 'GET') {
      const state = url.searchParams.get('state');
      return send(res, 200, { requests: await listRequests(deps, caller, state === null ? undefined : parseInput(RequestState, state, 'state')) });
    }
  } else if (action === undefined && method === 'GET') {
    return send(res, 200, { request: await getRequest(deps, caller, id) });
  } else if (method === 'POST') {
    if (action === 'approve') return send(res, 200, { request: await approveRequest(deps, caller, id) });
    if (action === 'reject') return send(res, 200, { request: await rejectRequest(deps, caller, id, parseInput(ReasonBody, await readJson(req), 'reject').reason) });
    if (action === 'cancel') return send(res, 200, { request: await cancelRequest(deps, caller, id) });
  }
  throw new AiboxError('NOT_FOUND', `no such endpoint: ${method} ${url.pathname}`);
}

async function authenticate(deps: ServiceDeps, req: IncomingMessage): Promise<Caller> {
  const match = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '');
  const token = match?.[1] ? await deps.store.verifyToken(match[1]) : undefined;
  if (!token) throw new Unauthorized(match ? 'the token is not valid' : 'no bearer token: send Authorization: Bearer <token>');
  if ('expiredAt' in token) throw new Unauthorized(`the token expired at ${token.expiredAt}: ask for a new one (aibox approvals token create)`);
  return token;
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new AiboxError('USAGE', `the body is larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return text.trim() === '' ? {} : (JSON.parse(text) as unknown);
  } catch {
    throw new AiboxError('USAGE', 'the body is not valid JSON');
  }
}

function send(res: ServerResponse, status: number, body: object): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function sendError(res: ServerResponse, error: unknown): void {
  if (res.headersSent) return void res.destroy();
  if (error instanceof Unauthorized) {
    res.setHeader('www-authenticate', 'Bearer');
    return send(res, 401, { error: { code: 'unauthorized', message: error.message } });
  }
  if (error instanceof z.ZodError) return send(res, 400, { error: { code: 'bad-request', message: error.message } });
  const [status, code] = (error instanceof AiboxError && HTTP_STATUS[error.code]) || [500, 'internal'];
  send(res, status, { error: { code, message: error instanceof Error ? error.message : String(error) } });
}
