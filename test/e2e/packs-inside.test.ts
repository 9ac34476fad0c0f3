import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { aibox, cleanup, freePort, sshTo, testUser, type TestUser } from '../helpers/cli.js';

const ORG_POLICY = '/etc/aibox/policy.yaml';

/** A pack from a prepared folder: bin/NAME prints its name and version. */
async function writePack(dir: string, name: string, version: string): Promise<void> {
  await mkdir(join(dir, 'files', 'bin'), { recursive: true });
  await writeFile(join(dir, 'manifest.yaml'), stringify({ name, version, description: `e2e ${name}`, maintainer: 'platform@example.com', install: { method: 'docker-layer' }, env: { path: ['bin'] } }));
  await writeFile(join(dir, 'files', 'bin', name), `#!/bin/sh\necho "${name} ${version}"\n`, { mode: 0o755 });
}

describe('aibox install from a terminal inside the sandbox', { timeout: 5 * 60_000 }, () => {
  let user: TestUser;
  let savedOrgPolicy: string | undefined;
  before(async () => {
    user = await testUser('e2e-inside');
    user.env.COSIGN_PASSWORD = 'e2e';
    savedOrgPolicy = existsSync(ORG_POLICY) ? await readFile(ORG_POLICY, 'utf8') : undefined;
    assert.equal((await aibox(user, ['pack', 'keygen'])).code, 0);
    for (const name of ['inside', 'forbidden']) {
      await writePack(join(user.home, name), name, '1.0.0');
      assert.equal((await aibox(user, ['pack', 'build', name])).code, 0);
      const published = await aibox(user, ['pack', 'publish', name, '--key', 'cosign.key']);
      assert.equal(published.code, 0, published.stderr);
    }
    await mkdir('/etc/aibox', { recursive: true });
    const key = await readFile(join(user.home, 'cosign.pub'), 'utf8');
    await writeFile(ORG_POLICY, stringify({ version: 1, packs: { trusted_keys: [{ name: 'e2e', key }], allowed: ['inside@*'] } }));
    const started = await aibox(user, ['start', '--port', String(await freePort())]);
    assert.equal(started.code, 0, started.stderr);
  });
  after(async () => {
    await cleanup(user);
    if (savedOrgPolicy === undefined) await rm(ORG_POLICY, { force: true });
    else await writeFile(ORG_POLICY, savedOrgPolicy);
  });

  it('installs through the host, with the same checks; the next shell has the tool; the lock is written in the project', async () => {
    const result = sshTo(user, 'mkdir -p /workspace/app/.git && cd /workspace/app && aibox install inside@1 && cat .aibox/packs.lock');
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /Installed inside@1.0.0 \(signed by e2e/);
    assert.match(result.stdout, /"inside": \{\s+"version": "1.0.0",\s+"digest": "sha256:[a-f0-9]{64}"/);
    assert.equal(sshTo(user, 'inside').stdout, 'inside 1.0.0\n');
    const status = JSON.parse((await aibox(user, ['status', '--json'])).stdout).status;
    assert.deepEqual(status.packs.map((pack: { name: string }) => pack.name), ['inside']);
  });

  it('a pack the policy does not allow is refused inside exactly as on the host', async () => {
    const inside = sshTo(user, 'aibox install forbidden');
    assert.equal(inside.code, 8);
    assert.match(inside.stderr, /^error: pack forbidden@1.0.0 is not allowed: no packs.allowed pattern in \/etc\/aibox\/policy.yaml matches it/m);
    assert.equal(sshTo(user, 'command -v forbidden').code, 1);
  });

  it('the channel takes nothing but the requests it knows, and no extra field', () => {
    // A raw client on the forwarded port (aibox's own Node: bash's /dev/tcp gives a socket cat may read as EAGAIN under gVisor).
    const client = `const s = require('net').connect(7329, '127.0.0.1', () => s.end(process.argv[1] + '\\n')); s.pipe(process.stdout)`;
    const probe = (request: string) => sshTo(user, `/opt/aibox/node/bin/node -e "${client}" '${request}'`);
    for (const request of ['{"v":1,"op":"exec","command":"id"}', '{"v":1,"op":"install","packs":["inside"],"lock":{"version":1,"packs":{}},"hasLockFile":false,"registry":"/tmp"}', '{"v":1,"op":"mcp-enable","packs":["x"],"server":{"transport":"stdio","command":"id"}}', 'not json']) {
      const reply = probe(request);
      assert.equal(reply.code, 0, reply.stderr);
      assert.match(reply.stdout, /"ok":false,"error":\{"code":"USAGE","message":"the request is not one aibox understands"/, request);
    }
  });

  it('uninstall is the host side only; after a restart the channel is back', async () => {
    const inside = sshTo(user, 'aibox uninstall inside');
    assert.equal(inside.code, 2);
    assert.match(inside.stderr, /^error: uninstall runs on the host, not inside the sandbox/);
    assert.equal((await aibox(user, ['stop'])).code, 0);
    assert.equal((await aibox(user, ['start'])).code, 0);
    const again = sshTo(user, 'aibox install inside --json 2>/dev/null');
    assert.equal(JSON.parse(again.stdout).packs[0].outcome, 'already-installed', again.stdout);
  });
});
