/**
 * The "bundle" that the unit test's build of the aibox client, and its host launcher,
 * run (see test/unit/cli-server.test.ts): `cli-server` serves with a fake command
 * runner (on the host with `--socket`), anything else is "Node running the command
 * itself" and says so.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CliIo } from '../../src/cli/app.js';
import { cliSocketPath, type ServerSide } from '../../src/cli/server-protocol.js';
import { serveCli } from '../../src/cli/server.js';

async function fakeCommand(argv: string[], io: CliIo, side: ServerSide): Promise<number | undefined> {
  const what = argv.at(-1);
  if (what === 'fail') return 5;
  if (what === 'stdin') io.stdout.write(`got: ${await io.readStdin()}`);
  else if (what === 'big') io.stdout.write('x'.repeat(300_000));
  else if (what === 'sleep') await new Promise((done) => setTimeout(done, 30_000));
  else {
    io.stdout.write(`served (${side}): ${argv.slice(2).join(' ')} cwd=${io.cwd} var=${io.env.TEST_VAR ?? ''} tty=${String(io.stdout.isTTY)}\n`);
    io.stderr.write('to stderr\n');
  }
  return undefined;
}

const root = process.env.TEST_SOCKET_ROOT ?? '/nonexistent';
if (process.argv[2] === 'cli-server') {
  await writeFile(join(root, 'server.pid'), String(process.pid));
  const host = process.argv[3] === '--socket' ? process.argv[4] : undefined;
  await serveCli(fakeCommand, host ?? cliSocketPath(process.getuid?.() ?? 0, root), host ? 'host' : 'sandbox', Number(process.env.TEST_IDLE_MS ?? 60_000));
} else {
  process.stdout.write(`node: ${process.argv.slice(2).join(' ')}\n`);
}
