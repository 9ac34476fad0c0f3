import { spawn } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Context } from '../core/context.js';
import { withLock } from '../core/lock.js';
import type { Instance } from '../sandbox/instance.js';

/** The broker's files: its socket and pid file under ~/.local/state/aibox/broker/. */
export function brokerFiles(ctx: Pick<Context, 'paths'>, instance: Pick<Instance, 'name'>): { socket: string; pidFile: string } {
  const dir = join(ctx.paths.stateDir, 'broker');
  return { socket: join(dir, `${instance.name}.sock`), pidFile: join(dir, `${instance.name}.pid`) };
}

/** The pid of this instance's running broker, if there is one. */
async function brokerPid(ctx: Pick<Context, 'paths'>, instance: Pick<Instance, 'name'>): Promise<number | undefined> {
  const pid = Number((await readFile(brokerFiles(ctx, instance).pidFile, 'utf8').catch(() => '')).trim());
  if (!pid) return undefined;
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  return cmdline.includes('\0broker\0') && cmdline.includes(`\0${instance.name}`) ? pid : undefined;
}

/**
 * Starts the host side of in-sandbox `aibox install` (aibox broker) in the
 * background unless it runs already. It ends by itself when the sandbox stops.
 */
export async function ensureBroker(ctx: Context, instance: Pick<Instance, 'name'>): Promise<number> {
  const { pidFile } = brokerFiles(ctx, instance);
  // Two `aibox start` at once start one broker.
  return withLock(`${pidFile}.lock`, async () => {
    const running = await brokerPid(ctx, instance);
    if (running) return running;
    await mkdir(join(pidFile, '..'), { recursive: true, mode: 0o700 });
    const child = spawn(process.execPath, [process.argv[1] ?? '', 'broker', '--name', instance.name], { cwd: ctx.cwd, env: ctx.env, detached: true, stdio: 'ignore' });
    child.unref();
    await writeFile(pidFile, `${child.pid ?? ''}\n`, { mode: 0o600 });
    return child.pid ?? 0;
  }, () => undefined);
}

export async function stopBroker(ctx: Context, instance: Pick<Instance, 'name'>): Promise<void> {
  const pid = await brokerPid(ctx, instance);
  if (pid) process.kill(-pid, 'SIGTERM'); // its process group: the broker and its ssh
  await rm(brokerFiles(ctx, instance).pidFile, { force: true });
}
