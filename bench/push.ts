/**
 * Push approval benchmark (not a test), on loopback with the real pieces: a
 * `git daemon` remote, the built aibox as git-remote-aibox with registration
 * to a real `aibox approvals serve`, and the JSON API.
 *
 * - `git push` of one new commit to a review-required repository until git
 *   exits with "staged for approval" (registered), against the baseline of
 *   the same `git push` straight to the remote, alternated, medians of RUNS;
 * - approve → target branch updated (the API call returns after the push);
 * - API throughput, SQLite and PostgreSQL: registrations (POST) and reads
 *   (GET one request) with CONCURRENCY callers for SECONDS each.
 *
 * Prints a Markdown report for docs/performance.md and writes bench/results/push-latest.json.
 *
 *   npm run bench:push
 */
import { spawnSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { stagingRef } from '../src/push/staging.js';
import { call, createToken, git, installRemoteHelper, startGitServer, startService, type Service } from '../test/helpers/approvals.js';
import { aibox, testUser, type TestUser } from '../test/helpers/cli.js';
import { startPostgres } from '../test/helpers/push-store-postgres.js';
import { load, machine, median } from './common.js';

const RUNS = 15;
const CONCURRENCY = 16;
const SECONDS = 5;

function timedGit(env: NodeJS.ProcessEnv, cwd: string, args: string[]): { ms: number; code: number; stderr: string } {
  const start = performance.now();
  const result = spawnSync('git', args, { cwd, env, encoding: 'utf8' });
  return { ms: performance.now() - start, code: result.status ?? 1, stderr: result.stderr };
}

/** Requests per second of `one` called by CONCURRENCY loops for SECONDS. */
async function throughput(one: (n: number) => Promise<number>): Promise<{ perSecond: number; failed: number }> {
  const end = performance.now() + SECONDS * 1000;
  let done = 0;
  let failed = 0;
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < end) {
        const status = await one(next++);
        if (status >= 400) failed++;
        else done++;
      }
    }),
  );
  return { perSecond: done / SECONDS, failed };
}

async function apiThroughput(user: TestUser, database: string, label: string): Promise<string[]> {
  const developer = createToken(user, database, 'bench', 'developer');
  const service: Service = await startService(user, user.home, { database, reconcile_every: '1h' });
  const sha = 'a'.repeat(40);
  const body = (n: number) => {
    const ref = stagingRef('refs', 'bench', new Date(Date.UTC(2026, 0, 1) + n * 1000), `refs/heads/t${n}`);
    return { repository: '127.0.0.1/bench/app', url: 'git://127.0.0.1:1/bench/app.git', targetRef: `refs/heads/t${n}`, stagingRef: ref, oldSha: sha, newSha: 'b'.repeat(40), force: false, pushOptions: [] };
  };
  const offset = Math.floor(Math.random() * 1e8);
  const writes = await throughput(async (n) => (await call(service.api, 'POST', '/v1/requests', developer, body(offset + n))).status);
  const first = (await call(service.api, 'GET', '/v1/requests', developer)).json.requests as { id: string }[];
  const ids = first.map((request) => request.id);
  const reads = await throughput(async (n) => (await call(service.api, 'GET', `/v1/requests/${ids[n % ids.length]}`, developer)).status);
  await service.stop();
  return [`| API throughput, ${label}: register (POST /v1/requests) | ${writes.perSecond.toFixed(0)} req/s (${writes.failed} failed) | — |`, `| API throughput, ${label}: read one (GET /v1/requests/ID) | ${reads.perSecond.toFixed(0)} req/s (${reads.failed} failed) | — |`];
}

async function main(): Promise<void> {
  const admin = await testUser('bench-push');
  const server = await startGitServer(admin, ['app', 'plain']);
  const db = join(admin.home, 'approvals.db');
  const approver = createToken(admin, db, 'carol', 'team-lead');
  const tokenFile = join(admin.home, 'push-token');
  await writeFile(tokenFile, createToken(admin, db, 'alice', 'developer'), { mode: 0o600 });
  const service = await startService(admin, admin.home, { database: db, reconcile_every: '1h' });
  for (const [key, value] of [['push.identity', 'alice'], ['push.service', service.api], ['push.token', `file:${tokenFile}`]] as const) await aibox(admin, ['config', 'set', key, value]);

  const helper = await installRemoteHelper(admin.home);
  const work = join(admin.home, 'work');
  await mkdir(work);
  git(admin, ['init', '-q', '-b', 'main'], work);
  git(admin, ['commit', '-q', '--allow-empty', '-m', 'first'], work);
  git(admin, ['push', '-q', server.url('app'), 'HEAD:refs/heads/main'], work);
  git(admin, ['push', '-q', server.url('plain'), 'HEAD:refs/heads/main'], work);
  const identity = { GIT_AUTHOR_NAME: 'A', GIT_AUTHOR_EMAIL: 'a@example.com', GIT_COMMITTER_NAME: 'A', GIT_COMMITTER_EMAIL: 'a@example.com' };
  const helperEnv = { ...admin.env, ...identity, ...helper.env };
  const plainEnv = { ...admin.env, ...identity, GIT_CONFIG_NOSYSTEM: '1' };

  const staged: number[] = [];
  const plain: number[] = [];
  const approve: number[] = [];
  for (let n = 0; n < RUNS; n++) {
    git(admin, ['commit', '-q', '--allow-empty', '-m', `change ${n}`], work);
    const direct = timedGit(plainEnv, work, ['push', '-q', server.url('plain'), `HEAD:refs/heads/b${n}`]);
    if (direct.code !== 0) throw new Error(direct.stderr);
    plain.push(direct.ms);
    const push = timedGit(helperEnv, work, ['push', server.url('app'), `HEAD:refs/heads/b${n}`]);
    if (!/is registered with the approval service/.test(push.stderr)) throw new Error(`not staged and registered: ${push.stderr}`);
    staged.push(push.ms);
    const id = /staged for approval as ([0-9a-f]{10})/.exec(push.stderr)?.[1] ?? '';
    const start = performance.now();
    const answer = await call(service.api, 'POST', `/v1/requests/${id}/approve`, approver);
    approve.push(performance.now() - start);
    if ((answer.json.request as { state?: string } | undefined)?.state !== 'promoted') throw new Error(`not promoted: ${JSON.stringify(answer.json)}`);
  }
  await service.stop();

  const postgres = await startPostgres();
  const throughputRows = [...(await apiThroughput(admin, join(admin.home, 'throughput.db'), 'SQLite')), ...(await apiThroughput(admin, await postgres.createDatabase(), 'PostgreSQL'))];
  await postgres.stop();
  server.stop();

  const ms = (value: number) => `${value.toFixed(0)} ms`;
  const rows = [
    '| what | median | target |',
    '|---|---|---|',
    `| \`git push\` → "staged for approval" and registered | ${ms(median(staged))} (${(median(staged) / median(plain)).toFixed(1)}× a plain \`git push\` to the same daemon, ${ms(median(plain))}) | < 1 s |`,
    `| approve → target branch updated (API call, one atomic push) | ${ms(median(approve))} | < 1 s |`,
    ...throughputRows,
  ];
  const report = [`Machine: ${await machine()}; 1-minute load ${load()}; ${new Date().toISOString().slice(0, 10)}; medians of ${RUNS}, throughput with ${CONCURRENCY} callers for ${SECONDS} s.`, '', ...rows].join('\n');
  await writeFile('bench/results/push-latest.json', `${JSON.stringify({ staged, plain, approve, throughput: throughputRows }, null, 2)}\n`);
  process.stdout.write(`${report}\n`);
}

await main();
