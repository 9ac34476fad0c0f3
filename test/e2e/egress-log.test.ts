import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import type { EgressLogEntry } from '../../src/egress/log.js';
import { AIBOX, aibox, aiboxOk, cleanup, freePort, host, sshTo, testUser, type TestUser } from '../helpers/cli.js';

/*
 * `aibox egress log` and the proxy in `aibox status`, with real podman, squid and gVisor.
 * The test host is a container on podman's bridge (HTTP on 8080 and 8443); nothing outside
 * this machine is touched. The org policy allows 8080 and 8443, the project only 8080: a
 * request to 8443 is fixed in the project file, one to 9443 needs the org policy first.
 */
const ORG_POLICY = '/etc/aibox/policy.yaml';
const SERVER = `
const http = require('http');
const answer = (name) => (req, res) => res.end(name + ' ' + req.url + '\\n');
http.createServer(answer('web')).listen(8080);
http.createServer(answer('tunnel')).listen(8443);
`;

/** What `aibox egress log --json` prints per request. */
type Entry = EgressLogEntry;

describe('aibox egress log: what the proxy denied, and the policy change that allows it', () => {
  let user: TestUser;
  let project: string;
  let projectPolicy: string;
  let savedOrgPolicy: string | undefined;
  let web = '';
  const webName = `egress-log-web-${process.pid}`;

  const inside = (command: string) => sshTo(user, command);
  const run = (args: string[]) => aibox(user, args, { cwd: project });
  const logJson = async (args: string[] = []): Promise<Entry[]> => {
    const result = await run(['egress', 'log', '--json', ...args]);
    assert.equal(result.code, 0, result.stderr);
    const parsed = JSON.parse(result.stdout) as { ok: boolean; proxy: string; requests: Entry[] };
    assert.equal(parsed.ok, true);
    assert.equal(parsed.proxy, `${user.name}-egress`);
    return parsed.requests;
  };
  /** squid logs a request when it ends: wait until the log shows it. */
  const waitFor = async (find: (entries: Entry[]) => Entry | undefined, args: string[] = []): Promise<Entry> => {
    for (let i = 0; i < 20; i++) {
      const found = find(await logJson(args));
      if (found) return found;
      await sleep(500);
    }
    assert.fail('the request never showed in aibox egress log --json');
  };

  before(async () => {
    user = await testUser('e2e-egress-log');
    project = join(user.home, 'project');
    projectPolicy = join(project, '.aibox', 'policy.yaml');
    await mkdir(join(project, '.aibox'), { recursive: true });
    savedOrgPolicy = existsSync(ORG_POLICY) ? await readFile(ORG_POLICY, 'utf8') : undefined;
    const image = JSON.parse((await aiboxOk(user, ['image', 'build', '--json'])).stdout).image as string;
    const started = host('podman', ['run', '--detach', '--name', webName, '--runtime', 'runc', '--ulimit', 'nofile=4096:4096', '--ulimit', 'nproc=8192:8192', '--user', '1000:1000', '--entrypoint', '/opt/aibox/node/bin/node', image, '-e', SERVER]);
    assert.equal(started.code, 0, started.stderr);
    web = host('podman', ['inspect', '--format', '{{.NetworkSettings.IPAddress}}', webName]).stdout.trim();
    await mkdir('/etc/aibox', { recursive: true });
    await writeFile(ORG_POLICY, `version: 1\nnetwork:\n  egress:\n    - host: ${web}\n      ports: [8080, 8443]\n`);
    await writeFile(projectPolicy, `version: 1\nnetwork:\n  egress:\n    - host: ${web}\n      ports: [8080]\n`);
  });

  after(async () => {
    host('podman', ['rm', '--force', '--time', '0', webName]);
    await cleanup(user);
    if (savedOrgPolicy === undefined) await rm(ORG_POLICY, { force: true });
    else await writeFile(ORG_POLICY, savedOrgPolicy);
  });

  it('without a proxy: one clear error naming the sandbox and how to start it; a bad --since names the value', async () => {
    const missing = await run(['egress', 'log']);
    assert.equal(missing.code, 7, missing.stderr);
    assert.match(missing.stderr, new RegExp(`^error: no egress proxy for sandbox ${user.name} \\(no container ${user.name}-egress\\)\\nhint: start it: aibox start --name ${user.name}\\n$`));
    const json = JSON.parse((await run(['egress', 'log', '--json'])).stdout);
    assert.equal(json.error.code, 'NOT_FOUND');
    const since = await run(['egress', 'log', '--since', 'yesterday']);
    assert.equal(since.code, 2);
    assert.match(since.stderr, /^error: invalid --since "yesterday": not a duration\nhint: use a number and a unit .*--since 10m/);
  });

  it('start; a denied request is listed with the fix naming the policy file, an allowed one only with --all', async () => {
    const started = await run(['start', '--port', String(await freePort())]);
    assert.equal(started.code, 0, started.stderr);
    assert.equal(inside(`curl -s -m 10 http://${web}:8080/allowed`).stdout, 'web /allowed\n');
    assert.match(inside(`curl -s -m 10 http://${web}:8443/denied`).stdout, /is denied by policy/);
    assert.notEqual(inside(`curl -s -m 10 -p http://${web}:9443/tunnel`).code, 0, 'CONNECT to a port no layer allows');

    const denied = await waitFor((entries) => entries.find((entry) => entry.port === 9443));
    assert.deepEqual([denied.method, denied.host, denied.allowed, denied.status], ['CONNECT', web, false, 403]);
    assert.equal(denied.fix, `add {host: ${web}, ports: [9443]} to network.egress in ${projectPolicy} — the project layer may only tighten; ask for it in the org policy ${ORG_POLICY}`);
    const entries = await logJson();
    const plain = entries.find((entry) => entry.port === 8443);
    assert.deepEqual([plain?.method, plain?.allowed, plain?.fix], ['GET', false, `add {host: ${web}, ports: [8443]} to network.egress in ${projectPolicy}`], 'the org policy allows 8443: only the project file changes');
    assert.ok(entries.every((entry) => !entry.allowed), 'no allowed request without --all');

    const human = await run(['egress', 'log']);
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, new RegExp(`denied {3}GET {5}${web.replace(/\./g, '\\.')}:8443\\n {4}fix: add \\{host: [\\d.]+, ports: \\[8443\\]\\} to network\\.egress in ${projectPolicy.replace(/\./g, '\\.')}\\n`));
    assert.match(human.stdout, /denied {3}CONNECT [\d.]+:9443\n {4}fix: .* ask for it in the org policy \/etc\/aibox\/policy\.yaml\n/);
    assert.ok(human.stdout.endsWith(`After changing a policy file: aibox policy apply --name ${user.name}\n`), human.stdout);
    assert.doesNotMatch(human.stdout, /:8080/);

    const all = await logJson(['--all']);
    const allowed = all.find((entry) => entry.port === 8080);
    assert.deepEqual([allowed?.allowed, allowed?.method, allowed?.status, allowed?.fix], [true, 'GET', 200, undefined]);
    assert.match((await run(['egress', 'log', '--all'])).stdout, new RegExp(`allowed {2}GET {5}${web.replace(/\./g, '\\.')}:8080`));
  });

  it('repeats are counted; --since leaves out older requests', async () => {
    inside(`curl -s -m 10 http://${web}:8443/denied-again`);
    await waitFor((entries) => entries.find((entry) => entry.port === 8443 && entry.count === 2));
    await sleep(2500);
    const recent = await run(['egress', 'log', '--since', '2s']);
    assert.equal(recent.code, 0, recent.stderr);
    assert.equal(recent.stdout, `No denied requests in ${user.name}-egress's log of the last 2s.\n`);
    assert.ok((await logJson(['--since', '1h'])).some((entry) => entry.port === 8443));
  });

  it('--follow prints a denial made after it started, one JSON object per line, until interrupted', async () => {
    const startedAt = new Date().toISOString();
    const follow = spawn(process.execPath, [AIBOX, 'egress', 'log', '--follow', '--json'], { cwd: project, env: user.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    follow.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    follow.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => follow.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : null))));
    const podmanLogs = () => host('pgrep', ['-f', `podman logs --follow .* ${user.name}-egress$`]).stdout;
    try {
      for (let i = 0; i < 20 && !stdout.includes('\n'); i++) {
        inside(`curl -s -m 10 http://${web}:8443/followed-${i}`);
        await sleep(500);
      }
      const lines = stdout.trim().split('\n').map((line) => JSON.parse(line) as Entry);
      assert.ok(lines.length > 0, `no line from --follow; stderr: ${stderr}`);
      for (const entry of lines) {
        assert.deepEqual([entry.host, entry.port, entry.allowed, entry.count], [web, 8443, false, 1]);
        assert.equal(entry.fix, `add {host: ${web}, ports: [8443]} to network.egress in ${projectPolicy}`);
        assert.ok(entry.time >= startedAt.slice(0, 19), `only requests from after it started: ${entry.time} < ${startedAt}`);
      }
      assert.notEqual(podmanLogs(), '', 'podman logs --follow runs while aibox follows');
    } finally {
      follow.kill('SIGINT');
    }
    await exited;
    await sleep(500);
    assert.equal(podmanLogs(), '', 'podman logs --follow ended with aibox');
  });

  it('status shows the proxy: address, rules and their policy file; --json has an egress object', async () => {
    const human = await run(['status']);
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, new RegExp(`\\n  egress    ${user.name}-egress running at 10\\.[\\d.]+:3128, 1 rule from ${projectPolicy.replace(/\./g, '\\.')}\\n`));
    const { status } = JSON.parse((await run(['status', '--json'])).stdout);
    assert.equal(status.egress.proxy, `${user.name}-egress`);
    assert.equal(status.egress.state, 'running');
    assert.match(status.egress.address, /^10\.[\d.]+$/);
    assert.deepEqual([status.egress.port, status.egress.rules, status.egress.origin], [3128, 1, projectPolicy]);
  });

  it('a stopped proxy still has its log; after rm there is no proxy', async () => {
    assert.equal((await run(['stop'])).code, 0);
    const { status } = JSON.parse((await run(['status', '--json'])).stdout);
    assert.equal(status.egress.state, 'stopped');
    assert.equal(status.egress.address, undefined);
    assert.ok((await logJson()).some((entry) => entry.port === 9443), 'the log outlives a stop');
    assert.equal((await run(['rm'])).code, 0);
    const gone = await run(['egress', 'log']);
    assert.equal(gone.code, 7);
    assert.match(gone.stderr, /no egress proxy for sandbox/);
  });
});
