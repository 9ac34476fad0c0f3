import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { AiboxError } from '../core/errors.js';
import type { Runner } from '../core/runner.js';
import type { RiskClass } from '../policy/schema.js';
import type { KnownRequest } from './register.js';
import { requestId, stagingRef, type StagedReport, type StagingMode } from './staging.js';

/**
 * `git-remote-aibox`: the git remote helper every push in the sandbox goes
 * through (the image's /etc/gitconfig rewrites every push URL to `aibox::URL`).
 * It speaks git's remote-helper protocol (`capabilities`, `option`,
 * `list for-push`, batches of `push` lines) and, per the policy's class of the
 * repository:
 * - safe: pushes to the real URL exactly as asked (options included);
 * - blocked: refuses every ref with the policy's explanation;
 * - review-required: pushes each commit to a staging ref on the same remote
 *   (staging.ts) and answers `error <ref> staged for approval as <id>`, so git
 *   exits 1 and leaves the remote-tracking ref where the remote really is:
 *   `git status` never claims a push that has not landed. `--dry-run` stages nothing.
 * Inner git commands run with GIT_CONFIG_NOSYSTEM=1, so the rewrite does not
 * send them back here.
 */
export interface PushClass {
  riskClass: RiskClass;
  explanation: string;
  identity: string;
  staging: StagingMode;
}

/** What the helper asks the host (directly, or through the broker from inside the sandbox). */
export interface PushHost {
  /** What the policy makes of a push to the URL, and who pushes. */
  classify(url: string): Promise<PushClass>;
  /** Registers staged pushes with the approval service; the lines to show. Never fails a push. */
  register(url: string, pushes: StagedReport[]): Promise<string[]>;
  /** This developer's requests as the approval service has them, or a note saying why there are none. */
  requests(): Promise<{ requests: KnownRequest[]; note?: string }>;
  /** Withdraws one of this developer's pending requests; the line to show. */
  cancel(id: string): Promise<string>;
}

export interface HelperIo {
  input: Readable;
  output: Writable;
  /** What the developer sees (git passes the helper's stderr through). */
  err: Writable;
}

interface Options {
  dryRun: boolean;
  atomic: boolean;
  pushOptions: string[];
  /** --force-with-lease: ref → expected sha ('' when it must not exist). */
  leases: Map<string, string>;
}

interface Spec {
  force: boolean;
  src: string;
  dst: string;
}

const INNER_ENV = { GIT_CONFIG_NOSYSTEM: '1' };
const ZERO = /^0{40}$/;

export function parseSpec(line: string): Spec {
  const force = line.startsWith('+');
  const body = force ? line.slice(1) : line;
  const colon = body.lastIndexOf(':');
  if (colon < 0) throw new AiboxError('USAGE', `git sent a push line aibox cannot read: "${line}"`, 'push with an explicit refspec, e.g. git push origin HEAD:refs/heads/main');
  return { force, src: body.slice(0, colon), dst: body.slice(colon + 1) };
}

function setOption(options: Options, name: string, value: string): boolean {
  switch (name) {
    case 'dry-run':
      options.dryRun = value === 'true';
      return true;
    case 'atomic':
      options.atomic = value === 'true';
      return true;
    case 'push-option':
      options.pushOptions.push(value);
      return true;
    case 'cas': {
      const colon = value.indexOf(':');
      options.leases.set(colon < 0 ? value : value.slice(0, colon), colon < 0 ? '' : value.slice(colon + 1));
      return true;
    }
    case 'verbosity':
    case 'progress':
      return true;
    default:
      return false;
  }
}

/** The remote's refs as `git ls-remote` sees them (symbolic HEAD included). */
async function remoteRefs(run: Runner, url: string): Promise<{ lines: string[]; refs: Map<string, string> }> {
  const result = await run('git', ['ls-remote', '--symref', url], { env: INNER_ENV, allowFailure: true });
  if (result.exitCode !== 0) throw new AiboxError('PROCESS_FAILED', `cannot read the refs of ${url}: ${result.stderr.trim().split('\n').at(-1) ?? ''}`, 'check the URL and your access to it');
  const refs = new Map<string, string>();
  const lines: string[] = [];
  for (const line of result.stdout.split('\n').filter(Boolean)) {
    const [left = '', name = ''] = line.split('\t');
    if (left.startsWith('ref: ')) lines.push(`@${left.slice(5)} ${name}`);
    else {
      refs.set(name, left);
      lines.push(`${left} ${name}`);
    }
  }
  return { lines, refs };
}

/** The inner push: as asked for a safe repository; for staging, without leases and push options (they are for the target). */
function pushArgs(options: Options, url: string, refspecs: readonly string[], asAsked = true): string[] {
  return [
    'push',
    '--porcelain',
    ...(options.dryRun ? ['--dry-run'] : []),
    ...(options.atomic ? ['--atomic'] : []),
    ...(asAsked ? options.pushOptions.map((option) => `--push-option=${option}`) : []),
    ...(asAsked ? [...options.leases].map(([ref, sha]) => `--force-with-lease=${ref}:${sha}`) : []),
    url,
    ...refspecs,
  ];
}

/** `git push --porcelain` lines: FLAG TAB FROM:TO TAB SUMMARY. */
function porcelainStatus(stdout: string, dst: string): string | undefined {
  const line = stdout.split('\n').find((candidate) => candidate.split('\t')[1]?.endsWith(`:${dst}`));
  if (!line) return undefined;
  const [flag = '', , summary = ''] = line.split('\t');
  return flag === '!' ? summary.trim() || 'rejected' : '';
}

async function pushSafe(run: Runner, io: HelperIo, url: string, specs: Spec[], options: Options): Promise<string[]> {
  const refspecs = specs.map((spec) => `${spec.force ? '+' : ''}${spec.src}:${spec.dst}`);
  const result = await run('git', pushArgs(options, url, refspecs), { env: INNER_ENV, allowFailure: true });
  io.err.write(result.stderr);
  return specs.map((spec) => {
    const status = porcelainStatus(result.stdout, spec.dst);
    if (status === '') return `ok ${spec.dst}`;
    return `error ${spec.dst} ${status ?? (result.stderr.trim().split('\n').at(-1) || 'push failed')}`;
  });
}

/** The first staging ref name from `at` on, a second later each time, that the remote does not have. */
function freeStagingRef(taken: ReadonlySet<string>, cls: PushClass, at: Date, target: string, deletion: boolean): string {
  for (let offset = 0; ; offset += 1000) {
    const ref = stagingRef(cls.staging, cls.identity, new Date(at.getTime() + offset), target, deletion);
    if (!taken.has(ref)) return ref;
  }
}

/** Tries this many times when another push took the same staging ref name meanwhile. */
const STAGING_ATTEMPTS = 5;

async function stage(run: Runner, io: HelperIo, url: string, specs: Spec[], options: Options, cls: PushClass, host: PushHost, now: Date, refs: Map<string, string>): Promise<string[]> {
  const pending: { spec: Spec; ref: string; commit: string; old: string }[] = [];
  const replies = new Map<string, string>();
  for (const spec of specs) {
    const current = refs.get(spec.dst) ?? '';
    const lease = options.leases.get(spec.dst);
    if (lease !== undefined && lease !== current && !(lease === '' && !current) && !(ZERO.test(lease) && !current)) {
      replies.set(spec.dst, `error ${spec.dst} stale info`);
      continue;
    }
    if (spec.src === '' && !current) {
      replies.set(spec.dst, `error ${spec.dst} nothing to delete: the remote has no ${spec.dst}`);
      continue;
    }
    let commit = current;
    if (spec.src !== '') {
      const parsed = await run('git', ['rev-parse', '--verify', `${spec.src}^{}`], { allowFailure: true });
      if (parsed.exitCode !== 0) {
        replies.set(spec.dst, `error ${spec.dst} ${spec.src} is not a commit here`);
        continue;
      }
      commit = parsed.stdout.trim();
    }
    pending.push({ spec, ref: '', commit, old: current });
  }
  if (options.atomic && replies.size > 0) return specs.map((spec) => replies.get(spec.dst) ?? `error ${spec.dst} atomic push failed`);
  const staged: typeof pending = [];
  const taken = new Set(refs.keys());
  for (let attempt = 1; pending.length > 0 && !options.dryRun; attempt++) {
    // Named afresh each round from the remote's refs and the names tried: never a staged push overwritten.
    for (const item of pending) {
      item.ref = freeStagingRef(taken, cls, now, item.spec.dst, item.spec.src === '');
      taken.add(item.ref);
    }
    const result = await run('git', pushArgs(options, url, pending.map(({ ref, commit }) => `${commit}:${ref}`), false), { env: INNER_ENV, allowFailure: true });
    for (const item of pending.splice(0)) {
      const status = porcelainStatus(result.stdout, item.ref);
      if (status === '') staged.push(item);
      // Another push took that name a moment ago: the next free one.
      else if (status !== undefined && /already exists|fetch first|non-fast-forward/.test(status) && attempt < STAGING_ATTEMPTS) pending.push(item);
      else replies.set(item.spec.dst, `error ${item.spec.dst} staging failed: ${status ?? (result.stderr.trim().split('\n').at(-1) || `git push exit ${result.exitCode}`)}`);
    }
  }
  if (options.dryRun) {
    for (const { spec } of pending) replies.set(spec.dst, `error ${spec.dst} review required: would be staged for approval (dry run, nothing staged)`);
    return specs.map((spec) => replies.get(spec.dst) ?? `error ${spec.dst} not staged`);
  }
  for (const { spec, ref } of staged) {
    const id = requestId(ref);
    io.err.write(`aibox: ${spec.src === '' ? `deletion of ${spec.dst}` : spec.dst} staged for approval as ${id} (${ref}); keep working, see: aibox push status\n`);
    replies.set(spec.dst, `error ${spec.dst} staged for approval as ${id}, not pushed yet`);
  }
  if (staged.length > 0) await register(io, url, host, staged, options);
  return specs.map((spec) => replies.get(spec.dst) ?? `error ${spec.dst} not staged`);
}

async function register(io: HelperIo, url: string, host: PushHost, staged: { spec: Spec; ref: string; commit: string; old: string }[], options: Options): Promise<void> {
  const reports = staged.map(({ spec, ref, commit, old }) => ({
    ...(spec.src.startsWith('refs/') ? { sourceRef: spec.src } : {}),
    targetRef: spec.dst,
    stagingRef: ref,
    oldSha: old || null,
    newSha: spec.src === '' ? null : commit,
    force: spec.force,
    pushOptions: options.pushOptions,
  }));
  try {
    for (const line of await host.register(url, reports)) io.err.write(`${line}\n`);
  } catch (error) {
    io.err.write(`aibox: could not register with the approval service (${error instanceof Error ? error.message : String(error)}); the push stays staged\n`);
  }
}

/** Runs the protocol on io until git closes it. `classify` says what the policy makes of the URL. */
export async function runRemoteHelper(run: Runner, io: HelperIo, url: string, host: PushHost, now: () => Date = () => new Date()): Promise<void> {
  const options: Options = { dryRun: false, atomic: false, pushOptions: [], leases: new Map() };
  const write = (text: string) => io.output.write(text);
  let batch: Spec[] = [];
  // The refs git was given for this push (list for-push): what its own checks saw, read once.
  let listed: Awaited<ReturnType<typeof remoteRefs>> | undefined;
  for await (const line of createInterface({ input: io.input, crlfDelay: Infinity })) {
    if (line === 'capabilities') write('push\noption\n\n');
    else if (line.startsWith('option ')) {
      const [, name = '', ...rest] = line.split(' ');
      write(setOption(options, name, rest.join(' ')) ? 'ok\n' : 'unsupported\n');
    } else if (line === 'list' || line === 'list for-push') {
      listed = await remoteRefs(run, url);
      write(`${listed.lines.map((ref) => `${ref}\n`).join('')}\n`);
    }
    else if (line.startsWith('push ')) batch.push(parseSpec(line.slice(5)));
    else if (line === '' && batch.length > 0) {
      const specs = batch;
      batch = [];
      const cls = await host.classify(url);
      let replies: string[];
      if (cls.riskClass === 'blocked') replies = specs.map((spec) => `error ${spec.dst} ${cls.explanation}`);
      else if (cls.riskClass === 'safe') replies = await pushSafe(run, io, url, specs, options);
      else replies = await stage(run, io, url, specs, options, cls, host, now(), (listed ??= await remoteRefs(run, url)).refs);
      write(`${replies.join('\n')}\n\n`);
    } else if (line === '') break;
    else throw new AiboxError('USAGE', `git asked the aibox remote helper for "${line}", which it does not do`, 'aibox handles pushes only: fetch from the real URL');
  }
}
