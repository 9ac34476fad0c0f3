import { isIP } from 'node:net';
import { AiboxError } from '../core/errors.js';

/** One local port forwarded to one port inside the sandbox. */
export interface Forward {
  /** The host address ssh listens on: 127.0.0.1 unless the spec names one. */
  bind: string;
  local: number;
  remote: number;
}

/** A range may name at most this many ports: a typo (8000-80000) should not open thousands of listeners. */
export const MAX_RANGE = 1024;

export const DEFAULT_BIND = '127.0.0.1';

const FORMS = 'PORT, LOCAL:REMOTE, FIRST-LAST, FIRST-LAST:FIRST-LAST or BIND:LOCAL:REMOTE (e.g. 8000, 8888:9999, 8000-8005, 127.0.0.1:4000:4000)';

function usage(message: string, hint = `a spec is ${FORMS}; several are separated by commas or spaces`): AiboxError {
  return new AiboxError('USAGE', message, hint);
}

/** True for 127.0.0.0/8, ::1 and localhost: the addresses only this host can reach. */
export function isLoopback(address: string): boolean {
  if (address === 'localhost' || address === '::1') return true;
  return isIP(address) === 4 && address.startsWith('127.');
}

function parsePort(text: string, spec: string): number {
  if (!/^\d{1,5}$/.test(text)) throw usage(`"${text}" in the port-forward spec "${spec}" is not a port number`);
  const port = Number(text);
  if (port < 1 || port > 65535) throw usage(`port ${port} in the port-forward spec "${spec}" is out of range`, 'use a port from 1 to 65535');
  return port;
}

/** "8000" → [8000]; "8000-8005" → [8000..8005]. */
function parsePorts(text: string, spec: string): number[] {
  const dash = text.indexOf('-');
  if (dash < 0) return [parsePort(text, spec)];
  const first = parsePort(text.slice(0, dash), spec);
  const last = parsePort(text.slice(dash + 1), spec);
  if (last < first) throw usage(`the range ${text} in the port-forward spec "${spec}" runs backwards`, `write it from low to high: ${last}-${first}`);
  if (last - first + 1 > MAX_RANGE) throw usage(`the range ${text} in the port-forward spec "${spec}" has ${last - first + 1} ports`, `forward at most ${MAX_RANGE} ports per range`);
  return Array.from({ length: last - first + 1 }, (_, index) => first + index);
}

/** Splits "[::1]:8080:8081" and "127.0.0.1:4000:4000" into the bind address and the rest. */
function splitBind(spec: string): { bind?: string; ports: string } {
  if (spec.startsWith('[')) {
    const close = spec.indexOf(']');
    if (close < 0 || spec[close + 1] !== ':') throw usage(`the port-forward spec "${spec}" has an unclosed [IPv6 address]`);
    return { bind: spec.slice(1, close), ports: spec.slice(close + 2) };
  }
  const parts = spec.split(':');
  if (parts.length === 3) return { bind: parts[0], ports: `${parts[1]}:${parts[2]}` };
  if (parts.length > 3) throw usage(`the port-forward spec "${spec}" has too many ":"`, 'put an IPv6 bind address in brackets: [::1]:8080:8080');
  return { ports: spec };
}

function checkBind(bind: string, spec: string, allowNonLoopback: boolean): string {
  if (bind !== 'localhost' && isIP(bind) === 0) throw usage(`"${bind}" in the port-forward spec "${spec}" is not an IP address`, 'use 127.0.0.1, [::1] or localhost (or an address of this host with --allow-non-loopback)');
  if (!isLoopback(bind) && !allowNonLoopback) {
    throw new AiboxError(
      'POLICY_DENIED',
      `the port-forward spec "${spec}" listens on ${bind}, which other machines can reach: anyone there could use the sandbox's services (a debugger runs any code)`,
      `drop the address to listen on 127.0.0.1 only, or add --allow-non-loopback if you mean it`,
    );
  }
  return bind;
}

/** One spec without commas: "8000", "8888:9999", "8000-8005", "127.0.0.1:4000:4000". */
function parseOne(spec: string, allowNonLoopback: boolean): Forward[] {
  if (spec === '') throw usage('an empty port-forward spec (two commas in a row, or a trailing comma)');
  const { bind, ports } = splitBind(spec);
  const sides = ports.split(':');
  if (sides.length > 2) throw usage(`the port-forward spec "${spec}" has too many ":"`);
  const localText = sides[0] ?? '';
  const remoteText = sides[1] ?? localText;
  const local = parsePorts(localText, spec);
  const remote = parsePorts(remoteText, spec);
  if (local.length !== remote.length) {
    throw usage(`the port-forward spec "${spec}" maps ${local.length} local port(s) to ${remote.length} sandbox port(s)`, 'give both ranges the same length, e.g. 8000-8005:9000-9005');
  }
  const address = bind === undefined ? DEFAULT_BIND : checkBind(bind, spec, allowNonLoopback);
  return local.map((port, index) => ({ bind: address, local: port, remote: remote[index] ?? port }));
}

/**
 * Parses the command line's specs (each may hold a comma-separated list) into
 * forwards. Every error names the offending value; a local port given twice
 * is an error, since ssh can listen on it only once.
 */
export function parseForwardSpecs(args: readonly string[], options: { allowNonLoopback?: boolean } = {}): Forward[] {
  const specs = args.flatMap((arg) => arg.split(',')).map((spec) => spec.trim());
  if (specs.length === 0) throw usage('no port to forward');
  const forwards = specs.flatMap((spec) => parseOne(spec, options.allowNonLoopback ?? false));
  const seen = new Set<number>();
  for (const forward of forwards) {
    if (seen.has(forward.local)) throw usage(`local port ${forward.local} is given twice`, 'forward each local port once (use LOCAL:REMOTE to map it elsewhere)');
    seen.add(forward.local);
  }
  return forwards;
}

/** The spec as the user would write it back: "8000", "8888:9999", "[::1]:8080:8080". */
export function formatForward(forward: Forward): string {
  const ports = forward.local === forward.remote ? String(forward.local) : `${forward.local}:${forward.remote}`;
  if (forward.bind === DEFAULT_BIND) return ports;
  const bind = isIP(forward.bind) === 6 ? `[${forward.bind}]` : forward.bind;
  return `${bind}:${forward.local}:${forward.remote}`;
}

/** ssh's -L argument; the sandbox side is localhost so servers bound to 127.0.0.1 or ::1 both answer. */
export function sshForwardArg(forward: Forward): string {
  const bind = isIP(forward.bind) === 6 ? `[${forward.bind}]` : forward.bind;
  return `${bind}:${forward.local}:localhost:${forward.remote}`;
}
