import { createServer } from 'node:net';
import type { Context } from '../core/context.js';
import { AiboxError } from '../core/errors.js';
import type { Instance } from '../sandbox/instance.js';
import { aiboxCommand } from '../sandbox/instance.js';
import { requireRunning } from '../sandbox/lifecycle.js';
import { openSharedConnection, sharedConnectionPid } from '../ssh/client.js';
import { canMultiplex } from '../ssh/entry.js';
import { formatForward, sshForwardArg, type Forward } from './spec.js';
import { liveForwards, readForwardState, updateForwardState, type ActiveForward } from './state.js';

export interface ForwardReport {
  /** The shared connection's pid, absent when none runs. */
  master?: number;
  forwards: ActiveForward[];
}

function sameForward(a: Forward, b: Forward): boolean {
  return a.bind === b.bind && a.local === b.local && a.remote === b.remote;
}

/** Can this host listen on bind:port right now? */
function isLocalPortFree(bind: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host: bind === 'localhost' ? '127.0.0.1' : bind, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/**
 * The shared connection, opened when needed. It persists until the sandbox stops
 * (the entry's `ControlPersist yes`: idle forward listeners do not count as use for
 * a timed ControlPersist, so a timeout would end them).
 */
async function ensureMaster(ctx: Context, instance: Instance): Promise<number> {
  if (!canMultiplex(instance.controlDir, instance.name)) {
    throw new AiboxError('MISSING_PREREQ', `${instance.name} has no shared SSH connection: its socket path under ${instance.controlDir} would be too long for a Unix socket`, `use a shorter XDG_STATE_HOME (e.g. /tmp/aibox-state) for aibox, then re-create the sandbox (volumes are kept): ${aiboxCommand(instance, 'rm')} && ${aiboxCommand(instance, 'start')}`);
  }
  const running = await sharedConnectionPid(ctx.run, instance.sshConfig, instance.name);
  if (running !== undefined) return running;
  await requireRunning(ctx, instance);
  await openSharedConnection(ctx.run, instance.sshConfig, instance.name);
  const opened = await sharedConnectionPid(ctx.run, instance.sshConfig, instance.name);
  if (opened === undefined) {
    throw new AiboxError('PROCESS_FAILED', `could not open the shared SSH connection to ${instance.name}`, `check that ssh ${instance.name} works, then run ${aiboxCommand(instance, 'doctor')}`);
  }
  return opened;
}

function waitingFor(ctx: Context, instance: Instance): (holder: number) => void {
  return (holder) => ctx.out.info(`waiting for another port-forward on ${instance.name} (process ${holder})…`);
}

function sshControl(instance: Instance, operation: 'forward' | 'cancel', forwards: readonly Forward[]): string[] {
  return ['-F', instance.sshConfig, '-O', operation, ...forwards.flatMap((forward) => ['-L', sshForwardArg(forward)]), instance.name];
}

/** Forwards the ports through the sandbox's shared SSH connection; already active ones are kept as they are. */
export async function startForwards(ctx: Context, instance: Instance, wanted: readonly Forward[]): Promise<ForwardReport & { added: ActiveForward[] }> {
  const master = await ensureMaster(ctx, instance);
  let added: ActiveForward[] = [];
  const forwards = await updateForwardState(instance.dir, master, async (active) => {
    const fresh: Forward[] = [];
    for (const forward of wanted) {
      if (active.some((one) => sameForward(one, forward))) continue;
      const clash = active.find((one) => one.local === forward.local);
      if (clash) {
        throw new AiboxError('CONFLICT', `local port ${forward.local} already forwards to sandbox port ${clash.remote} (${formatForward(clash)})`, `stop it first: ${aiboxCommand(instance, `port-forward --stop ${formatForward(clash)}`)}`);
      }
      if (!(await isLocalPortFree(forward.bind, forward.local))) {
        throw new AiboxError('CONFLICT', `local port ${forward.local} on ${forward.bind} is in use by another program`, `pick another local port: ${aiboxCommand(instance, `port-forward ${forward.local + 1}:${forward.remote}`)}`);
      }
      fresh.push(forward);
    }
    if (fresh.length > 0) {
      const result = await ctx.run('ssh', sshControl(instance, 'forward', fresh), { allowFailure: true, timeoutMs: 15_000 });
      if (result.exitCode !== 0) {
        // Partly set up is worse than not at all: take back what this call added.
        await ctx.run('ssh', sshControl(instance, 'cancel', fresh), { allowFailure: true, timeoutMs: 15_000 });
        throw new AiboxError('PROCESS_FAILED', `ssh could not forward ${fresh.map(formatForward).join(',')}: ${result.stderr.trim() || `exit code ${result.exitCode}`}`, `see whether another program took the port, then run ${aiboxCommand(instance, 'doctor')}`);
      }
    }
    const since = new Date().toISOString();
    added = fresh.map((forward) => ({ ...forward, since }));
    return [...active, ...added];
  }, waitingFor(ctx, instance));
  return { master, forwards, added };
}

/** The forwards active now: none when the shared connection that held them is gone. */
export async function listForwards(ctx: Context, instance: Instance): Promise<ForwardReport> {
  const master = await sharedConnectionPid(ctx.run, instance.sshConfig, instance.name);
  return { master, forwards: liveForwards(await readForwardState(instance.dir), master) };
}

/** Cancels the given forwards (all of them without `which`); an unknown one is an error before any change. */
export async function stopForwards(ctx: Context, instance: Instance, which?: readonly Forward[]): Promise<ForwardReport & { stopped: ActiveForward[] }> {
  const master = await sharedConnectionPid(ctx.run, instance.sshConfig, instance.name);
  const stoppedOf = (forwards: ActiveForward[]): ActiveForward[] => which === undefined ? forwards : which.map((forward) => {
    // A local port is forwarded at most once, so it names the forward.
    const found = forwards.find((one) => one.local === forward.local);
    if (!found) throw new AiboxError('NOT_FOUND', `no forward of local port ${forward.local} is active`, `see the active ones: ${aiboxCommand(instance, 'port-forward --list')}`);
    return found;
  });
  if (master === undefined) return { forwards: [], stopped: stoppedOf([]) };
  let stopped: ActiveForward[] = [];
  const left = await updateForwardState(instance.dir, master, async (forwards) => {
    stopped = stoppedOf(forwards);
    if (stopped.length > 0) {
      const result = await ctx.run('ssh', sshControl(instance, 'cancel', stopped), { allowFailure: true, timeoutMs: 15_000 });
      if (result.exitCode !== 0) throw new AiboxError('PROCESS_FAILED', `ssh could not cancel ${stopped.map(formatForward).join(',')}: ${result.stderr.trim()}`, `run ${aiboxCommand(instance, 'doctor')}`);
    }
    return forwards.filter((one) => !stopped.includes(one));
  }, waitingFor(ctx, instance));
  return { master, forwards: left, stopped };
}
