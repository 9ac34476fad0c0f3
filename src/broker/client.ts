import { connect } from 'node:net';
import { createInterface } from 'node:readline';
import type { Context } from '../core/context.js';
import { AiboxError, ERROR_CODES, type ErrorCode } from '../core/errors.js';
import { parseJson } from '../core/json.js';
import { brokerReplySchema, SANDBOX_PORT, type BrokerRequest } from './protocol.js';

/** Right after `aibox start` the host side may still be connecting: retry a refused connection for ~5 s. */
const CONNECT_ATTEMPTS = 20;

function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERROR_CODES, code);
}

/**
 * Sends one request from inside the sandbox to the host side (see protocol.ts) and
 * returns its report, still to be validated by the caller; the host's error is rethrown
 * as is. Progress and warnings are shown as they arrive.
 */
export async function askHost(ctx: Context, request: BrokerRequest, port = SANDBOX_PORT): Promise<unknown> {
  const answer = brokerReplySchema.parse(await retryConnect(ctx, request, port));
  if ('ok' in answer && answer.ok === false) {
    const { code, message, hint } = answer.error;
    throw new AiboxError(isErrorCode(code) ? code : 'PROCESS_FAILED', message, hint);
  }
  return 'report' in answer ? answer.report : undefined;
}

async function retryConnect(ctx: Context, request: BrokerRequest, port: number): Promise<unknown> {
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

