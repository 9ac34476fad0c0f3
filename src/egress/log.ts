import { createInterface } from 'node:readline';
import { loadConfig } from '../config/store.js';
import type { Context } from '../core/context.js';
import { Duration } from '../core/duration.js';
import { AiboxError } from '../core/errors.js';
import { pipeProcess } from '../core/runner.js';
import type { EffectivePolicy } from '../policy/effective.js';
import { loadPolicyFor } from '../policy/load.js';
import { decide } from '../policy/query.js';
import { aiboxCommand } from '../sandbox/instance.js';
import { Podman } from '../sandbox/podman.js';
import { ownProxy, proxyName } from './proxy.js';
import { enforcedConfig } from './status.js';

/**
 * `aibox egress log`: the requests a sandbox's proxy logged (one line each on squid's
 * stdout, in the `aibox` logformat of squid-config.ts, so `podman logs` has them), the
 * denied ones with the fix the effective policy gives (`aibox policy check egress`'s).
 */

/** One request line of the proxy's log. */
export interface ProxyRequest {
  /** Milliseconds since the epoch. */
  time: number;
  /** squid's result code: TCP_DENIED, TCP_TUNNEL, TCP_MISS… */
  result: string;
  status: number;
  method: string;
  host: string;
  port: number;
  allowed: boolean;
}

/** What `aibox egress log` reports: one request, or several alike (same verdict, method and host:port). */
export interface EgressLogEntry {
  /** The last of them (ISO 8601). */
  time: string;
  /** The first of them. */
  first: string;
  count: number;
  allowed: boolean;
  method: string;
  host: string;
  port: number;
  /** Of the last one. */
  status: number;
  result: string;
  /** For a denied request: what to change in which policy file. */
  fix?: string;
}

export interface EgressLogOptions {
  /** Allowed requests too. */
  all: boolean;
  /** Only requests of the last this many milliseconds. */
  sinceMs?: number;
}

/** `%ts.%03tu %>a %Ss/%>Hs %rm %ru %>rd:%>rP`, e.g. `1795850668.705 10.88.0.1 TCP_DENIED/403 CONNECT h:8443 h:8443`. */
const LINE = /^(\d{1,12})\.(\d{3}) \S+ ([A-Z_]+)\/(\d{3}) (\S+) \S+ (\S+):(\d{1,5})$/;

/** A log line as a request; undefined for anything else (squid's own messages, garbage). */
export function parseLogLine(line: string): ProxyRequest | undefined {
  const [, seconds = '', millis = '', result = '', status = '', method = '', rawHost = '', port = ''] = LINE.exec(line.trim()) ?? [];
  const host = decodeHost(rawHost);
  if (!host || host === '-' || Number(port) < 1 || Number(port) > 65535) return undefined;
  return {
    time: Number(seconds) * 1000 + Number(millis),
    result,
    status: Number(status),
    method,
    host: host.toLowerCase(),
    port: Number(port),
    allowed: !result.includes('DENIED'),
  };
}

/** squid percent-encodes the brackets of an IPv6 host (%5B::1%5D). */
function decodeHost(raw: string): string | undefined {
  try {
    return decodeURIComponent(raw);
  } catch {
    return undefined;
  }
}

/** A request as a report entry; `fix` is asked only for a denied one. */
export function toEntry(request: ProxyRequest, fix: (host: string, port: number) => string): EgressLogEntry {
  const time = new Date(request.time).toISOString();
  const { allowed, method, host, port, status, result } = request;
  return { time, first: time, count: 1, allowed, method, host, port, status, result, ...(allowed ? {} : { fix: fix(host, port) }) };
}

/** Requests alike (verdict, method, host:port) as one entry with a count, the latest last; the denied ones only unless `all`. */
export async function summarize(requests: Iterable<ProxyRequest> | AsyncIterable<ProxyRequest>, all: boolean, fix: (host: string, port: number) => string): Promise<EgressLogEntry[]> {
  const groups = new Map<string, EgressLogEntry>();
  for await (const request of requests) {
    if (request.allowed && !all) continue;
    const key = `${request.allowed} ${request.method} ${request.host}:${request.port}`;
    const group = groups.get(key);
    if (!group) {
      groups.set(key, toEntry(request, fix));
      continue;
    }
    const time = new Date(request.time).toISOString();
    group.count += 1;
    if (time < group.first) group.first = time;
    if (time >= group.time) Object.assign(group, { time, status: request.status, result: request.result });
  }
  return [...groups.values()].sort((a, b) => a.time.localeCompare(b.time));
}

/** The fix for a denied host:port: the policy's (as `aibox policy check egress` gives it), or, when it allows it by now, how to make the proxy enforce that. */
export function fixFor(policy: EffectivePolicy, host: string, port: number, apply: string): string {
  const decision = decide(policy, { kind: 'egress', host, port });
  if (decision.allowed) return `allowed now by ${decision.rule} in ${decision.origin}: make the proxy enforce it: ${apply}`;
  return decision.fix ?? decision.explanation;
}

/** An entry for the terminal: time, verdict, method, host:port, repeats, then the fix. */
export function formatEntry(entry: EgressLogEntry): string {
  const repeats = entry.count > 1 ? `  (${entry.count} times since ${localTime(entry.first)})` : '';
  const line = `${localTime(entry.time)}  ${entry.allowed ? 'allowed' : 'denied '}  ${entry.method.padEnd(7)} ${entry.host}:${entry.port}${repeats}`;
  return entry.fix ? `${line}\n    fix: ${entry.fix}` : line;
}

function localTime(iso: string): string {
  const date = new Date(iso);
  const pad = (value: number) => String(value).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

/** `--since`: a duration such as 30s, 10m, 48h or 7d, in milliseconds. */
export function parseSince(text: string): number {
  const parsed = Duration.safeParse(text);
  if (!parsed.success) throw new AiboxError('USAGE', `invalid --since "${text}": not a duration`, 'use a number and a unit (ms, s, m, h or d), e.g. --since 10m or --since 2d');
  return parsed.data;
}

/** The proxy's requests so far (all of its log, or the last `sinceMs`), grouped, the denied ones with their fix. */
export async function egressLog(ctx: Context, instance: string, options: EgressLogOptions): Promise<{ proxy: string; requests: EgressLogEntry[] }> {
  const fix = await openLog(ctx, instance);
  const since = options.sinceMs === undefined ? [] : ['--since', new Date(Date.now() - options.sinceMs).toISOString()];
  return { proxy: proxyName(instance), requests: await summarize(logRequests([...since, proxyName(instance)]), options.all, fix) };
}

/**
 * Calls `onEntry` with each request the proxy logs from now (or from `sinceMs` ago), one by
 * one, until the proxy stops or aibox is interrupted (execa ends `podman logs` with it).
 */
export async function followEgressLog(ctx: Context, instance: string, options: EgressLogOptions, onEntry: (entry: EgressLogEntry) => void): Promise<void> {
  const fix = await openLog(ctx, instance);
  const since = new Date(Date.now() - (options.sinceMs ?? 0)).toISOString();
  for await (const request of logRequests(['--follow', '--since', since, proxyName(instance)])) {
    if (options.all || !request.allowed) onEntry(toEntry(request, fix));
  }
}

/**
 * The requests of `podman logs ARGS`, read as they stream (a proxy's log can be large):
 * squid writes them to stdout; its own messages (cache_log) go to stderr.
 */
async function* logRequests(args: string[]): AsyncGenerator<ProxyRequest> {
  const logs = pipeProcess('podman', ['logs', ...args]);
  logs.stdin.end();
  try {
    if (logs.stdout) {
      for await (const line of createInterface({ input: logs.stdout, crlfDelay: Infinity })) {
        const request = parseLogLine(line);
        if (request) yield request;
      }
    }
    await logs.done;
  } finally {
    // A reader that stopped early: end podman logs, whose exit then says nothing new.
    logs.kill();
    await logs.done.catch(() => undefined);
  }
}

/** Checks that the proxy exists and returns the fix of a denied host:port under the effective policy. */
async function openLog(ctx: Context, instance: string): Promise<(host: string, port: number) => string> {
  const podman = new Podman(ctx.run);
  const proxy = await ownProxy(podman, instance);
  if (!proxy) {
    throw new AiboxError('NOT_FOUND', `no egress proxy for sandbox ${instance} (no container ${proxyName(instance)})`, `start it: ${aiboxCommand({ name: instance }, 'start')}`);
  }
  const policy = await loadPolicyFor(ctx, await loadConfig(ctx.paths));
  policy.warnings.forEach((warning) => ctx.out.warn(warning));
  const enforced = await enforcedConfig(proxy);
  if (enforced && enforced.origin !== policy.egress.origin) {
    ctx.out.warn(`${proxyName(instance)} enforces network.egress from ${enforced.origin}, but here it comes from ${policy.egress.origin}: the fixes below are for the policy here (run aibox egress log in the folder you started the sandbox from)`);
  }
  const apply = aiboxCommand({ name: instance }, 'policy apply');
  return (host, port) => fixFor(policy, host, port, apply);
}
