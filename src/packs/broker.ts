import { createInterface } from 'node:readline';
import { parseJson } from '../core/json.js';
import { mkdir, rm } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { z } from 'zod';
import { loadConfig } from '../config/store.js';
import type { Context } from '../core/context.js';
import { AiboxError } from '../core/errors.js';
import type { Output } from '../core/output.js';
import { loadPolicyFor } from '../policy/load.js';
import type { Instance } from '../sandbox/instance.js';
import { brokerFiles } from './broker-process.js';
import { installPacks } from './install.js';
import { parsePackSpec } from './manifest.js';
import { lockSchema } from './lockfile.js';

/**
 * The channel that lets `aibox install` work from a terminal inside the sandbox.
 *
 * A small host process (`aibox broker`, started by `aibox start`) listens on a
 * Unix socket on the host and keeps an SSH connection to the sandbox that
 * forwards 127.0.0.1:SANDBOX_PORT in the sandbox to it (`ssh -R`). The sandbox side
 * can send exactly one kind of request: install these pack specs, with this lock.
 * The host answers it with the same code, policy and signature checks as a
 * host-side install, into this instance only. So the agent can ask for a pack
 * the policy allows and its trusted keys signed, and nothing else: no other
 * verb, no path, no registry, no instance, no flag that loosens a check.
 */
/** Where the sandbox side reaches the host side: a loopback port in the sandbox (sshd's remote forward). */
export const SANDBOX_PORT = 7329;
const MAX_REQUEST_BYTES = 64 * 1024;
const MAX_PACKS = 20;

export const brokerRequestSchema = z
  .object({
    v: z.literal(1),
    op: z.literal('install'),
    packs: z.array(z.string().max(100)).min(1).max(MAX_PACKS),
    frozen: z.boolean().default(false),
    lock: lockSchema,
    hasLockFile: z.boolean(),
  })
  .strict();

export type BrokerRequest = z.infer<typeof brokerRequestSchema>;

/** One line of the broker's answer: progress, then exactly one result or error. */
export const brokerReplySchema = z.union([
  z.object({ progress: z.string() }).strict(),
  z.object({ warning: z.string() }).strict(),
  z.object({ ok: z.literal(true), report: z.unknown() }).strict(),
  z.object({ ok: z.literal(false), error: z.object({ code: z.string(), message: z.string(), hint: z.string().optional() }) }).strict(),
]);

/** Progress of a request, sent to the sandbox side as it happens. */
function socketOutput(socket: Socket): Output {
  const send = (line: object) => socket.write(`${JSON.stringify(line)}\n`);
  return {
    json: true,
    info: (message) => send({ progress: message }),
    warn: (message) => send({ warning: message }),
    progress: (message) => send({ progress: message }),
    result: () => undefined,
  };
}

async function answer(ctx: Context, instance: Instance, socket: Socket, line: string): Promise<void> {
  const out = socketOutput(socket);
  try {
    const parsed = brokerRequestSchema.safeParse(parseJson(line));
    if (!parsed.success) throw new AiboxError('USAGE', 'the request is not an install request aibox understands', 'use: aibox install PACK[@VERSION]...');
    const request = parsed.data;
    const requests = request.packs.map(parsePackSpec);
    const requestCtx: Context = { ...ctx, out };
    const config = await loadConfig(ctx.paths);
    const policy = await loadPolicyFor(requestCtx, config);
    policy.warnings.forEach((warning) => out.warn(warning));
    const report = await installPacks(requestCtx, { container: instance.name, sshConfig: instance.sshConfig }, config, policy, requests, {
      frozen: request.frozen,
      lock: request.lock,
      hasLockFile: request.hasLockFile,
    });
    socket.end(`${JSON.stringify({ ok: true, report })}\n`);
  } catch (error) {
    const known = error instanceof AiboxError;
    const message = error instanceof Error ? error.message : String(error);
    socket.end(`${JSON.stringify({ ok: false, error: { code: known ? error.code : 'INTERNAL', message, hint: known ? error.hint : undefined } })}\n`);
  }
}

/**
 * Runs the host side until the sandbox is gone: the socket server, and the SSH
 * connection that forwards the sandbox's socket to it (re-opened when it drops).
 */
export async function serveBroker(ctx: Context, instance: Instance): Promise<void> {
  const { socket: socketPath } = brokerFiles(ctx, instance);
  await mkdir(join(socketPath, '..'), { recursive: true, mode: 0o700 });
  await rm(socketPath, { force: true });
  let busy = Promise.resolve();
  const server = createServer((socket) => {
    let received = 0;
    const lines = createInterface({ input: socket });
    socket.on('data', (chunk) => {
      received += chunk.length;
      if (received > MAX_REQUEST_BYTES) socket.destroy();
    });
    socket.on('error', () => undefined);
    lines.once('line', (line) => {
      lines.close();
      // One request at a time: installs into one sandbox are serialized anyway.
      busy = busy.then(() => answer(ctx, instance, socket, line));
    });
  });
  await new Promise<void>((resolve, reject) => server.listen(socketPath, resolve).once('error', reject));
  try {
    for (let failures = 0; failures < 30; ) {
      const started = Date.now();
      const code = await forwardOnce(ctx, instance, socketPath);
      if (code === 'gone') return;
      failures = Date.now() - started > 60_000 ? 0 : failures + 1;
      await new Promise((resolve) => setTimeout(resolve, Math.min(1000 * failures, 10_000)));
    }
  } finally {
    server.close();
    await rm(socketPath, { force: true });
  }
}

/** One SSH connection that forwards SANDBOX_PORT to the broker; 'gone' when the sandbox no longer runs. */
async function forwardOnce(ctx: Context, instance: Instance, socketPath: string): Promise<'dropped' | 'gone'> {
  const state = await ctx.run('podman', ['container', 'inspect', '--format', '{{.State.Running}}', instance.name], { allowFailure: true });
  if (state.stdout.trim() !== 'true') return 'gone';
  const forward = ['-o', 'ControlMaster=no', '-o', 'ControlPath=none', '-o', 'ExitOnForwardFailure=yes', '-o', 'ServerAliveInterval=15', '-R', `127.0.0.1:${SANDBOX_PORT}:${socketPath}`];
  await ctx.run('ssh', ['-F', instance.sshConfig, '-N', ...forward, instance.name], { stdio: 'ignore', allowFailure: true });
  return 'dropped';
}
