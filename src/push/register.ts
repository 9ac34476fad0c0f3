import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { askHost } from '../broker/client.js';
import type { Config } from '../config/settings.js';
import { loadConfig } from '../config/store.js';
import type { Context } from '../core/context.js';
import { AiboxError } from '../core/errors.js';
import { readRegularFile, writeFileAtomic } from '../core/files.js';
import { parseJson } from '../core/json.js';
import { resolveSecret } from '../core/secrets.js';
import { canonicalRepo } from '../policy/repo-url.js';
import { requestId, type StagedReport } from './staging.js';

/**
 * Registration of staged pushes with the approval service (`push.service`),
 * so approvers hear of them at once. It runs on the host, with the developer's
 * token from `push.token` (a reference, resolved here): from inside the
 * sandbox the helper asks the host through the broker, so the token never
 * enters the sandbox. It never fails a push: the staging ref on the remote is
 * the source of truth. A registration the service did not take is retried a
 * few times with backoff, then kept in the host's outbox and sent again by the
 * next push or `aibox push status` (and the service's reconciler finds the
 * staging ref on the remote by itself).
 */

const OutboxEntry = z.strictObject({ service: z.string(), id: z.string().regex(/^[0-9a-f]{10}$/), body: z.record(z.string(), z.unknown()) });

/** Delays between attempts: the developer waits at most about a second for an unreachable service. */
const BACKOFF_MS = [200, 800];
const TIMEOUT_MS = 5000;

type Attempt = { ok: true } | { ok: false; retry: boolean; why: string };

/**
 * One JSON call to the service. node:http rather than fetch: fetch's first use
 * loads its client, which costs a push more than the call itself.
 */
function callService(method: 'GET' | 'POST', service: string, path: string, token: string, body?: object): Promise<{ status: number; json: unknown }> {
  const url = new URL(path, service);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const request = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, {
      method,
      timeout: TIMEOUT_MS,
      headers: { authorization: `Bearer ${token}`, ...(payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}) },
    });
    request.on('timeout', () => request.destroy(new Error(`no answer in ${TIMEOUT_MS / 1000} s`)));
    request.on('error', reject);
    request.on('response', (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('error', reject);
      response.on('end', () => resolve({ status: response.statusCode ?? 0, json: parseJson(Buffer.concat(chunks).toString('utf8')) }));
    });
    request.end(payload);
  });
}

/** The service's error message in its answer `{error: {code, message}}`, if it sent one. */
function errorMessage(json: unknown): string | undefined {
  return z.object({ error: z.object({ message: z.string() }) }).safeParse(json).data?.error.message;
}

async function post(service: string, token: string, body: object): Promise<Attempt> {
  try {
    const { status, json } = await callService('POST', service, '/v1/requests', token, body);
    if (status >= 200 && status < 300) return { ok: true };
    const why = `HTTP ${status}: ${errorMessage(json) ?? 'no readable answer'}`;
    return { ok: false, retry: status === 408 || status === 429 || status >= 500, why };
  } catch (error) {
    return { ok: false, retry: true, why: error instanceof Error ? error.message : String(error) };
  }
}

async function postWithRetries(service: string, token: string, body: object): Promise<Attempt> {
  let attempt = await post(service, token, body);
  for (const delay of BACKOFF_MS) {
    if (attempt.ok || !attempt.retry) break;
    await sleep(delay);
    attempt = await post(service, token, body);
  }
  return attempt;
}

function outboxDir(ctx: Context): string {
  return join(ctx.paths.stateDir, 'push-outbox');
}

async function keep(ctx: Context, service: string, id: string, body: Record<string, unknown>): Promise<void> {
  await writeFileAtomic(join(outboxDir(ctx), `${id}.json`), JSON.stringify({ service, id, body }));
}

interface Service {
  url: string;
  token: string;
}

async function serviceOf(ctx: Context, config: Config): Promise<Service | string> {
  if (!config['push.service']) return 'no approval service is set (aibox config set push.service URL): approvers find it on the remote';
  try {
    return { url: config['push.service'], token: await resolveSecret(config['push.token'], 'push.token', ctx.env) };
  } catch (error) {
    return `cannot register with ${config['push.service']}: ${error instanceof Error ? error.message : String(error)}`;
  }
}

/** Sends what the outbox kept; returns one line per registration that went through. */
async function flushOutbox(ctx: Context, service: Service): Promise<string[]> {
  const names = await readdir(outboxDir(ctx)).catch(() => [] as string[]);
  const lines: string[] = [];
  for (const name of names.filter((file) => file.endsWith('.json'))) {
    const path = join(outboxDir(ctx), name);
    // Taken by renaming, so two pushes at once never send one twice.
    const claimed = `${path}.${randomBytes(4).toString('hex')}.sending`;
    if (!(await rename(path, claimed).then(() => true, () => false))) continue;
    const entry = OutboxEntry.safeParse(parseJson((await readRegularFile(claimed)) ?? ''));
    const attempt = entry.success ? await post(entry.data.service, service.token, entry.data.body) : { ok: false as const, retry: false, why: 'unreadable' };
    if (!attempt.ok && attempt.retry && entry.success) await rename(claimed, path);
    else {
      await rm(claimed, { force: true });
      if (entry.success) lines.push(`aibox: ${attempt.ok ? 'registered' : `the approval service refused (${attempt.why})`} ${entry.data.id}, kept since it was unreachable`);
    }
  }
  return lines;
}

/** Registers staged pushes to `url` with the approval service; returns the lines the developer sees. */
export async function registerOnHost(ctx: Context, url: string, pushes: readonly StagedReport[]): Promise<string[]> {
  const service = await serviceOf(ctx, await loadConfig(ctx.paths));
  if (typeof service === 'string') return [`aibox: ${service}`];
  const canonical = canonicalRepo(url);
  if (!('repo' in canonical)) return [`aibox: cannot register pushes to ${url}: ${canonical.problem}`];
  const lines = await flushOutbox(ctx, service);
  for (const push of pushes) {
    const id = requestId(push.stagingRef);
    const body = { ...push, repository: canonical.repo, url };
    const attempt = await postWithRetries(service.url, service.token, body);
    if (attempt.ok) lines.push(`aibox: ${id} is registered with the approval service: approvers are told`);
    else if (!attempt.retry) lines.push(`aibox: the approval service refused ${id} (${attempt.why}); it stays staged on the remote`);
    else {
      await keep(ctx, service.url, id, body);
      lines.push(`aibox: the approval service at ${service.url} did not answer (${attempt.why}); ${id} stays staged and is registered later (next push or aibox push status)`);
    }
  }
  return lines;
}

/** The same, from inside the sandbox: the host registers, with its token. */
export async function registerThroughHost(ctx: Context, url: string, pushes: readonly StagedReport[]): Promise<string[]> {
  return z.array(z.string()).parse(await askHost(ctx, { v: 1, op: 'push-register', url, pushes: [...pushes] }));
}

/** What `aibox push status` shows of a request the service knows. */
export const KnownRequest = z.object({
  id: z.string(),
  repository: z.string(),
  targetRef: z.string(),
  stagingRef: z.string(),
  state: z.string(),
  reason: z.string().optional(),
  createdAt: z.string(),
});
export type KnownRequest = z.infer<typeof KnownRequest>;

/** This developer's requests as the approval service has them (its token shows only theirs), or why not. */
export async function requestsOnHost(ctx: Context): Promise<{ requests: KnownRequest[]; note?: string }> {
  const service = await serviceOf(ctx, await loadConfig(ctx.paths));
  if (typeof service === 'string') return { requests: [], note: service };
  (await flushOutbox(ctx, service)).forEach((line) => ctx.out.info(line));
  try {
    const { status, json } = await callService('GET', service.url, '/v1/requests', service.token);
    if (status !== 200) return { requests: [], note: `the approval service at ${service.url} answered HTTP ${status}` };
    const body = z.object({ requests: z.array(KnownRequest) }).safeParse(json);
    return body.success ? { requests: body.data.requests } : { requests: [], note: `the approval service at ${service.url} sent an answer aibox cannot read` };
  } catch (error) {
    return { requests: [], note: `the approval service at ${service.url} did not answer (${error instanceof Error ? error.message : String(error)})` };
  }
}

/** The same, from inside the sandbox. */
export async function requestsThroughHost(ctx: Context): Promise<{ requests: KnownRequest[]; note?: string }> {
  return z.object({ requests: z.array(KnownRequest), note: z.string().optional() }).parse(await askHost(ctx, { v: 1, op: 'push-requests' }));
}

/** Withdraws one of this developer's pending requests (the service deletes its staging ref); the line to show. */
export async function cancelOnHost(ctx: Context, id: string): Promise<string> {
  const service = await serviceOf(ctx, await loadConfig(ctx.paths));
  if (typeof service === 'string') throw new AiboxError('MISSING_PREREQ', `cannot cancel ${id}: ${service}`, 'set push.service and push.token (docs/push.md)');
  const { status, json } = await callService('POST', service.url, `/v1/requests/${encodeURIComponent(id)}/cancel`, service.token).catch((error: unknown) => {
    throw new AiboxError('PROCESS_FAILED', `the approval service at ${service.url} did not answer: ${error instanceof Error ? error.message : String(error)}`, 'try again when it is up');
  });
  if (status === 200) return `Cancelled ${id}: its staging ref is removed; your commits stay in your repository.`;
  const code = status === 404 ? 'NOT_FOUND' : status === 409 ? 'CONFLICT' : status === 401 || status === 403 ? 'POLICY_DENIED' : 'PROCESS_FAILED';
  throw new AiboxError(code, `cannot cancel ${id}: ${errorMessage(json) ?? `HTTP ${status}`}`, 'see your requests: aibox push status');
}

/** The same, from inside the sandbox. */
export async function cancelThroughHost(ctx: Context, id: string): Promise<string> {
  return z.string().parse(await askHost(ctx, { v: 1, op: 'push-cancel', id }));
}
