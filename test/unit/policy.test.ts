import assert from 'node:assert/strict';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { AiboxError } from '../../src/core/errors.js';
import { DEFAULT_ORG_POLICY } from '../../src/policy/defaults.js';
import { mergeLayers } from '../../src/policy/effective.js';
import { loadPolicy } from '../../src/policy/load.js';
import { normalizeRepo, patternCovers } from '../../src/policy/match.js';
import { decide, parseQuestion } from '../../src/policy/query.js';
import type { PolicyLayer, PolicyLayerData } from '../../src/policy/schema.js';

const org: PolicyLayer = {
  name: 'org',
  origin: '/etc/aibox/policy.yaml',
  data: {
    version: 1,
    network: { egress: [{ host: '*.npmjs.org', ports: [443] }, { host: 'git.acme.dev', ports: [22, 443] }] },
    filesystem: { expose: ['/workspace', '/home/dev'] },
    tools: {
      git_push: {
        default: 'safe',
        rules: [
          { repo: 'git.acme.dev/payments/*', class: 'review-required' },
          { repo: 'git.acme.dev/secrets', class: 'blocked' },
        ],
      },
    },
    packs: { trusted_keys: [{ name: 'acme', key: '-----BEGIN PUBLIC KEY-----\nAAA\n-----END PUBLIC KEY-----' }], allowed: ['java@*', 'node@*'] },
  },
};

function layer(name: 'team' | 'project', data: PolicyLayerData): PolicyLayer {
  return { name, origin: `/${name}/policy.yaml`, data };
}

function loosenError(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof AiboxError);
    assert.equal(error.code, 'INVALID_FILE');
    assert.match(error.message, pattern);
    assert.match(error.hint ?? '', /may only tighten/);
    return true;
  });
}

describe('policy merge: a lower layer may only tighten', () => {
  it('network egress: narrowing is taken, widening is refused naming the file and value', () => {
    const team = layer('team', { version: 1, network: { egress: [{ host: 'registry.npmjs.org', ports: [443] }] } });
    const merged = mergeLayers([org, team]);
    assert.deepEqual(merged.egress, { value: [{ host: 'registry.npmjs.org', ports: [443] }], origin: '/team/policy.yaml' });
    loosenError(() => mergeLayers([org, layer('team', { version: 1, network: { egress: [{ host: 'evil.com', ports: [443] }] } })]), /\/team\/policy.yaml: .*network.egress: evil.com:443 is not allowed by \/etc\/aibox\/policy.yaml/);
    loosenError(() => mergeLayers([org, layer('team', { version: 1, network: { egress: [{ host: 'registry.npmjs.org', ports: [80] }] } })]), /registry.npmjs.org:80/);
    loosenError(() => mergeLayers([org, layer('team', { version: 1, network: { egress: [{ host: '*.org', ports: [443] }] } })]), /\*\.org/);
  });

  it('filesystem expose: only paths under an upper path', () => {
    const project = layer('project', { version: 1, filesystem: { expose: ['/workspace/app'] } });
    assert.deepEqual(mergeLayers([org, project]).expose.value, ['/workspace/app']);
    loosenError(() => mergeLayers([org, layer('project', { version: 1, filesystem: { expose: ['/etc'] } })]), /filesystem.expose: \/etc/);
    loosenError(() => mergeLayers([org, layer('project', { version: 1, filesystem: { expose: ['/workspace-other'] } })]), /workspace-other/);
  });

  it('git push: a lower layer may raise a class, not lower it', () => {
    const project = layer('project', { version: 1, tools: { git_push: { default: 'review-required', rules: [{ repo: 'git.acme.dev/web', class: 'blocked' }] } } });
    const merged = mergeLayers([org, project]);
    assert.equal(decide(merged, { kind: 'git-push', repo: 'git.acme.dev/other' }).riskClass, 'review-required');
    assert.equal(decide(merged, { kind: 'git-push', repo: 'git.acme.dev/web' }).riskClass, 'blocked');
    loosenError(() => mergeLayers([org, layer('team', { version: 1, tools: { git_push: { rules: [{ repo: 'git.acme.dev/payments/api', class: 'safe' }] } } })]), /git_push for "git.acme.dev\/payments\/api": safe/);
    const strictOrg: PolicyLayer = { ...org, data: { version: 1, tools: { git_push: { default: 'review-required', rules: [] } } } };
    loosenError(() => mergeLayers([strictOrg, layer('team', { version: 1, tools: { git_push: { default: 'safe', rules: [] } } })]), /git_push.default: safe/);
  });

  it('packs: allowed patterns and trusted keys only narrow', () => {
    const team = layer('team', { version: 1, packs: { allowed: ['java@21'], trusted_keys: [{ name: 'same-key', key: '-----BEGIN PUBLIC KEY-----  AAA -----END PUBLIC KEY-----' }] } });
    const merged = mergeLayers([org, team]);
    assert.deepEqual(merged.allowedPacks.value, ['java@21']);
    assert.equal(merged.trustedKeys.origin, '/team/policy.yaml');
    loosenError(() => mergeLayers([org, layer('team', { version: 1, packs: { allowed: ['*'] } })]), /packs.allowed: \*/);
    loosenError(() => mergeLayers([org, layer('team', { version: 1, packs: { trusted_keys: [{ name: 'mine', key: '-----BEGIN PUBLIC KEY-----\nBBB\n-----END PUBLIC KEY-----' }] } })]), /key "mine"/);
  });

  it('an absent section is inherited from the layer above', () => {
    const merged = mergeLayers([org, layer('project', { version: 1 })]);
    assert.equal(merged.egress.origin, '/etc/aibox/policy.yaml');
    assert.equal(merged.layers.length, 2);
  });
});

describe('policy decisions explain the rule and the file to change', () => {
  const merged = mergeLayers([org, layer('team', { version: 1, network: { egress: [{ host: 'registry.npmjs.org', ports: [443] }] } })]);

  it('egress', () => {
    const allow = decide(merged, parseQuestion('egress', 'registry.npmjs.org:443'));
    assert.deepEqual([allow.allowed, allow.rule, allow.origin], [true, 'network.egress[0]', '/team/policy.yaml']);
    const deny = decide(merged, parseQuestion('egress', 'git.acme.dev'));
    assert.equal(deny.allowed, false);
    assert.match(deny.explanation, /git.acme.dev:443 is denied: no network.egress entry in \/team\/policy.yaml allows it; to allow it add \{host: git.acme.dev, ports: \[443\]\} there \(and it must be allowed in \/etc\/aibox\/policy.yaml\)/);
  });

  it('expose', () => {
    assert.equal(decide(merged, parseQuestion('expose', '/workspace/src')).allowed, true);
    assert.match(decide(merged, parseQuestion('expose', '/var/run/docker.sock')).explanation, /outside filesystem.expose in \/etc\/aibox\/policy.yaml/);
  });

  it('git push, from any remote URL form', () => {
    const decision = decide(merged, parseQuestion('git-push', 'git@git.acme.dev:payments/api.git'));
    assert.deepEqual([decision.allowed, decision.riskClass, decision.rule], [true, 'review-required', 'tools.git_push.rules[0] (repo "git.acme.dev/payments/*")']);
    assert.match(decision.explanation, /git push to git.acme.dev\/payments\/api is review-required by tools.git_push.rules\[0\] .* in \/etc\/aibox\/policy.yaml/);
    const blocked = decide(merged, parseQuestion('git-push', 'https://git.acme.dev/secrets.git'));
    assert.deepEqual([blocked.allowed, blocked.riskClass], [false, 'blocked']);
    assert.equal(decide(merged, parseQuestion('git-push', 'https://git.acme.dev/web')).riskClass, 'safe');
  });

  it('pack', () => {
    assert.equal(decide(merged, parseQuestion('pack', 'java@21')).allowed, true);
    assert.match(decide(merged, parseQuestion('pack', 'bazel@7')).explanation, /pack bazel@7 is not allowed: no packs.allowed pattern in \/etc\/aibox\/policy.yaml matches it/);
  });

  it('rejects malformed questions', () => {
    assert.throws(() => parseQuestion('egress', 'host:notaport'), /invalid egress target/);
    assert.throws(() => parseQuestion('teleport', 'x'), /unknown policy question/);
  });
});

describe('policy files', () => {
  async function project(files: Record<string, string>): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'aibox-policy-'));
    for (const [name, text] of Object.entries(files)) {
      await mkdir(join(dir, name, '..'), { recursive: true });
      await writeFile(join(dir, name), text);
    }
    return dir;
  }

  it('uses the built-in org policy when /etc/aibox/policy.yaml is absent, and finds the project layer upward', async () => {
    const dir = await project({ '.aibox/policy.yaml': 'filesystem:\n  expose: [/workspace]\n', 'src/deep/.keep': '' });
    const policy = await loadPolicy({ org: join(dir, 'no-org.yaml'), team: '', projectDir: join(dir, 'src', 'deep') });
    assert.equal(policy.egress.value.length, DEFAULT_ORG_POLICY.network?.egress?.length);
    assert.deepEqual(policy.expose, { value: ['/workspace'], origin: join(dir, '.aibox', 'policy.yaml') });
  });

  it('a YAML syntax error names the file and line', async () => {
    const dir = await project({ 'org.yaml': 'network:\n  egress: [\n' });
    await assert.rejects(loadPolicy({ org: join(dir, 'org.yaml'), team: '', projectDir: dir }), (error: unknown) => {
      assert.ok(error instanceof AiboxError);
      assert.equal(error.code, 'INVALID_FILE');
      assert.match(error.message, /org.yaml(:\d+)? is not valid YAML/);
      return true;
    });
  });

  it('an unknown key or a wrong value names the field', async () => {
    const dir = await project({ 'org.yaml': 'tools:\n  git_push:\n    default: sometimes\n', 'team.yaml': 'netwrok: {}\n' });
    await assert.rejects(loadPolicy({ org: join(dir, 'org.yaml'), team: '', projectDir: dir }), /org.yaml: tools.git_push.default: /);
    await assert.rejects(loadPolicy({ org: join(dir, 'none.yaml'), team: join(dir, 'team.yaml'), projectDir: dir }), /team.yaml: .*netwrok/);
    await assert.rejects(loadPolicy({ org: join(dir, 'none.yaml'), team: join(dir, 'missing.yaml'), projectDir: dir }), /team policy .*missing.yaml .* does not exist/);
  });
});

describe('pattern helpers', () => {
  it('pattern coverage', () => {
    assert.ok(patternCovers('*.npmjs.org', 'registry.npmjs.org'));
    assert.ok(patternCovers('*.org', '*.npmjs.org'));
    assert.ok(!patternCovers('*.npmjs.org', '*.org'));
    assert.ok(!patternCovers('registry.npmjs.org', '*.npmjs.org'));
  });

  it('normalizes git remotes', () => {
    for (const remote of ['git@github.com:acme/app.git', 'https://github.com/acme/app.git', 'ssh://git@github.com:22/acme/app', 'github.com/acme/app/']) {
      assert.equal(normalizeRepo(remote), 'github.com/acme/app', remote);
    }
  });
});
