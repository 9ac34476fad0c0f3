import { join } from 'node:path';
import { z } from 'zod';
import { AiboxError } from '../core/errors.js';
import { installHint, runProcess } from '../core/runner.js';
import {
  checkDigest,
  checkReference,
  checkRepository,
  declaredMediaType,
  describeRef,
  errorCode,
  isDigest,
  isRepositoryName,
  MAX_MANIFEST_BYTES,
  missingBlobError,
  openBlobFile,
  readJsonFile,
  sizeError,
  sha256Digest,
  verifyDigest,
  type FetchedManifest,
  type Registry,
} from './registry.js';

const MANIFEST_TYPES = [
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
].join(', ');
const REQUEST_TIMEOUT_MS = 30_000;
/** One whole blob transfer: a few hundred MB over a slow link. */
const TRANSFER_TIMEOUT_MS = 30 * 60_000;
const MAX_REDIRECTS = 5;
/** curl's exit codes aibox names (curl(1), EXIT CODES); prlimit's when it cannot find curl. */
const CURL_HTTP_ERROR = 22;
const CURL_TIMEOUT = 28;
const CURL_TOO_LARGE = 63;
const EXEC_NOT_FOUND = 127;
const MAX_LIST_PAGES = 1000;
/** Tag pages, token replies, error bodies. */
const MAX_REPLY_BYTES = 1024 * 1024;
const HOST_PORT = /^(\[[0-9a-f:.]+\]|[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*)(?::(\d{1,5}))?$/;
const LOGIN_FILES = '$REGISTRY_AUTH_FILE, $XDG_RUNTIME_DIR/containers/auth.json, ~/.config/containers/auth.json, ~/.docker/config.json';

export interface HttpRegistryOptions {
  env: NodeJS.ProcessEnv;
  /** The home folder of the auth files ~/.config/containers/auth.json and ~/.docker/config.json. */
  home: string;
  /** Plain http to a host that is not loopback. */
  insecure?: boolean;
}

/** `host[:port][/base/path]`, checked: the host and port of the URL, the path that prefixes every repository. */
export function parseRegistryRef(ref: string): { host: string; hostname: string; basePath: string } {
  const trimmed = ref.replace(/\/+$/, '');
  const slash = trimmed.indexOf('/');
  const host = (slash < 0 ? trimmed : trimmed.slice(0, slash)).toLowerCase();
  const basePath = slash < 0 ? '' : trimmed.slice(slash + 1);
  const match = HOST_PORT.exec(host);
  const port = Number(match?.[2] ?? 443);
  if (!match || port < 1 || port > 65535 || (basePath !== '' && !isRepositoryName(basePath))) {
    throw new AiboxError('USAGE', `registry "${ref}" is not host[:port][/path]`, 'e.g. registry.example.com/packs, 127.0.0.1:5000, or a layout folder oci:/srv/packs');
  }
  return { host, hostname: match[1] ?? host, basePath };
}

export function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127(?:\.\d{1,3}){3}$/.test(hostname);
}

const authFileSchema = z.object({ auths: z.record(z.string(), z.object({ auth: z.string().optional() })).optional() });

export interface Credentials {
  /** base64 of "user:password", as the auth files keep it. */
  basic: string;
  /** The auth file they came from, for messages. */
  file: string;
}

/** The auth files podman, skopeo and docker write, in the order aibox searches them. */
export function authFiles(env: NodeJS.ProcessEnv, home: string): string[] {
  const runtime = env.XDG_RUNTIME_DIR ? join(env.XDG_RUNTIME_DIR, 'containers', 'auth.json') : undefined;
  const files = [env.REGISTRY_AUTH_FILE, runtime, join(home, '.config', 'containers', 'auth.json'), join(home, '.docker', 'config.json')];
  return files.filter((file): file is string => Boolean(file));
}

/** The credentials for `host` (host[:port]) from the first auth file that has them; undefined when none has. */
export async function findCredentials(host: string, env: NodeJS.ProcessEnv, home: string): Promise<Credentials | undefined> {
  for (const file of authFiles(env, home)) {
    const auths = (await readJsonFile(authFileSchema, file, `fix or remove ${file}, then log in again: podman login ${host}`))?.auths ?? {};
    for (const [key, entry] of Object.entries(auths)) {
      if (authKeyHost(key) !== host || !entry.auth) continue;
      if (!/^[A-Za-z0-9+/]+={0,2}$/.test(entry.auth) || !Buffer.from(entry.auth, 'base64').toString('utf8').includes(':')) {
        throw new AiboxError('INVALID_FILE', `${file}: auths.${key}.auth is not base64 of user:password`, `log in again: podman login ${host}`);
      }
      return { basic: entry.auth, file };
    }
  }
  return undefined;
}

/** `https://host:port/v1/` and `host:port` name the same registry in an auth file. */
function authKeyHost(key: string): string {
  return key
    .toLowerCase()
    .replace(/^[a-z]+:\/\//, '')
    .replace(/\/(?:v[12]\/?)?$/, '');
}

/** `Bearer realm="...",service="...",scope="..."` → scheme and parameters. */
function parseChallenge(header: string): { scheme: string; params: Map<string, string> } {
  const scheme = header.trim().split(/\s+/, 1)[0]?.toLowerCase() ?? '';
  const params = new Map<string, string>();
  for (const match of header.matchAll(/(\w+)=(?:"([^"]*)"|([^,\s]*))/g)) {
    params.set((match[1] ?? '').toLowerCase(), match[2] ?? match[3] ?? '');
  }
  return { scheme, params };
}

/** Why a request failed without a status: a timeout, or the network error's code (ECONNREFUSED, CERT_HAS_EXPIRED). */
function failureReason(error: unknown): string {
  if (error instanceof Error && error.name === 'TimeoutError') return 'timed out';
  return errorCode(error instanceof Error && error.cause instanceof Error ? error.cause : error);
}

/** fetch's types take only ArrayBuffer-backed bytes; a copy is cheap for manifests and small blobs. */
function copyOf(bytes: Buffer): Uint8Array<ArrayBuffer> {
  return Uint8Array.from(bytes);
}

function pullScope(name: string): string {
  return `repository:${name}:pull`;
}

function pushScope(name: string): string {
  return `repository:${name}:pull,push`;
}

const tokenSchema = z.object({ token: z.string().min(1).optional(), access_token: z.string().min(1).optional() });
const tagsSchema = z.object({ tags: z.array(z.string()).nullish() });
const catalogSchema = z.object({ repositories: z.array(z.string()).nullish() });
const errorBodySchema = z.object({ errors: z.array(z.object({ code: z.string().optional(), message: z.string().optional() })).min(1) });

interface Call {
  /** What is being done, for messages: `manifest java:17`. */
  what: string;
  method: 'GET' | 'HEAD' | 'PUT' | 'POST';
  url: URL;
  /** The token scope: `repository:<name>:pull`, `repository:<name>:pull,push`, `registry:catalog:*`. */
  scope: string;
  headers?: Record<string, string>;
  /** Bytes or a file Blob: both can be sent again after a 401. */
  body?: BodyInit;
  /** Statuses handed back to the caller; any other one is an error. */
  ok: number[];
  timeoutMs?: number;
}

/** A registry of the OCI distribution API v2, over https (http on loopback or when insecure). */
export class HttpRegistry implements Registry {
  readonly location: string;
  /** host[:port], as auth files and `podman login` name it. */
  private readonly host: string;
  private readonly origin: string;
  private readonly basePath: string;
  private readonly plainHttpAllowed: boolean;
  /** Bearer tokens by scope (`repository:packs/java:pull`). */
  private readonly tokens = new Map<string, string>();
  /** Set once the registry asked for Basic: every later request carries it. */
  private basic?: Credentials;
  /** The credentials last sent (Basic, or to the token service), for the hint when they are refused. */
  private sent?: Credentials;
  private credentials?: Promise<Credentials | undefined>;

  constructor(
    ref: string,
    private readonly options: HttpRegistryOptions,
  ) {
    const { host, hostname, basePath } = parseRegistryRef(ref);
    this.host = host;
    this.basePath = basePath;
    this.location = basePath ? `${host}/${basePath}` : host;
    this.plainHttpAllowed = isLoopback(hostname) || options.insecure === true;
    this.origin = `${this.plainHttpAllowed ? 'http' : 'https'}://${host}`;
  }

  async listRepositories(): Promise<string[]> {
    const prefix = this.basePath ? `${this.basePath}/` : '';
    const names = await this.listPages('list of repositories', this.url('/v2/_catalog?n=1000'), 'registry:catalog:*', catalogSchema, (page) => page.repositories);
    return names.filter((name) => name.startsWith(prefix)).map((name) => name.slice(prefix.length));
  }

  async listTags(repo: string): Promise<string[]> {
    const name = this.name(repo);
    return this.listPages(`tags of ${repo}`, this.url(`/v2/${name}/tags/list`), pullScope(name), tagsSchema, (page) => page.tags);
  }

  async getManifest(repo: string, reference: string): Promise<FetchedManifest | undefined> {
    const name = this.name(repo);
    checkReference(this.location, reference);
    const what = `manifest ${describeRef(repo, reference)}`;
    const url = this.url(`/v2/${name}/manifests/${reference}`);
    const response = await this.request({ what, method: 'GET', url, scope: pullScope(name), headers: { accept: MANIFEST_TYPES }, ok: [200, 404] });
    if (response.status === 404) {
      await response.body?.cancel();
      return undefined;
    }
    const bytes = await this.readReply(response, what, MAX_MANIFEST_BYTES);
    if (isDigest(reference)) verifyDigest(this.location, what, bytes, reference);
    const contentType = response.headers.get('content-type')?.split(';')[0]?.trim();
    return { bytes, digest: sha256Digest(bytes), mediaType: contentType || declaredMediaType(bytes) };
  }

  async putManifest(repo: string, reference: string, bytes: Buffer, mediaType: string): Promise<string> {
    const name = this.name(repo);
    checkReference(this.location, reference);
    const what = `push of manifest ${describeRef(repo, reference)}`;
    if (isDigest(reference)) verifyDigest(this.location, what, bytes, reference);
    const url = this.url(`/v2/${name}/manifests/${reference}`);
    await this.exchange({ what, method: 'PUT', url, scope: pushScope(name), headers: { 'content-type': mediaType }, body: copyOf(bytes), ok: [201] });
    return sha256Digest(bytes);
  }

  async hasBlob(repo: string, digest: string): Promise<boolean> {
    const name = this.name(repo);
    checkDigest(this.location, digest);
    const url = this.url(`/v2/${name}/blobs/${digest}`);
    const response = await this.exchange({ what: `check of blob ${digest} in ${repo}`, method: 'HEAD', url, scope: pullScope(name), ok: [200, 404] });
    return response.status === 200;
  }

  async getBlob(repo: string, digest: string): Promise<Buffer> {
    const what = `blob ${digest} of ${repo}`;
    const bytes = await this.readReply(await this.getBlobResponse(repo, digest, what), what, MAX_MANIFEST_BYTES);
    verifyDigest(this.location, what, bytes, digest);
    return bytes;
  }

  /**
   * Downloads a blob with curl: the same 145 MB layer arrives in 0.2 s, against 0.4–0.8 s
   * through Node on these machines (docs/performance.md). A HEAD through request() first
   * settles that the blob exists and the authentication (Basic, or the token flow); curl
   * then sends that same Authorization header, read from its stdin (never in its
   * arguments, which other users can see), to this origin only: curl drops it on a
   * redirect to another host, port or scheme. The file stops at `size` bytes (prlimit).
   */
  async downloadBlob(repo: string, digest: string, size: number, path: string): Promise<void> {
    const name = this.name(repo);
    const what = `blob ${digest} of ${repo}`;
    if (!(await this.hasBlob(repo, digest))) throw missingBlobError(this.location, what);
    const authorization = this.authorizationFor(pullScope(name));
    const protocols = this.plainHttpAllowed ? '=http,https' : '=https';
    // Node trusts NODE_EXTRA_CA_CERTS beside its own CAs; curl the same file beside the system's.
    const extraCa = this.options.env.NODE_EXTRA_CA_CERTS;
    const curl = [
      '--disable', // first: no ~/.curlrc changes how aibox downloads (a proxy, --insecure)
      ...['--silent', '--show-error', '--fail', '--location', '--max-redirs', String(MAX_REDIRECTS), '--proto', protocols, '--proto-redir', protocols],
      ...['--noproxy', '*', '--connect-timeout', String(REQUEST_TIMEOUT_MS / 1000), '--max-time', String(TRANSFER_TIMEOUT_MS / 1000), '--max-filesize', String(size)],
      ...(extraCa ? ['--cacert', extraCa, '--capath', '/etc/ssl/certs'] : []),
      ...(authorization ? ['--header', '@-'] : []),
      ...['--write-out', '%{http_code}', '--output', path, this.url(`/v2/${name}/blobs/${digest}`).href],
    ];
    const result = await runProcess('prlimit', [`--fsize=${size}`, 'curl', ...curl], { input: authorization ? `Authorization: ${authorization}\n` : '', allowFailure: true });
    if (result.exitCode === 0) return;
    if (result.signal === 'SIGXFSZ' || result.exitCode === CURL_TOO_LARGE) throw sizeError(this.location, what, size, size + 1);
    if (result.exitCode === EXEC_NOT_FOUND) throw new AiboxError('MISSING_PREREQ', 'curl is not installed (not found on PATH)', installHint('curl'));
    if (result.exitCode === CURL_HTTP_ERROR) throw await this.statusError(what, new Response(null, { status: Number(result.stdout) || 500 }));
    const reason = result.exitCode === CURL_TIMEOUT ? 'timed out' : `curl: ${result.stderr.trim().split('\n').pop() || `exit code ${result.exitCode}`}`;
    throw this.networkError(what, new Error(reason));
  }

  async putBlob(repo: string, digest: string, source: Buffer | { path: string; size: number }): Promise<void> {
    if (await this.hasBlob(repo, digest)) return;
    const name = this.name(repo);
    const what = `upload of blob ${digest} to ${repo}`;
    const body = Buffer.isBuffer(source) ? copyOf(source) : await openBlobFile(source.path, source.size);
    // Monolithic upload: POST opens a session, one PUT with ?digest= closes it.
    const postUrl = this.url(`/v2/${name}/blobs/uploads/`);
    const started = await this.exchange({ what, method: 'POST', url: postUrl, scope: pushScope(name), ok: [202] });
    const location = started.headers.get('location');
    if (!location) throw new AiboxError('PROCESS_FAILED', `registry ${this.location}: ${what} failed: the registry gave no upload location`, `check that ${this.host} is an OCI registry`);
    const url = new URL(location, postUrl);
    url.searchParams.set('digest', digest);
    const headers = { 'content-type': 'application/octet-stream' };
    await this.exchange({ what, method: 'PUT', url, scope: pushScope(name), headers, body, ok: [201], timeoutMs: TRANSFER_TIMEOUT_MS });
  }

  /** Every page of a paginated list (Link: <next>; rel="next"); [] when the registry answers 404. */
  private async listPages<T extends z.ZodType>(what: string, first: URL, scope: string, schema: T, items: (page: z.infer<T>) => string[] | null | undefined): Promise<string[]> {
    const all: string[] = [];
    let url: URL | undefined = first;
    for (let page = 0; url; page++) {
      if (page === MAX_LIST_PAGES) throw new AiboxError('PROCESS_FAILED', `registry ${this.location}: ${what} failed: more than ${MAX_LIST_PAGES} pages`, `check the registry at ${this.host}`);
      const response = await this.request({ what, method: 'GET', url, scope, ok: [200, 404] });
      if (response.status === 404) {
        await response.body?.cancel();
        return all;
      }
      all.push(...(items(this.parseReply(schema, await this.readReply(response, what, MAX_REPLY_BYTES), what)) ?? []));
      url = this.nextPage(response.headers.get('link'), url, what);
    }
    return all;
  }

  private name(repo: string): string {
    checkRepository(this.location, repo);
    return this.basePath ? `${this.basePath}/${repo}` : repo;
  }

  private url(path: string): URL {
    return new URL(path, this.origin);
  }

  private async getBlobResponse(repo: string, digest: string, what: string): Promise<Response> {
    const name = this.name(repo);
    checkDigest(this.location, digest);
    const response = await this.request({ what, method: 'GET', url: this.url(`/v2/${name}/blobs/${digest}`), scope: pullScope(name), ok: [200, 404] });
    if (response.status === 404) {
      await response.body?.cancel();
      throw missingBlobError(this.location, what);
    }
    return response;
  }

  /** request(), for a call whose reply body is not needed. */
  private async exchange(call: Call): Promise<Response> {
    const response = await this.request(call);
    await response.body?.cancel();
    return response;
  }

  /** One call, with one retry after a 401 that names a way to authenticate. */
  private async request(call: Call): Promise<Response> {
    const { scope } = call;
    let response = await this.fetchFollowing(call, this.authorizationFor(scope));
    if (response.status === 401) {
      const authorization = await this.authorize(call, scope, response);
      response = await this.fetchFollowing(call, authorization);
    }
    if (!call.ok.includes(response.status)) throw await this.statusError(call.what, response);
    return response;
  }

  /** The Authorization header a call of this scope sends before any challenge: the scope's token, or Basic once the registry asked for it. */
  private authorizationFor(scope: string): string | undefined {
    const token = this.tokens.get(scope);
    return token ? `Bearer ${token}` : this.basic ? `Basic ${this.basic.basic}` : undefined;
  }

  /** The Authorization header that answers the registry's 401 challenge. */
  private async authorize(call: Call, scope: string, response: Response): Promise<string> {
    const { scheme, params } = parseChallenge(response.headers.get('www-authenticate') ?? '');
    if (scheme === 'bearer') {
      await response.body?.cancel();
      const token = await this.fetchToken(params, scope);
      this.tokens.set(scope, token);
      return `Bearer ${token}`;
    }
    const credentials = scheme === 'basic' ? await this.findCredentials() : undefined;
    if (!credentials || this.basic) throw await this.statusError(call.what, response);
    await response.body?.cancel();
    this.basic = this.sent = credentials;
    return `Basic ${credentials.basic}`;
  }

  private findCredentials(): Promise<Credentials | undefined> {
    this.credentials ??= findCredentials(this.host, this.options.env, this.options.home);
    return this.credentials;
  }

  /** The token flow: GET realm?service=&scope= (with Basic credentials when there are some). */
  private async fetchToken(params: Map<string, string>, scope: string): Promise<string> {
    const what = `login for ${scope}`;
    let url: URL;
    try {
      url = new URL(params.get('realm') ?? '');
    } catch {
      throw new AiboxError('PROCESS_FAILED', `registry ${this.location}: ${what} failed: the registry named no valid token realm`, `check the token service configured for ${this.host}`);
    }
    const credentials = await this.findCredentials();
    if (credentials && url.protocol !== 'https:' && !isLoopback(url.hostname) && !this.options.insecure) {
      throw new AiboxError('PROCESS_FAILED', `registry ${this.location}: ${what} refused: the token service ${url.origin} is plain http`, 'aibox sends credentials only over https: fix the token realm of the registry');
    }
    const service = params.get('service');
    if (service) url.searchParams.set('service', service);
    url.searchParams.set('scope', params.get('scope') ?? scope);
    const headers: Record<string, string> = credentials ? { authorization: `Basic ${credentials.basic}` } : {};
    this.sent = credentials;
    const response = await this.fetchOnce(what, url, { headers, redirect: 'error', signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    if (!response.ok) throw await this.statusError(what, response);
    const reply = this.parseReply(tokenSchema, await this.readReply(response, what, MAX_REPLY_BYTES), what);
    const token = reply.token ?? reply.access_token;
    if (!token) throw new AiboxError('PROCESS_FAILED', `registry ${this.location}: ${what} failed: the token service sent no token`, `check the token service configured for ${this.host}`);
    return token;
  }

  /**
   * Sends a call and follows redirects of GET and HEAD (blobs on a CDN or S3)
   * by hand, so that credentials go only to the registry's own origin.
   */
  private async fetchFollowing(call: Call, authorization: string | undefined): Promise<Response> {
    let url = call.url;
    for (let hop = 0; ; hop++) {
      const headers: Record<string, string> = { ...call.headers };
      if (authorization && url.origin === this.origin) headers.authorization = authorization;
      const signal = AbortSignal.timeout(call.timeoutMs ?? REQUEST_TIMEOUT_MS);
      const response = await this.fetchOnce(call.what, url, { method: call.method, headers, body: call.body, redirect: 'manual', signal });
      const location = response.headers.get('location');
      const followed = (call.method === 'GET' || call.method === 'HEAD') && [301, 302, 303, 307, 308].includes(response.status);
      if (!followed || !location) return response;
      await response.body?.cancel();
      if (hop === MAX_REDIRECTS) throw new AiboxError('PROCESS_FAILED', `registry ${this.location}: ${call.what} failed: more than ${MAX_REDIRECTS} redirects`, `check the storage configured for ${this.host}`);
      url = new URL(location, url);
    }
  }

  private async fetchOnce(what: string, url: URL, init: RequestInit): Promise<Response> {
    try {
      return await fetch(url, init);
    } catch (error) {
      throw this.networkError(what, error);
    }
  }

  private networkError(what: string, error: unknown): AiboxError {
    const tls = this.origin.startsWith('https:') ? ', and that its certificate is trusted (an org CA: NODE_EXTRA_CA_CERTS)' : '';
    return new AiboxError('PROCESS_FAILED', `registry ${this.location}: ${what} failed: ${failureReason(error)}`, `check that ${this.host} is reachable${tls}`, { cause: error });
  }

  private async statusError(what: string, response: Response): Promise<AiboxError> {
    const detail = await this.errorDetail(response);
    let hint = `check that ${this.host} is an OCI registry and that the pack was published`;
    if (response.status === 401) {
      hint = this.sent
        ? `the registry refused the credentials for ${this.host} in ${this.sent.file}: log in again with podman login ${this.host}`
        : `log in with podman login ${this.host} (aibox reads ${LOGIN_FILES})`;
    } else if (response.status === 403) {
      hint = `${this.sent ? `the account in ${this.sent.file}` : 'an anonymous user'} may not do this on ${this.location}: ask its owner for access, or log in as another user with podman login ${this.host}`;
    }
    return new AiboxError('PROCESS_FAILED', `registry ${this.location}: ${what} failed: HTTP ${response.status}${detail ? ` ${detail}` : ''}`, hint);
  }

  /** The first message of an OCI error body (`{"errors":[{"code","message"}]}`), or ''. */
  private async errorDetail(response: Response): Promise<string> {
    try {
      const parsed = errorBodySchema.safeParse(JSON.parse((await this.readReply(response, 'error', MAX_REPLY_BYTES)).toString('utf8')));
      const first = parsed.success ? parsed.data.errors[0] : undefined;
      return (first?.message || first?.code || '').split('\n')[0]?.slice(0, 200) ?? '';
    } catch {
      return '';
    }
  }

  /** A reply body of at most maxBytes. */
  private async readReply(response: Response, what: string, maxBytes: number): Promise<Buffer> {
    const chunks: Uint8Array[] = [];
    let size = 0;
    try {
      for await (const chunk of response.body ?? []) {
        size += chunk.length;
        if (size > maxBytes) throw new AiboxError('PROCESS_FAILED', `registry ${this.location}: ${what} failed: the reply is over ${maxBytes} bytes`, `check that ${this.host} is an OCI registry`);
        chunks.push(chunk);
      }
    } catch (error) {
      throw error instanceof AiboxError ? error : this.networkError(what, error);
    }
    return Buffer.concat(chunks);
  }

  private parseReply<T extends z.ZodType>(schema: T, bytes: Buffer, what: string): z.infer<T> {
    let data: unknown;
    try {
      data = JSON.parse(bytes.toString('utf8'));
    } catch {
      data = undefined;
    }
    const parsed = schema.safeParse(data);
    if (!parsed.success) throw new AiboxError('PROCESS_FAILED', `registry ${this.location}: ${what} failed: the reply is not the expected JSON`, `check that ${this.host} is an OCI registry`);
    return parsed.data;
  }

  /** The `rel="next"` page of a Link header, on the registry's own origin; undefined on the last page. */
  private nextPage(link: string | null, current: URL, what: string): URL | undefined {
    const target = link && /<([^>]+)>\s*;\s*rel="?next"?/.exec(link)?.[1];
    if (!target) return undefined;
    const next = new URL(target, current);
    if (next.origin !== this.origin) throw new AiboxError('PROCESS_FAILED', `registry ${this.location}: ${what} failed: the next page is on another server (${next.origin})`, `check the registry at ${this.host}`);
    return next;
  }
}
