import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { aibox, aiboxOk, cleanup, containerExists, freePort, host, sshTo, testUser, volumeExists, type TestUser } from '../helpers/cli.js';

/*
 * Egress enforcement with real podman, squid, nftables and gVisor. The test hosts are
 * a container on podman's bridge (HTTP on 8080, HTTP via CONNECT on 8443, UDP echo on
 * 5353) and a listener on the host's 0.0.0.0; nothing outside this machine is touched.
 * The org policy allows the test host; the project layer tightens it, and is what
 * `aibox policy apply` pushes.
 */
const ORG_POLICY = '/etc/aibox/policy.yaml';
const SERVER = `
const http = require('http');
const answer = (name) => (req, res) => res.end(name + ' ' + req.url + '\\n');
http.createServer(answer('web')).listen(8080);
http.createServer(answer('tunnel')).listen(8443);
const udp = require('dgram').createSocket('udp4');
udp.on('message', (msg, from) => udp.send(msg, from.port, from.address));
udp.bind(5353);
`;

function inspect(name: string, format: string): string {
  return host('podman', ['inspect', '--format', format, name]).stdout.trim();
}

describe('the sandbox reaches only what the policy allows', () => {
  let user: TestUser;
  let project: string;
  let savedOrgPolicy: string | undefined;
  let web = '';
  let gateway = '';
  let hostPort = 0;
  let listener: ChildProcess | undefined;
  const webName = `egress-web-${process.pid}`;

  const projectPolicy = (ports: number[]) => writeFile(join(project, '.aibox', 'policy.yaml'), `version: 1\nnetwork:\n  egress:\n    - host: ${web}\n      ports: [${ports.join(', ')}]\n`);
  const inside = (command: string) => sshTo(user, command);

  before(async () => {
    user = await testUser('e2e-egress');
    project = join(user.home, 'project');
    await mkdir(join(project, '.aibox'), { recursive: true });
    savedOrgPolicy = existsSync(ORG_POLICY) ? await readFile(ORG_POLICY, 'utf8') : undefined;
    // The test host runs aibox's own Node from the newest sandbox image (built by aibox first).
    const image = JSON.parse((await aiboxOk(user, ['image', 'build', '--json'])).stdout).image as string;
    const started = host('podman', ['run', '--detach', '--name', webName, '--runtime', 'runc', '--ulimit', 'nofile=4096:4096', '--ulimit', 'nproc=8192:8192', '--user', '1000:1000', '--entrypoint', '/opt/aibox/node/bin/node', image, '-e', SERVER]);
    assert.equal(started.code, 0, started.stderr);
    web = inspect(webName, '{{.NetworkSettings.IPAddress}}');
    gateway = inspect(webName, '{{.NetworkSettings.Gateway}}');
    hostPort = await freePort();
    listener = spawn(process.execPath, ['-e', `require('http').createServer((q, s) => s.end('host service\\n')).listen(${hostPort}, '0.0.0.0')`], { stdio: 'ignore' });
    await mkdir('/etc/aibox', { recursive: true });
    await writeFile(ORG_POLICY, `version: 1\nnetwork:\n  egress:\n    - host: ${web}\n      ports: [8080, 8443]\n`);
    await projectPolicy([8080]);
  });

  after(async () => {
    listener?.kill();
    host('podman', ['rm', '--force', '--time', '0', webName]);
    await cleanup(user);
    if (savedOrgPolicy === undefined) await rm(ORG_POLICY, { force: true });
    else await writeFile(ORG_POLICY, savedOrgPolicy);
  });

  it('without the rules the test hosts answer (the checks below are not vacuous)', async () => {
    // From a plain container on the same bridge: the web host and the host listener answer.
    const probe = host('podman', ['exec', webName, 'curl', '-s', '-m', '5', `http://${gateway}:${hostPort}/`]);
    assert.equal(probe.stdout, 'host service\n', probe.stderr);
  });

  it('start: the proxy is its own hardened container and the netns ruleset drops by default', async () => {
    const t0 = performance.now();
    const result = await aibox(user, ['start', '--port', String(await freePort())], { cwd: project });
    assert.equal(result.code, 0, result.stderr);
    console.log(`# aibox start (created, with proxy): ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const proxy = `${user.name}-egress`;
    assert.equal(inspect(proxy, '{{.State.Running}}'), 'true');
    assert.equal(inspect(proxy, '{{.HostConfig.ReadonlyRootfs}} {{.Config.User}}'), 'true proxy');
    assert.equal(inspect(proxy, '{{.EffectiveCaps}}'), '[]', 'no capability');
    const pid = inspect(user.name, '{{.State.Pid}}');
    const ruleset = host('nsenter', ['--target', pid, '--net', 'nft', 'list', 'table', 'inet', 'aibox']).stdout;
    assert.equal(ruleset.match(/policy drop;/g)?.length, 2, ruleset);
    assert.match(ruleset, /ip daddr 169\.254\.0\.0\/16 reject/);
    assert.match(ruleset, /udp reject/);
    const doctor = JSON.parse((await aibox(user, ['doctor', '--json'], { cwd: project })).stdout);
    const egress = doctor.checks.find((check: { name: string }) => check.name === 'egress');
    assert.equal(egress?.status, 'ok', JSON.stringify(egress));
  });

  it('an allowed host answers through the proxy over HTTP, in every shell and in aibox exec', async () => {
    const result = inside(`echo "$HTTP_PROXY"; curl -s -m 10 http://${web}:8080/a`);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^http:\/\/10\.[\d.]+:3128\nweb \/a\n$/);
    const exec = await aibox(user, ['exec', '--', 'sh', '-c', `printenv https_proxy; curl -s -m 10 http://${web}:8080/exec`], { cwd: project });
    assert.equal(exec.code, 0, exec.stderr);
    assert.match(exec.stdout, /^http:\/\/10\.[\d.]+:3128\nweb \/exec\n$/);
  });

  it('a denied host:port is refused with the policy file and the fix named', () => {
    const plain = inside(`curl -s -m 10 -w '%{http_code}' http://${web}:8443/b`);
    assert.match(plain.stdout, new RegExp(`egress to ${web.replace(/\./g, '\\.')}:8443 is denied by policy: no network\\.egress entry in ${join(project, '.aibox', 'policy.yaml')} allows it`));
    assert.match(plain.stdout, /add \{host: [\d.]+, ports: \[8443\]\} to network\.egress/);
    assert.match(plain.stdout, /403$/);
    const tunnel = inside(`curl -sv -m 10 -p http://${web}:8443/c 2>&1`);
    assert.match(tunnel.stdout, /< HTTP\/1\.1 403 Forbidden/);
    assert.match(tunnel.stdout, /X-Squid-Error: ERR_AIBOX_DENIED/);
  });

  it('bypassing the proxy fails: direct TCP, the host listener, UDP/DNS', () => {
    assert.notEqual(inside(`curl -s -m 5 --noproxy '*' http://${web}:8080/`).code, 0, 'direct TCP to an allowed host');
    assert.notEqual(inside(`curl -s -m 5 --noproxy '*' http://${gateway}:${hostPort}/`).code, 0, 'a host service on 0.0.0.0 via the gateway');
    const viaProxy = inside(`curl -s -m 5 http://${gateway}:${hostPort}/`);
    assert.match(viaProxy.stdout, /is denied by policy/, 'the proxy refuses the host too');
    const udp = inside(`/opt/aibox/node/bin/node -e "const s=require('dgram').createSocket('udp4');s.on('message',()=>{console.log('answer');process.exit(0)});s.on('error',(e)=>{console.log(e.code);process.exit(3)});s.send('x',5353,'${web}');setTimeout(()=>{console.log('timeout');process.exit(2)},3000)"`);
    assert.notEqual(udp.stdout.trim(), 'answer', 'UDP to the test resolver port');
    assert.notEqual(inside('getent hosts example.com').code, 0, 'no DNS from inside');
  });

  it("another sandbox's sshd is unreachable from inside, and the bridge cannot reach this sandbox's sshd", async () => {
    const other: TestUser = { ...user, name: `${user.name}-b`, env: { ...user.env, AIBOX_INSTANCE: `${user.name}-b` } };
    try {
      const started = await aibox(other, ['start', '--port', String(await freePort())], { cwd: project });
      assert.equal(started.code, 0, started.stderr);
      const address = inspect(other.name, '{{.NetworkSettings.IPAddress}}');
      const self = inspect(user.name, '{{.NetworkSettings.IPAddress}}');
      // The checks can fail: both sshds listen on the bridge, and answer the host (podman's gateway) there.
      const probe = (target: string) => `exec 3<>/dev/tcp/${target}/2222 && head -c 7 <&3`;
      for (const target of [address, self]) assert.equal(host('timeout', ['5', 'bash', '-c', probe(target)]).stdout, 'SSH-2.0', target);
      assert.notEqual(inside(`timeout 5 bash -c '${probe(address)}'`).stdout, 'SSH-2.0', "the other sandbox's sshd, directly");
      assert.match(inside(`curl -s -m 5 http://${address}:2222/`).stdout, /is denied by policy/, 'and through the proxy');
      // Inbound: only the published loopback port (from podman's gateway) reaches sshd, never the bridge.
      assert.notEqual(host('podman', ['exec', webName, 'bash', '-c', `timeout 5 bash -c '${probe(self)}'`]).stdout, 'SSH-2.0', 'the bridge to this sandbox');
      assert.equal(sshTo(other, 'echo ok').stdout, 'ok\n', 'the other sandbox works through its own port');
    } finally {
      await cleanup(other);
    }
  });

  it('doctor fails when the rules are gone; start puts them back', async () => {
    const pid = inspect(user.name, '{{.State.Pid}}');
    assert.equal(host('nsenter', ['--target', pid, '--net', 'nft', 'delete', 'table', 'inet', 'aibox']).code, 0);
    const doctor = JSON.parse((await aibox(user, ['doctor', '--json'], { cwd: project })).stdout);
    assert.equal(doctor.checks.find((check: { name: string }) => check.name === 'egress')?.status, 'fail');
    assert.equal((await aibox(user, ['start'], { cwd: project })).code, 0);
    assert.notEqual(inside(`curl -s -m 5 --noproxy '*' http://${web}:8080/`).code, 0);
  });

  it('dev cannot change the rules or the proxy settings', () => {
    assert.match(inside('grep CapEff /proc/self/status').stdout, /CapEff:\s+0+\n/);
    assert.notEqual(inside('echo "HTTP_PROXY=" > /opt/toolpacks/.aibox/proxy.sh').code, 0);
    const pid = inspect(user.name, '{{.State.Pid}}');
    assert.match(host('nsenter', ['--target', pid, '--net', 'nft', 'list', 'table', 'inet', 'aibox']).stdout, /policy drop;/);
  });

  it('policy apply opens and closes a host:port without restarting the sandbox', async () => {
    const startedAt = inspect(user.name, '{{.State.StartedAt}}');
    await projectPolicy([8080, 8443]);
    const t0 = performance.now();
    const applied = await aibox(user, ['policy', 'apply', '--json'], { cwd: project });
    assert.equal(applied.code, 0, applied.stderr);
    assert.equal(JSON.parse(applied.stdout).outcome, 'reloaded');
    console.log(`# aibox policy apply: ${((performance.now() - t0) / 1000).toFixed(2)} s`);
    let opened = '';
    for (let i = 0; i < 20 && !opened.startsWith('tunnel'); i++) opened = inside(`curl -s -m 5 -p http://${web}:8443/open`).stdout;
    assert.equal(opened, 'tunnel /open\n', 'CONNECT to the newly allowed port');
    await projectPolicy([8080]);
    assert.equal((await aibox(user, ['policy', 'apply'], { cwd: project })).code, 0);
    let closed = '';
    for (let i = 0; i < 20 && !/denied/.test(closed); i++) closed = inside(`curl -s -m 5 http://${web}:8443/closed`).stdout;
    assert.match(closed, /denied by policy/);
    assert.equal(inspect(user.name, '{{.State.StartedAt}}'), startedAt, 'the sandbox was not restarted');
  });

  it("the rules are in the sandbox's network namespace before its first process runs", async () => {
    assert.equal((await aibox(user, ['stop'], { cwd: project })).code, 0);
    // Killed between `podman init` (the new netns) and `podman start` (sshd): the rules are already there.
    const killed = await aibox(user, ['start'], { cwd: project, env: { ...user.env, AIBOX_CRASH_AT: 'start:before-process' } });
    assert.notEqual(killed.code, 0);
    assert.equal(inspect(user.name, '{{.State.Status}}'), 'initialized', 'no process has run yet');
    const ruleset = host('nsenter', ['--target', inspect(user.name, '{{.State.Pid}}'), '--net', 'nft', 'list', 'table', 'inet', 'aibox']);
    assert.equal(ruleset.stdout.match(/policy drop;/g)?.length, 2, ruleset.stderr);
    const resumed = await aibox(user, ['start'], { cwd: project });
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.equal(inside(`curl -s -m 10 http://${web}:8080/resumed`).stdout, 'web /resumed\n');
  });

  it('stop/start and re-creation keep enforcement (a new netns gets the rules again); rm removes the proxy', async () => {
    assert.equal((await aibox(user, ['stop'], { cwd: project })).code, 0);
    assert.equal(inspect(`${user.name}-egress`, '{{.State.Running}}'), 'false', 'stop stops the proxy');
    const started = await aibox(user, ['start'], { cwd: project });
    assert.equal(started.code, 0, started.stderr);
    assert.equal(inside(`curl -s -m 10 http://${web}:8080/again`).stdout, 'web /again\n');
    assert.notEqual(inside(`curl -s -m 5 --noproxy '*' http://${web}:8080/`).code, 0);
    assert.equal((await aibox(user, ['rm'], { cwd: project })).code, 0);
    assert.ok(!containerExists(`${user.name}-egress`));
    assert.ok(!volumeExists(`${user.name}-egress`));
    const recreated = await aibox(user, ['start'], { cwd: project });
    assert.equal(recreated.code, 0, recreated.stderr);
    assert.equal(inside(`curl -s -m 10 http://${web}:8080/recreated`).stdout, 'web /recreated\n');
    assert.notEqual(inside(`curl -s -m 5 --noproxy '*' http://${web}:8080/`).code, 0, 'a re-created sandbox is locked too');
  });
});
