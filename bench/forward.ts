/**
 * Port forwarding and file watching benchmark (not a test), under gVisor and runc:
 *
 * - port-forward set-up: from the start of `aibox port-forward LOCAL:7001` to the first
 *   byte of an HTTP answer from a Node server inside, through the forward (medians of
 *   FORWARDS), with the shared SSH connection open ("warm", the usual case after
 *   `aibox start`) and closed first ("cold": the command opens it);
 * - inotify latency: a writer inside writes a file every 100 ms; a watcher inside
 *   (Node fs.watch on /workspace) prints when the event arrives; both read the same
 *   clock, so the difference is the event's latency (median of WRITES).
 *
 * Prints a Markdown report for docs/performance.md; raw numbers go to
 * bench/results/forward-latest.json.
 *
 *   npm run bench:forward
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { aibox, freePort, testUser, type TestUser } from '../test/helpers/cli.js';
import { load, machine, median, must } from './common.js';

const FORWARDS = 10;
const COLD = 5;
const WRITES = 30;
const NODE = '/opt/aibox/node/bin/node';

/** Resolves with the ms until the first byte of GET / on the port, retrying while nothing answers. */
function firstByte(port: number, started: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const req = request({ host: '127.0.0.1', port, path: '/' }, (response) => {
        response.once('data', () => {
          resolve(performance.now() - started);
          response.destroy();
        });
      });
      req.once('error', () => (performance.now() - started > 10_000 ? reject(new Error(`nothing on ${port}`)) : setTimeout(attempt, 5)));
      req.end();
    };
    attempt();
  });
}

function aiboxSync(user: TestUser, args: string[]): void {
  const result = spawnSync(process.execPath, ['dist/aibox.mjs', ...args], { env: user.env, encoding: 'utf8' });
  must({ code: result.status ?? 1, stderr: result.stderr }, `aibox ${args.join(' ')}`);
}

/** ms from the command's start to the first byte, and of that the command itself (until it exits). */
async function forwardOnce(user: TestUser, sshConfig: string, cold: boolean): Promise<{ total: number; command: number }> {
  if (cold) spawnSync('ssh', ['-F', sshConfig, '-O', 'exit', user.name]);
  const local = await freePort();
  const started = performance.now();
  aiboxSync(user, ['port-forward', `${local}:7001`]);
  const command = performance.now() - started;
  const total = await firstByte(local, started);
  aiboxSync(user, ['port-forward', '--stop', String(local)]);
  return { total, command };
}

/** Event latencies in ms: a watcher and a writer inside, on the sandbox's clock. */
async function inotifyLatencies(user: TestUser, sshConfig: string): Promise<number[]> {
  const watcher = spawn('ssh', ['-F', sshConfig, user.name, `mkdir -p /workspace/bench-watch && exec ${NODE} -e "require('fs').watch('/workspace/bench-watch', (e, f) => console.log('event', f, performance.timeOrigin + performance.now())); console.log('ready')"`]);
  let out = '';
  watcher.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  while (!out.includes('ready')) await new Promise((resolve) => setTimeout(resolve, 50));
  const writer = spawnSync('ssh', ['-F', sshConfig, user.name, `${NODE} -e "const fs = require('fs'); let i = 0; const t = setInterval(() => { const at = performance.timeOrigin + performance.now(); fs.writeFileSync('/workspace/bench-watch/f' + i, 'x'); console.log('write', 'f' + i, at); if (++i === ${WRITES}) clearInterval(t); }, 100)"`], { encoding: 'utf8' });
  must({ code: writer.status ?? 1, stderr: writer.stderr }, 'the writer inside');
  await new Promise((resolve) => setTimeout(resolve, 1000));
  watcher.kill();
  const events = new Map<string, number>();
  for (const [, file, at] of out.matchAll(/event (\S+) ([\d.]+)/g)) if (file && !events.has(file)) events.set(file, Number(at));
  const latencies = [...writer.stdout.matchAll(/write (\S+) ([\d.]+)/g)].flatMap(([, file, at]) => {
    const event = events.get(file ?? '');
    return event === undefined ? [] : [event - Number(at)];
  });
  if (latencies.length < WRITES) console.error(`warning: ${WRITES - latencies.length} of ${WRITES} writes had no event`);
  return latencies;
}

const rows: { runtime: string; warm: { total: number; command: number }[]; cold: { total: number; command: number }[]; inotify: number[]; load: string }[] = [];
for (const runtime of ['gvisor', 'runc'] as const) {
  const user = await testUser(`bench-fwd-${runtime}`);
  const sshConfig = join(user.home, '.ssh', 'config');
  try {
    const started = await aibox(user, ['start', '--runtime', runtime, '--port', String(await freePort())]);
    must(started, `aibox start --runtime ${runtime}`);
    spawnSync('ssh', ['-F', sshConfig, user.name, `setsid ${NODE} -e "require('http').createServer((q, r) => r.end('hi')).listen(7001, '127.0.0.1')" </dev/null >/dev/null 2>&1 &`]);
    await forwardOnce(user, sshConfig, false); // the server's start and the first bundle load
    const warm: { total: number; command: number }[] = [];
    for (let i = 0; i < FORWARDS; i++) warm.push(await forwardOnce(user, sshConfig, false));
    const cold: { total: number; command: number }[] = [];
    for (let i = 0; i < COLD; i++) cold.push(await forwardOnce(user, sshConfig, true));
    const inotify = await inotifyLatencies(user, sshConfig);
    rows.push({ runtime, warm, cold, inotify, load: load() });
  } finally {
    await aibox(user, ['rm', '--volumes']);
  }
}

const ms = (values: number[], digits = 0) => `${median(values).toFixed(digits)} ms`;
console.log(`Machine: ${await machine()}\nDate: ${new Date().toISOString().slice(0, 10)}\n`);
console.log('| what | gVisor | runc |\n|---|---|---|');
const [gvisor, runc] = rows;
if (gvisor && runc) {
  const split = (runs: { total: number; command: number }[]) => `${ms(runs.map((run) => run.total))} (the command: ${ms(runs.map((run) => run.command))})`;
  console.log(`| \`aibox port-forward\` start → first byte through the forward, shared connection open (median of ${FORWARDS}) | ${split(gvisor.warm)} | ${split(runc.warm)} |`);
  console.log(`| the same, shared connection closed first (median of ${COLD}) | ${split(gvisor.cold)} | ${split(runc.cold)} |`);
  console.log(`| inotify: write inside → fs.watch event inside (median of ${WRITES}) | ${ms(gvisor.inotify, 1)} | ${ms(runc.inotify, 1)} |`);
  console.log(`\n1-minute load after each: gVisor ${gvisor.load}, runc ${runc.load}`);
}
await mkdir('bench/results', { recursive: true });
await writeFile('bench/results/forward-latest.json', `${JSON.stringify({ machine: await machine(), date: new Date().toISOString(), rows }, null, 2)}\n`);
