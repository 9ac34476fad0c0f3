import { AiboxError } from '../core/errors.js';

/**
 * The cosign key password: $COSIGN_PASSWORD as cosign reads it (set, even empty,
 * it wins), else asked on the terminal without echo.
 */
export async function keyPassword(env: NodeJS.ProcessEnv, question: string): Promise<string> {
  if (env.COSIGN_PASSWORD !== undefined) return env.COSIGN_PASSWORD;
  const input = process.stdin;
  if (!input.isTTY) throw new AiboxError('USAGE', 'no password for the cosign key: COSIGN_PASSWORD is not set and there is no terminal to ask on', 'set COSIGN_PASSWORD (cosign reads it too)');
  process.stderr.write(question);
  input.setRawMode(true);
  input.resume();
  let password = '';
  try {
    for await (const chunk of input) {
      for (const char of String(chunk)) {
        if (char === '\r' || char === '\n') return password;
        if (char === '\u0003') throw new AiboxError('USAGE', 'cancelled');
        password = char === '\u007f' ? password.slice(0, -1) : password + char;
      }
    }
    return password;
  } finally {
    input.setRawMode(false);
    input.pause();
    process.stderr.write('\n');
  }
}
