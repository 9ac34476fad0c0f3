import { connect } from 'node:net';
import { createInterface } from 'node:readline';
import { z } from 'zod';
import type { Context } from '../core/context.js';
import { AiboxError, ERROR_CODES, type ErrorCode } from '../core/errors.js';
import { parseJson } from '../core/json.js';
import { brokerReplySchema, SANDBOX_PORT, type BrokerRequest } from './broker.js';
import type { InstallReport } from './install.js';
import { findLockFile, lockSchema, readLock, writeLock } from './lockfile.js';
import { parsePackSpec } from './manifest.js';

const reportSchema = z.object({
  packs: z.array(z.object({ name: z.string(), version: z.string(), digest: z.string(), signedBy: z.string(), outcome: z.enum(['installed', 'already-installed']), downloaded: z.boolean() })),
  lock: lockSchema,
});

/** Right after `aibox start` the host side may still be connecting: retry a refused connection for ~5 s. */
const CONNECT_ATTEMPTS = 20;

function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERROR_CODES, code);
}

/**
 * `aibox install` in a terminal inside the sandbox: the request goes to the
 * host side (see broker.ts), which verifies and installs exactly as on the host;
 * the project's lock file is read and written here, where the project lives.
 */
export async function installThroughHost(ctx: Context, specs: readonly string[], options: { frozen?: boolean; lock?: string }, port = SANDBOX_PORT): Promise<InstallReport> {
  const packs = specs.flatMap((spec) => spec.split(',')).filter(Boolean);
  packs.forEach(parsePackSpec); // a typo fails here, with the same message as on the host
  const lockFile = options.lock ?? findLockFile(ctx.cwd, ctx.paths.home);
  const request: BrokerRequest = { v: 1, op: 'install', packs, frozen: Boolean(options.frozen), lock: await readLock(lockFile), hasLockFile: Boolean(lockFile) };
  const answer = brokerReplySchema.parse(await askHost(ctx, request, port));
  if ('ok' in answer && answer.ok === false) {
    const { code, message, hint } = answer.error;
    throw new AiboxError(isErrorCode(code) ? code : 'PROCESS_FAILED', message, hint);
  }
  const report = reportSchema.parse('report' in answer ? answer.report : undefined);
  if (lockFile) await writeLock(lockFile, report.lock);
  return { ...report, lockFile };
}

async function askHost(ctx: Context, request: BrokerRequest, port: number): Promise<unknown> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await exchange(ctx, request, port);
    } catch (error) {
      if (!(error instanceof AiboxError) || error.code !== 'MISSING_PREREQ' || attempt >= CONNECT_ATTEMPTS) throw error;
      if (attempt === 1) ctx.out.progress('waiting for the host side of aibox…');
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}

/** One request over the forwarded port: progress lines as they come, then the answer. */
function exchange(ctx: Context, request: BrokerRequest, port: number): Promise<unknown> {
  return new Promise<unknown>((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      reject(
        ['ENOENT', 'ECONNREFUSED'].includes(error.code ?? '')
          ? new AiboxError('MISSING_PREREQ', 'the host side of aibox is not connected to this sandbox', 'on the host, run: aibox start (it connects the two), then try again')
          : new AiboxError('PROCESS_FAILED', `talking to the host side of aibox failed: ${error.message}`, 'on the host, run: aibox start'),
      );
    });
    socket.once('connect', () => socket.write(`${JSON.stringify(request)}\n`));
    let final: unknown;
    createInterface({ input: socket })
      .on('error', () => undefined) // the socket's own error handler above answers
      .on('line', (line) => {
        const parsed = brokerReplySchema.safeParse(parseJson(line));
        if (!parsed.success) return;
        const message = parsed.data;
        if ('progress' in message) ctx.out.progress(message.progress);
        else if ('warning' in message) ctx.out.warn(message.warning);
        else final = message;
      })
      .once('close', () => (final ? resolve(final) : reject(new AiboxError('PROCESS_FAILED', 'the host side of aibox closed the connection without an answer', 'on the host, run: aibox start; then try again'))));
  });
}

