/**
 * The initial packs that can be built here, end to end: node-20 and ai-tools built from
 * their recipes (packs/) against the npm registry, signed with a test key, published to an
 * OCI layout folder, installed into a gVisor sandbox, and their smoke.sh run there over ssh.
 * ai-tools' LLM proxy variables: absent without the settings, set after them.
 * Builds are shared with the other tests of the run (test/helpers/packs.ts); podman keeps the
 * recipes' layers between runs, so only a first run downloads (~330 MB).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { ORG_POLICY_PATH } from '../../src/policy/load.js';
import { aibox, aiboxOk, cleanup, freePort, testUser, type TestUser } from '../helpers/cli.js';
import { publishInitialPacks } from '../helpers/packs.js';

const PACKS = resolve('packs');
const PROXY = { anthropic: 'https://llm-proxy.example.com/anthropic', openai: 'https://llm-proxy.example.com/openai/v1' };

describe('initial packs node-20 and ai-tools: built from their recipes, signed, installed, smoke-tested under gVisor', { timeout: 30 * 60_000 }, () => {
  let user: TestUser;
  let savedPolicy: string | undefined;
  const timings: Record<string, number> = {};

  async function timed<T>(label: string, run: () => Promise<T>): Promise<T> {
    const started = Date.now();
    try {
      return await run();
    } finally {
      timings[label] = (Date.now() - started) / 1000;
    }
  }

  const ok = (args: string[]) => aiboxOk(user, args);

  /** Runs a pack's smoke.sh as dev in the sandbox, as its README says: ssh aibox sh -s < smoke.sh. */
  async function smoke(folder: string): Promise<string> {
    const script = await readFile(join(PACKS, folder, 'smoke.sh'), 'utf8');
    const result = spawnSync('ssh', ['-F', join(user.home, '.ssh', 'config'), user.name, 'sh -s'], { input: script, encoding: 'utf8', timeout: 120_000 });
    assert.equal(result.status, 0, `${folder}/smoke.sh: ${result.stdout}${result.stderr}`);
    return result.stdout;
  }

  before(async () => {
    savedPolicy = existsSync(ORG_POLICY_PATH) ? await readFile(ORG_POLICY_PATH, 'utf8') : undefined;
    user = await testUser('e2e-initial');
    user.env.COSIGN_PASSWORD = 'e2e initial packs';
    await ok(['pack', 'keygen', '--output-prefix', join(user.home, 'platform')]);
    await ok(['config', 'set', 'packs.registry', join(user.home, 'layout')]);
  });

  after(async () => {
    await cleanup(user);
    await rm(user.home, { recursive: true, force: true });
    if (savedPolicy === undefined) await rm(ORG_POLICY_PATH, { force: true });
    else await writeFile(ORG_POLICY_PATH, savedPolicy);
  });

  it('builds, publishes, installs and smoke-tests node@20 and ai-tools', async (t) => {
    const started = aibox(user, ['start', '--port', String(await freePort())]);
    await timed('build (once per recipe content; see helpers/packs.ts) and publish', () => publishInitialPacks(user, ['node-20', 'ai-tools'], join(user.home, 'platform.key')));
    const start = await started;
    assert.equal(start.code, 0, start.stderr);

    // Other test files rewrite the org policy too: ours goes in right before it is read.
    await mkdir('/etc/aibox', { recursive: true });
    await writeFile(ORG_POLICY_PATH, stringify({ version: 1, packs: { trusted_keys: [{ name: 'e2e', key: await readFile(join(user.home, 'platform.pub'), 'utf8') }], allowed: ['*'] } }));
    const installed = await timed('install ai-tools (and node@20)', () => ok(['install', 'ai-tools', '--json']));
    const report: { packs: { name: string; outcome: string }[] } = JSON.parse(installed.stdout);
    assert.deepEqual(report.packs.map(({ name, outcome }) => `${name} ${outcome}`).sort(), ['ai-tools installed', 'node installed'], 'ai-tools pulls node@20 in');

    const node = await timed('smoke node-20', () => smoke('node-20'));
    assert.match(node, /^ok: node v20\.20\.2$/m);
    assert.match(node, /^ok: yarn 1\.22\.22$/m);
    const tools = await timed('smoke ai-tools', () => smoke('ai-tools'));
    assert.match(tools, /^ok: claude 2\.1\.332 \(Claude Code\)$/m);
    assert.match(tools, /^ok: codex codex-cli 0\.171\.0$/m);
    assert.match(tools, /^ANTHROPIC_BASE_URL=\(not set\)$/m, 'no LLM proxy configured: no variable');
    assert.match(tools, /^OPENAI_BASE_URL=\(not set\)$/m);

    await ok(['config', 'set', 'llm.anthropicBaseUrl', PROXY.anthropic]);
    await ok(['config', 'set', 'llm.openaiBaseUrl', PROXY.openai]);
    await ok(['uninstall', 'ai-tools']);
    await timed('install ai-tools again (cached layer)', () => ok(['install', 'ai-tools']));
    const proxied = await smoke('ai-tools');
    assert.match(proxied, new RegExp(`^ANTHROPIC_BASE_URL=${PROXY.anthropic}$`, 'm'), 'the org proxy reaches every shell');
    assert.match(proxied, new RegExp(`^OPENAI_BASE_URL=${PROXY.openai}$`, 'm'));

    for (const [label, seconds] of Object.entries(timings)) t.diagnostic(`${label}: ${seconds.toFixed(1)} s`);
  });
});
