import { createInterface } from 'node:readline';
import { parseJson } from '../core/json.js';
import { mkdir, rm } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { loadConfig } from '../config/store.js';
import type { Context } from '../core/context.js';
import { AiboxError } from '../core/errors.js';
import type { Output } from '../core/output.js';
import { loadPolicyFor } from '../policy/load.js';
import type { Instance } from '../sandbox/instance.js';
import { mcpCatalog, prepareMcpEnable } from '../mcp/host.js';
import { installPacks, packStoreOf } from '../packs/install.js';
import { classifyOnHost } from '../push/classify.js';
import { cancelOnHost, registerOnHost, requestsOnHost } from '../push/register.js';
import { parsePackSpec } from '../packs/manifest.js';
import { brokerFiles } from './process.js';
import { brokerRequestSchema, MAX_REQUEST_BYTES, SANDBOX_PORT, type BrokerRequest } from './protocol.js';

/** Progress of a request, sent to the sandbox side as it happens. */
function socketOutput(socket: Socket): Output {
  const send = (line: object) => socket.write(`${JSON.stringify(line)}\n`);
  return {
    json: true,
    tty: false, // each progress is a line to the sandbox side, which may not be a terminal: no download ticker
    info: (message) => send({ progress: message }),
    warn: (message) => send({ warning: message }),
    progress: (message) => send({ progress: message }),
    result: () => undefined,
    record: () => undefined,
  };
}

async function answer(ctx: Context, instance: Instance, socket: Socket, line: string): Promise<void> {
  const out = socketOutput(socket);
  try {
    const parsed = brokerRequestSchema.safeParse(parseJson(line));
    if (!parsed.success) throw new AiboxError('USAGE', 'the request is not one aibox understands', 'from inside the sandbox, the host does: aibox install PACK[@VERSION]..., aibox mcp enable PACK...');
    const report = await handle({ ...ctx, out }, instance, parsed.data);
    socket.end(`${JSON.stringify({ ok: true, report })}\n`);
  } catch (error) {
    const known = error instanceof AiboxError;
    const message = error instanceof Error ? error.message : String(error);
    socket.end(`${JSON.stringify({ ok: false, error: { code: known ? error.code : 'INTERNAL', message, hint: known ? error.hint : undefined } })}\n`);
  }
}

/** The same domain calls as the host commands, for this instance only. */
async function handle(ctx: Context, instance: Instance, request: BrokerRequest): Promise<unknown> {
  if (request.op === 'mcp-enable') return prepareMcpEnable(ctx, instance, request.packs);
  if (request.op === 'mcp-catalog') return mcpCatalog(ctx);
  if (request.op === 'push-check') return classifyOnHost(ctx, request.url);
  if (request.op === 'push-register') return registerOnHost(ctx, request.url, request.pushes);
  if (request.op === 'push-requests') return requestsOnHost(ctx);
  if (request.op === 'push-cancel') return cancelOnHost(ctx, request.id);
  const config = await loadConfig(ctx.paths);
  const policy = await loadPolicyFor(ctx, config);
  policy.warnings.forEach((warning) => ctx.out.warn(warning));
  return installPacks(ctx, await packStoreOf(instance), config, policy, request.packs.map(parsePackSpec), {
    frozen: request.frozen,
    lock: request.lock,
    hasLockFile: request.hasLockFile,
  });
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
