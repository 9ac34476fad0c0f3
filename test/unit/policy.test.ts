import assert from 'node:assert/strict';
import { chown, mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { PackageSources } from '../../src/config/package-sources.js';
import { AiboxError } from '../../src/core/errors.js';
import { defaultOrgPolicy } from '../../src/policy/defaults.js';
import { mergeLayers } from '../../src/policy/effective.js';
import { loadPolicy, type PolicySources } from '../../src/policy/load.js';
import { decide, parseQuestion } from '../../src/policy/query.js';
import { policyLayerSchema, type PolicyLayer, type PolicyLayerData } from '../../src/policy/schema.js';

const org: PolicyLayer = {
  name: 'org',
  origin: '/etc/aibox/policy.yaml',
  data: {
    version: 1,
    network: { egress: [{ host: '*.example.com', ports: [443] }, { host: 'git.example.com', ports: [22, 443] }] },
    filesystem: { expose: ['/workspace', '/home/dev'] },
    tools: {
      git_push: {
        default: 'safe',
        rules: [
          { repo: 'git.example.com/payments/*', class: 'review-required' },
          { repo: 'git.example.com/secrets', class: 'blocked' },
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
    const team = layer('team', { version: 1, network: { egress: [{ host: 'registry.example.com', ports: [443] }] } });
    const merged = mergeLayers([org, team]);
    assert.deepEqual(merged.egress, { value: [{ host: 'registry.example.com', ports: [443] }], origin: '/team/policy.yaml' });
    loosenError(() => mergeLayers([org, layer('team', { version: 1, network: { egress: [{ host: 'evil.com', ports: [443] }] } })]), /\/team\/policy.yaml: .*network.egress: evil.com:443 is not allowed by \/etc\/aibox\/policy.yaml/);
    loosenError(() => mergeLayers([org, layer('team', { version: 1, network: { egress: [{ host: 'registry.example.com', ports: [80] }] } })]), /registry.example.com:80/);
    loosenError(() => mergeLayers([org, layer('team', { version: 1, network: { egress: [{ host: '*.com', ports: [443] }] } })]), /\*\.com/);
    loosenError(() => mergeLayers([org, layer('team', { version: 1, network: { egress: [{ host: 'a.b.example.com', ports: [443] }] } })]), /a\.b\.example\.com:443/);
  });

  it('network egress direct: only an IPv4 address, and only where the upper layer says direct too', () => {
    const named = policyLayerSchema.safeParse({ version: 1, network: { egress: [{ host: 'git.example.com', ports: [9418], direct: true }] } });
    assert.equal(named.success, false);
    assert.match(JSON.stringify(named.error?.issues), /direct needs an IPv4 address as host, not \\"git\.example\.com\\"/);
    const direct = { version: 1 as const, network: { egress: [{ host: '10.0.0.5', ports: [9418], direct: true }] } };
    assert.equal(policyLayerSchema.safeParse(direct).success, true);
    const viaProxy: PolicyLayer = { ...org, data: { version: 1, network: { egress: [{ host: '10.0.0.5', ports: [9418] }] } } };
    loosenError(() => mergeLayers([viaProxy, layer('project', direct)]), /network\.egress: 10\.0\.0\.5:9418 \(direct\) is not allowed/);
    const both: PolicyLayer = { ...org, data: direct };
    assert.deepEqual(mergeLayers([both, layer('project', { version: 1, network: { egress: [{ host: '10.0.0.5', ports: [9418] }] } })]).egress.value, [{ host: '10.0.0.5', ports: [9418] }], 'a lower layer may drop direct');
  });

  it('filesystem expose: only paths under an upper path', () => {
    const project = layer('project', { version: 1, filesystem: { expose: ['/workspace/app'] } });
    assert.deepEqual(mergeLayers([org, project]).expose.value, ['/workspace/app']);
    loosenError(() => mergeLayers([org, layer('project', { version: 1, filesystem: { expose: ['/etc'] } })]), /filesystem.expose: \/etc/);
    loosenError(() => mergeLayers([org, layer('project', { version: 1, filesystem: { expose: ['/workspace-other'] } })]), /workspace-other/);
  });

  it('git push: a lower layer may raise a class, not lower it', () => {
    const project = layer('project', { version: 1, tools: { git_push: { default: 'review-required', rules: [{ repo: 'git.example.com/web', class: 'blocked' }] } } });
    const merged = mergeLayers([org, project]);
    assert.equal(decide(merged, { kind: 'git-push', repo: 'git.example.com/other' }).riskClass, 'review-required');
    assert.equal(decide(merged, { kind: 'git-push', repo: 'git.example.com/web' }).riskClass, 'blocked');
    loosenError(() => mergeLayers([org, layer('team', { version: 1, tools: { git_push: { rules: [{ repo: 'git.example.com/payments/api', class: 'safe' }] } } })]), /git_push for "git.example.com\/payments\/api": safe/);
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

  it('caches: a lower layer may only share fewer build caches', () => {
    const sharing: PolicyLayer = { ...org, data: { version: 1, caches: { shared: ['maven', 'npm'] } } };
    assert.deepEqual(mergeLayers([org]).sharedCaches, { value: [], origin: '/etc/aibox/policy.yaml' });
    assert.deepEqual(mergeLayers([sharing, layer('project', { version: 1, caches: { shared: ['npm'] } })]).sharedCaches, { value: ['npm'], origin: '/project/policy.yaml' });
    loosenError(() => mergeLayers([sharing, layer('team', { version: 1, caches: { shared: ['npm', 'pip'] } })]), /caches.shared: pip is not allowed by \/etc\/aibox\/policy.yaml/);
    loosenError(() => mergeLayers([org, layer('team', { version: 1, caches: { shared: ['gradle'] } })]), /caches.shared: gradle/);
  });

  it('runtimes: both unless a layer narrows them; runc cannot come back below a layer that dropped it', () => {
    assert.deepEqual(mergeLayers([org]).runtimes.value, ['gvisor', 'runc']);
    const gvisorOnly: PolicyLayer = { ...org, data: { version: 1, sandbox: { runtimes: ['gvisor'] } } };
    assert.deepEqual(mergeLayers([gvisorOnly]).runtimes, { value: ['gvisor'], origin: '/etc/aibox/policy.yaml' });
    assert.deepEqual(mergeLayers([org, layer('project', { version: 1, sandbox: { runtimes: ['gvisor'] } })]).runtimes.value, ['gvisor']);
    loosenError(() => mergeLayers([gvisorOnly, layer('team', { version: 1, sandbox: { runtimes: ['gvisor', 'runc'] } })]), /sandbox.runtimes: runc is not allowed by \/etc\/aibox\/policy.yaml/);
  });

  it('an absent section is inherited from the layer above', () => {
    const merged = mergeLayers([org, layer('project', { version: 1 })]);
    assert.equal(merged.egress.origin, '/etc/aibox/policy.yaml');
    assert.equal(merged.layers.length, 2);
  });
});

describe('policy decisions explain the rule and the file to change', () => {
  const merged = mergeLayers([org, layer('team', { version: 1, network: { egress: [{ host: 'registry.example.com', ports: [443] }] } })]);

  it('egress', () => {
    const allow = decide(merged, parseQuestion('egress', 'registry.example.com:443'));
    assert.deepEqual([allow.allowed, allow.rule, allow.origin], [true, 'network.egress[0]', '/team/policy.yaml']);
    const deny = decide(merged, parseQuestion('egress', 'git.example.com'));
    assert.equal(deny.allowed, false);
    assert.match(deny.explanation, /git.example.com:443 is denied: no network.egress entry in \/team\/policy.yaml allows it; to allow it add \{host: git.example.com, ports: \[443\]\} to network.egress in \/team\/policy.yaml$/);
    assert.equal(deny.fix, 'add {host: git.example.com, ports: [443]} to network.egress in /team/policy.yaml', 'the org policy allows it already');
    const above = decide(merged, parseQuestion('egress', 'git.example.org:443'));
    assert.equal(above.fix, 'add {host: git.example.org, ports: [443]} to network.egress in /team/policy.yaml — the team layer may only tighten; ask for it in the org policy /etc/aibox/policy.yaml');
  });

  it('egress: "*" stays within one label of the host name, and case does not matter', () => {
    const orgOnly = mergeLayers([org]);
    assert.equal(decide(orgOnly, parseQuestion('egress', 'Registry.Example.COM')).allowed, true);
    assert.equal(decide(orgOnly, parseQuestion('egress', 'evil.registry.example.com')).allowed, false);
  });

  it('expose', () => {
    assert.equal(decide(merged, parseQuestion('expose', '/workspace/src')).allowed, true);
    assert.match(decide(merged, parseQuestion('expose', '/var/run/docker.sock')).explanation, /outside filesystem.expose in \/etc\/aibox\/policy.yaml/);
  });

  it('expose: a path with "..", "." or "//" is denied, saying why', () => {
    for (const path of ['/workspace/../etc/shadow', '/workspace/./src', '/workspace//src', 'workspace/src']) {
      const decision = decide(merged, parseQuestion('expose', path));
      assert.equal(decision.allowed, false, path);
      assert.match(decision.explanation, /may not be exposed: a path to expose must/, path);
    }
  });

  it('git push, from any remote URL form', () => {
    const decision = decide(merged, parseQuestion('git-push', 'git@git.example.com:payments/api.git'));
    assert.deepEqual([decision.allowed, decision.riskClass, decision.rule], [true, 'review-required', 'tools.git_push.rules[0] (repo "git.example.com/payments/*")']);
    assert.match(decision.explanation, /git push to git.example.com\/payments\/api is review-required by tools.git_push.rules\[0\] .* in \/etc\/aibox\/policy.yaml/);
    const blocked = decide(merged, parseQuestion('git-push', 'https://git.example.com/secrets.git'));
    assert.deepEqual([blocked.allowed, blocked.riskClass], [false, 'blocked']);
    assert.equal(decide(merged, parseQuestion('git-push', 'https://git.example.com/web')).riskClass, 'safe');
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

describe('policy schema', () => {
  const problem = (data: unknown) => {
    const result = policyLayerSchema.safeParse(data);
    return result.success ? undefined : `${result.error.issues[0]?.path.join('.')}: ${result.error.issues[0]?.message}`;
  };

  it('refuses expose paths that are not plain absolute paths, naming the field', () => {
    assert.match(problem({ filesystem: { expose: ['/workspace/../'] } }) ?? '', /^filesystem.expose.0: must not contain "." or ".." segments/);
    assert.match(problem({ filesystem: { expose: ['/workspace/.'] } }) ?? '', /"." or ".."/);
    assert.match(problem({ filesystem: { expose: ['/workspace//app'] } }) ?? '', /^filesystem.expose.0: must not contain "\/\/"/);
    assert.match(problem({ filesystem: { expose: ['workspace'] } }) ?? '', /must be an absolute path/);
    assert.equal(problem({ filesystem: { expose: ['/', '/workspace/', '/home/dev'] } }), undefined);
  });

  it('a project layer cannot widen expose with ".."', () => {
    loosenError(() => mergeLayers([org, layer('project', { version: 1, filesystem: { expose: ['/workspace/..'] } })]), /filesystem.expose: \/workspace\/\.\./);
  });

  it('canonicalizes repository patterns and lowercases hosts at load', () => {
    const data = policyLayerSchema.parse({
      network: { egress: [{ host: 'Registry.Example.COM' }] },
      tools: { git_push: { rules: [{ repo: 'HTTPS://Git.Example.COM/Acme/*.git/', class: 'blocked' }, { repo: 'git@git.example.com:acme//x/../secret', class: 'blocked' }] } },
    });
    assert.equal(data.network?.egress?.[0]?.host, 'registry.example.com');
    assert.deepEqual(data.tools?.git_push?.rules.map((rule) => rule.repo), ['git.example.com/acme/*', 'git.example.com/acme/secret']);
    assert.match(problem({ tools: { git_push: { rules: [{ repo: 'git.example.com/../x', class: 'safe' }] } } }) ?? '', /^tools.git_push.rules.0.repo: must be a repository pattern .*climbs above/);
    assert.match(problem({ packs: { allowed: ['java@{21'] } }) ?? '', /^packs.allowed.0: is not a valid pattern: a "\{" is not closed/);
    assert.match(problem({ caches: { shared: ['cargo'] } }) ?? '', /^caches.shared.0: /);
  });
});

describe('the built-in org policy', () => {
  it('allows egress only to the package sources this machine uses', () => {
    const sources: PackageSources = { debianMirror: 'http://mirror.example.com/debian', npmRegistry: 'https://registry.example.com:8443/npm/' };
    assert.deepEqual(defaultOrgPolicy(sources).network?.egress, [
      { host: 'mirror.example.com', ports: [80] },
      { host: 'registry.example.com', ports: [8443] },
    ]);
    assert.deepEqual(defaultOrgPolicy({ debianMirror: 'https://Mirror.Example.com/debian' }).network?.egress, [{ host: 'mirror.example.com', ports: [443] }]);
    assert.deepEqual(defaultOrgPolicy({}).network?.egress, []);
    assert.equal(policyLayerSchema.safeParse(defaultOrgPolicy(sources)).success, true);
  });
});

describe('policy files', () => {
  async function tree(files: Record<string, string>): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'aibox-policy-'));
    for (const [name, text] of Object.entries(files)) {
      await mkdir(join(dir, name, '..'), { recursive: true });
      await writeFile(join(dir, name), text);
    }
    return dir;
  }

  /** Sources without an org file; `machine` counts its calls (it runs npm in real use). */
  function sources(dir: string, overrides: Partial<PolicySources> = {}): PolicySources & { machineCalls: number } {
    const result = {
      org: join(dir, 'no-org.yaml'),
      team: '',
      projectDir: dir,
      home: dir,
      machineCalls: 0,
      machine: async () => {
        result.machineCalls++;
        return { npmRegistry: 'https://registry.example.com/' };
      },
      ...overrides,
    };
    return result;
  }

  it('uses the built-in org policy from the machine sources when there is no org file, and finds the project layer upward', async () => {
    const dir = await tree({ '.aibox/policy.yaml': 'filesystem:\n  expose: [/workspace]\n', 'src/deep/.keep': '' });
    const from = sources(dir, { projectDir: join(dir, 'src', 'deep') });
    const policy = await loadPolicy(from);
    assert.deepEqual(policy.egress, { value: [{ host: 'registry.example.com', ports: [443] }], origin: 'built-in default' });
    assert.deepEqual(policy.expose, { value: ['/workspace'], origin: join(dir, '.aibox', 'policy.yaml') });
    assert.equal(from.machineCalls, 1);
  });

  it('asks the machine for its package sources only without an org file', async () => {
    const dir = await tree({ 'org.yaml': 'network:\n  egress: [{host: mirror.example.com, ports: [80]}]\n' });
    const from = sources(dir, { org: join(dir, 'org.yaml') });
    assert.equal((await loadPolicy(from)).egress.origin, join(dir, 'org.yaml'));
    assert.equal(from.machineCalls, 0);
  });

  it('stops looking for the project layer at the repository root, where one still applies', async () => {
    const expose = (path: string) => `filesystem:\n  expose: [${path}]\n`;
    const above = await tree({ '.aibox/policy.yaml': expose('/workspace'), 'repo/.git/HEAD': '', 'repo/src/.keep': '' });
    const ignored = await loadPolicy(sources(above, { projectDir: join(above, 'repo', 'src'), home: '/nonexistent' }));
    assert.deepEqual(ignored.layers.map((found) => found.name), ['org']);
    // a worktree's .git is a file
    const inRoot = await tree({ '.aibox/policy.yaml': expose('/workspace'), 'repo/.git': 'gitdir: elsewhere\n', 'repo/.aibox/policy.yaml': expose('/workspace/app'), 'repo/src/.keep': '' });
    const applied = await loadPolicy(sources(inRoot, { projectDir: join(inRoot, 'repo', 'src'), home: '/nonexistent' }));
    assert.deepEqual(applied.expose, { value: ['/workspace/app'], origin: join(inRoot, 'repo', '.aibox', 'policy.yaml') });
  });

  it('stops looking for the project layer at home', async () => {
    const dir = await tree({ '.aibox/policy.yaml': 'filesystem:\n  expose: [/workspace]\n', 'home/work/.keep': '' });
    const policy = await loadPolicy(sources(dir, { projectDir: join(dir, 'home', 'work'), home: join(dir, 'home') }));
    assert.deepEqual(policy.layers.map((found) => found.name), ['org']);
  });

  it('ignores, with a warning, a project layer owned by another user', async () => {
    const dir = await tree({ '.aibox/policy.yaml': 'filesystem:\n  expose: [/workspace]\n' });
    const path = join(dir, '.aibox', 'policy.yaml');
    await chown(path, 12345, 12345);
    const policy = await loadPolicy(sources(dir));
    assert.deepEqual(policy.layers.map((found) => found.name), ['org']);
    assert.equal(policy.warnings.length, 1);
    assert.match(policy.warnings[0] ?? '', new RegExp(`ignoring the project policy ${path}: it belongs to uid 12345`));
  });

  it('a YAML syntax error names the file and line', async () => {
    const dir = await tree({ 'org.yaml': 'network:\n  egress: [\n' });
    await assert.rejects(loadPolicy(sources(dir, { org: join(dir, 'org.yaml') })), (error: unknown) => {
      assert.ok(error instanceof AiboxError);
      assert.equal(error.code, 'INVALID_FILE');
      assert.match(error.message, /org.yaml(:\d+)? is not valid YAML/);
      return true;
    });
  });

  it('an unknown key or a wrong value names the field', async () => {
    const dir = await tree({ 'org.yaml': 'tools:\n  git_push:\n    default: sometimes\n', 'team.yaml': 'netwrok: {}\n' });
    await assert.rejects(loadPolicy(sources(dir, { org: join(dir, 'org.yaml') })), /org.yaml:\d+: tools.git_push.default: /);
    await assert.rejects(loadPolicy(sources(dir, { team: join(dir, 'team.yaml') })), /team.yaml(:\d+)?: .*netwrok/);
    await assert.rejects(loadPolicy(sources(dir, { team: join(dir, 'missing.yaml') })), /team policy .*missing.yaml .* does not exist/);
  });
});
