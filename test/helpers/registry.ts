import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './cli.js';

/** Debian's docker-registry (distribution 2.8): apt-get install -y docker-registry. */
const REGISTRY = '/usr/bin/docker-registry';
const READY_TIMEOUT_MS = 15_000;

export interface TestRegistry {
  /** host:port, as HttpRegistry takes it. */
  ref: string;
  port: number;
  /** The file a blob is stored in (distribution's filesystem driver), for tests that damage one. */
  blobFile(digest: string): string;
  stop(): Promise<void>;
}

/**
 * Runs a real OCI registry on 127.0.0.1 with its own temp storage (and
 * htpasswd Basic auth when asked), until stop().
 */
export async function startRegistry(options: { htpasswd?: { user: string; password: string } } = {}): Promise<TestRegistry> {
  const dir = await mkdtemp(join(tmpdir(), 'aibox-registry-'));
  const port = await freePort();
  const config = [
    'version: 0.1',
    'log: { level: error, accesslog: { disabled: true } }',
    `storage: { filesystem: { rootdirectory: ${join(dir, 'storage')} }, delete: { enabled: true } }`,
    `http: { addr: "127.0.0.1:${port}" }`,
  ];
  if (options.htpasswd) {
    // docker-registry accepts bcrypt entries only; htpasswd comes with apache2-utils.
    const entry = spawnSync('htpasswd', ['-nbB', options.htpasswd.user, options.htpasswd.password], { encoding: 'utf8' });
    if (entry.status !== 0) throw new Error(`htpasswd -nbB failed (apt-get install -y apache2-utils): ${entry.stderr || entry.error}`);
    await writeFile(join(dir, 'htpasswd'), entry.stdout.trim() + '\n');
    config.push(`auth: { htpasswd: { realm: aibox-test, path: ${join(dir, 'htpasswd')} } }`);
  }
  await writeFile(join(dir, 'config.yml'), config.join('\n') + '\n');

  const server = spawn(REGISTRY, ['serve', join(dir, 'config.yml')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  server.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => server.once('exit', () => resolve()));
  const stop = async () => {
    if (server.exitCode === null && server.signalCode === null) {
      server.kill('SIGTERM');
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (server.exitCode !== null || server.signalCode !== null) {
      await stop();
      throw new Error(`${REGISTRY} exited before it answered (apt-get install -y docker-registry): ${stderr.trim() || `exit ${server.exitCode}`}`);
    }
    // /v2/ answers 200, or 401 with auth: either way the registry is up.
    const status = await fetch(`http://127.0.0.1:${port}/v2/`, { signal: AbortSignal.timeout(1000) }).then(
      (response) => response.status,
      () => 0,
    );
    if (status === 200 || status === 401) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`${REGISTRY} did not answer on 127.0.0.1:${port} within ${READY_TIMEOUT_MS} ms: ${stderr.trim()}`);
    }
    await sleep(50);
  }
  const blobFile = (digest: string) => {
    const hex = digest.slice('sha256:'.length);
    return join(dir, 'storage', 'docker', 'registry', 'v2', 'blobs', 'sha256', hex.slice(0, 2), hex, 'data');
  };
  return { ref: `127.0.0.1:${port}`, port, blobFile, stop };
}
