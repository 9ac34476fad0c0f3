import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { AiboxError } from '../../core/errors.js';
import type { PageHandler } from '../service/http.js';
import { HTTP_STATUS } from '../service/http-status.js';
import { approveRequest, getRequest, listRequests, ReasonBody, rejectRequest, type Caller, type ServiceDeps } from '../service/requests.js';
import type { ReviewGit } from '../service/review-git.js';
import type { PushRequest } from '../store/index.js';
import { parseInput, RequestId } from '../store/model.js';
import { loadChanges } from './changes.js';
import { ICON_PATH, STYLE_PATH } from './html.js';
import { errorPage, listPage, loginPage } from './pages.js';
import { requestPage } from './request-page.js';
import { cameOverHttps, readForm, redirect, send, sendHtml } from './respond.js';
import { cookie, csrfFor, issueSession, LOGIN_COOKIE, newNonce, parseCookies, readSession, sameSecret, SESSION_COOKIE, SESSION_TTL_MS, type Session } from './session.js';
import { ICON_SVG, STYLE_CSS } from './style.js';

/**
 * The dashboard's pages and forms. Every decision goes through the same domain
 * functions as the JSON API (approveRequest, rejectRequest), so their rules
 * hold here too; every POST of a logged-in session must carry its CSRF token.
 */

export interface DashboardDeps {
  service: ServiceDeps;
  review: ReviewGit;
  /** The session key (session.ts). */
  key: Buffer;
  /** The service's public URL, when set: https there makes the cookies Secure. */
  publicUrl?: string;
}

const LoginForm = z.object({ csrf: z.string().max(200).default(''), token: z.string().min(1).max(200) });
const CsrfForm = z.object({ csrf: z.string().max(200).default('') });
const RejectForm = z.object({ reason: ReasonBody.shape.reason });

const LOGIN_FORM_TTL_S = 3600;

/** A plain 403 page, for a form the session did not make. */
class Forbidden extends Error {}

export function dashboardHandler(deps: DashboardDeps): PageHandler {
  return async (req, res) => {
    // A session is what the page header shows (a Viewer); the domain gets a Caller of it.
    const session = readSession(deps.key, parseCookies(req.headers.cookie).get(SESSION_COOKIE), deps.service.now());
    try {
      await route(deps, req, res, session);
    } catch (error) {
      if (res.headersSent) return void res.destroy();
      const [status] = error instanceof Forbidden ? [403] : (error instanceof AiboxError && HTTP_STATUS[error.code]) || [500];
      const title = status === 403 ? 'Not allowed' : status === 404 ? 'Not found' : status === 409 ? 'Already decided' : status >= 500 ? 'It did not work' : 'Bad request';
      sendHtml(res, status, errorPage(session, title, error instanceof Error ? error.message : String(error)));
    }
  };
}

async function route(deps: DashboardDeps, req: IncomingMessage, res: ServerResponse, session: Session | undefined): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://dashboard');
  const method = req.method ?? 'GET';
  const path = url.pathname;
  const secure = cameOverHttps(req, deps.publicUrl);
  if (method === 'GET' && (path === '/' || path === '/dashboard')) return redirect(res, '/dashboard/');
  if (method === 'GET' && path === STYLE_PATH) return send(res, 200, STYLE_CSS, 'text/css; charset=utf-8');
  if (method === 'GET' && path === ICON_PATH) return send(res, 200, ICON_SVG, 'image/svg+xml');
  if (path === '/dashboard/login') return method === 'POST' ? logIn(deps, req, res, secure) : session ? redirect(res, '/dashboard/') : showLogin(deps, res, secure);
  if (!session) {
    if (method === 'GET') return redirect(res, '/dashboard/login');
    throw new Forbidden('You are not logged in (or your session expired): log in and try again.');
  }
  const caller: Caller = { name: session.name, role: session.role };
  if (method === 'POST') {
    const form = await readForm(req);
    if (!sameSecret(session.csrf, CsrfForm.safeParse(form).data?.csrf ?? '')) throw new Forbidden('This form does not come from your session (its CSRF token is missing or wrong): reload the page and try again.');
    return decide(deps, res, caller, path, form, secure);
  }
  const now = deps.service.now();
  if (method === 'GET' && path === '/dashboard/') {
    const showAll = url.searchParams.get('all') === '1';
    return sendHtml(res, 200, listPage(session, await listRequests(deps.service, caller, showAll ? undefined : 'pending'), now, showAll));
  }
  const id = requestIdOf(path);
  if (method !== 'GET' || !id) throw new AiboxError('NOT_FOUND', `There is no page ${path}.`);
  const request = await getRequest(deps.service, caller, id);
  sendHtml(res, 200, requestPage({ viewer: session, request, changes: await loadChanges(deps.review, request), now, ...decision(deps.service, caller, request) }));
}

/** Whether the caller may decide the request, by the same rules approveRequest applies (it checks them again). */
function decision(service: ServiceDeps, caller: Caller, request: PushRequest): { canDecide: boolean; whyNot?: string } {
  if (caller.role === 'developer' || (request.state !== 'pending' && request.state !== 'approved')) return { canDecide: false };
  if (request.pusher === caller.name) return { canDecide: false, whyNot: 'You pushed this: another approver decides it.' };
  const review = service.review(request.repository);
  if (!review.approvers.includes(caller.role)) {
    return { canDecide: false, whyNot: `Deciding pushes to ${request.repository} needs the role ${review.approvers.join(' or ')} (${review.rule}); you have ${caller.role}.` };
  }
  return { canDecide: true };
}

/** The id of /dashboard/requests/<id>[/<action>], or undefined. */
function requestIdOf(path: string, action?: string): string | undefined {
  const parts = path.split('/');
  if (parts.length !== (action ? 5 : 4) || parts[1] !== 'dashboard' || parts[2] !== 'requests' || (action && parts[4] !== action)) return undefined;
  return RequestId.safeParse(parts[3]).data;
}

async function decide(deps: DashboardDeps, res: ServerResponse, caller: Caller, path: string, form: Record<string, string>, secure: boolean): Promise<void> {
  if (path === '/dashboard/logout') return redirect(res, '/dashboard/login', [cookie(SESSION_COOKIE, '', { secure, maxAgeS: 0 })]);
  const approve = requestIdOf(path, 'approve');
  if (approve) {
    await approveRequest(deps.service, caller, approve);
    return redirect(res, `/dashboard/requests/${approve}`);
  }
  const reject = requestIdOf(path, 'reject');
  if (reject) {
    await rejectRequest(deps.service, caller, reject, parseInput(RejectForm, form, 'reject').reason);
    return redirect(res, `/dashboard/requests/${reject}`);
  }
  throw new AiboxError('NOT_FOUND', `There is no form ${path}.`);
}

/** The login form, with a fresh nonce in a cookie whose HMAC the form must echo: a page elsewhere cannot log you in as someone else. */
function showLogin(deps: DashboardDeps, res: ServerResponse, secure: boolean, status = 200, error?: string): void {
  const nonce = newNonce();
  sendHtml(res, status, loginPage(csrfFor(deps.key, nonce), error), [cookie(LOGIN_COOKIE, nonce, { secure, maxAgeS: LOGIN_FORM_TTL_S })]);
}

async function logIn(deps: DashboardDeps, req: IncomingMessage, res: ServerResponse, secure: boolean): Promise<void> {
  const nonce = parseCookies(req.headers.cookie).get(LOGIN_COOKIE);
  // The token is never echoed back nor logged: a bad one gets one fixed sentence.
  const form = LoginForm.safeParse(await readForm(req));
  if (!nonce || !form.success || !sameSecret(csrfFor(deps.key, nonce), form.data.csrf)) {
    return showLogin(deps, res, secure, form.success ? 403 : 400, form.success ? 'The login form expired: log in again.' : 'Paste your API token to log in.');
  }
  const token = await deps.service.store.verifyToken(form.data.token);
  if (!token) return showLogin(deps, res, secure, 401, 'That token is not valid.');
  if ('expiredAt' in token) return showLogin(deps, res, secure, 401, `That token expired at ${token.expiredAt}: ask for a new one (aibox approvals token create).`);
  const session = issueSession(deps.key, token, deps.service.now());
  redirect(res, '/dashboard/', [cookie(SESSION_COOKIE, session, { secure, maxAgeS: SESSION_TTL_MS / 1000 }), cookie(LOGIN_COOKIE, '', { secure, maxAgeS: 0 })]);
}
