import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { runProcess, type Runner } from '../../src/core/runner.js';
import { mergeLayers } from '../../src/policy/effective.js';
import { decide, parseQuestion } from '../../src/policy/query.js';
import { canonicalRepo, loadGitRewrites, rewritePushUrl, type UrlRewrite } from '../../src/policy/repo-url.js';
import { policyLayerSchema } from '../../src/policy/schema.js';

const policy = mergeLayers([
  {
    name: 'org',
    origin: '/etc/aibox/policy.yaml',
    data: policyLayerSchema.parse({ tools: { git_push: { default: 'safe', rules: [{ repo: 'git.example.com/acme/secret', class: 'blocked' }] } } }),
  },
]);
const classOf = (remote: string, rewrites: UrlRewrite[] = []) => decide(policy, parseQuestion('git-push', remote, rewrites));

describe('git push rules cannot be dodged by rewriting the URL', () => {
  it('every spelling of a blocked repository is blocked', () => {
    for (const remote of [
      'https://git.example.com/acme/secret.git/',
      'git@git.example.com:acme/secret.git/',
      'https://git.example.com./acme/secret',
      'git@git.example.com:/acme/secret',
      'https://git.example.com/acme//secret',
      'https://git.example.com/acme/./secret',
      'ssh://git@git.example.com:22/acme/secret',
      'HTTPS://Git.Example.COM/acme/secret',
      'git.example.com/acme/x/../secret',
      'git+ssh://git.example.com/ACME/Secret',
      'https://user:token@git.example.com:8443/acme/secret',
    ]) {
      const decision = classOf(remote);
      assert.deepEqual([decision.riskClass, decision.allowed], ['blocked', false], remote);
      assert.match(decision.explanation, /git push to git.example.com\/acme\/secret is blocked by tools.git_push.rules\[0\]/, remote);
    }
    assert.equal(classOf('https://git.example.com/acme/public').riskClass, 'safe');
  });

  it('a URL aibox cannot read is blocked, saying why', () => {
    for (const [remote, why] of [
      ['https://git.example.com/../acme/secret', /climbs above the host/],
      ['https://git.example.com/', /names no repository path/],
      ['/srv/git/secret.git', /local path/],
      ['../secret', /local path/],
      ['file:///srv/git/secret.git', /local repository/],
      ['ftp://git.example.com/acme/secret', /does not push over "ftp:\/\/"/],
      ['https://git.example.com/acme/%73ecret', /"%"/],
      ['https://git.example.com/acme/secret?x=1', /query or fragment/],
      ['https::https://git.example.com/acme/secret', /remote helper/],
      ['not a url', /spaces/],
      ['https://@/acme/secret', /not a host name/],
    ] as const) {
      const decision = classOf(remote);
      assert.deepEqual([decision.riskClass, decision.allowed], ['blocked', false], remote);
      assert.match(decision.explanation, /is blocked: aibox cannot tell which repository it is/, remote);
      assert.match(decision.explanation, why, remote);
    }
  });

  it('applies insteadOf and pushInsteadOf as git does', () => {
    const rewrites: UrlRewrite[] = [
      { base: 'https://git.example.com/', prefix: 'ex:', push: false },
      { base: 'https://git.example.com/acme/', prefix: 'ex:a/', push: false },
      { base: 'ssh://git@git.example.com/acme/', prefix: 'https://mirror.example.com/acme/', push: true },
    ];
    assert.equal(rewritePushUrl('ex:a/secret', rewrites), 'https://git.example.com/acme/secret', 'the longest prefix wins');
    assert.equal(rewritePushUrl('ex:other/x', rewrites), 'https://git.example.com/other/x');
    assert.equal(rewritePushUrl('https://mirror.example.com/acme/secret', rewrites), 'ssh://git@git.example.com/acme/secret', 'pushInsteadOf for pushes');
    assert.equal(classOf('ex:a/secret', rewrites).riskClass, 'blocked');
    assert.equal(classOf('https://mirror.example.com/acme/secret', rewrites).riskClass, 'blocked');
    const both: UrlRewrite[] = [
      { base: 'https://git.example.com/acme/', prefix: 'x:', push: false },
      { base: 'https://elsewhere.example.com/', prefix: 'x:', push: true },
    ];
    assert.equal(rewritePushUrl('x:secret', both), 'https://elsewhere.example.com/secret', 'pushInsteadOf before insteadOf');
  });

  it('canonical form: lowercase host/path', () => {
    assert.deepEqual(canonicalRepo('git@Git.Example.com:Acme/App.git'), { repo: 'git.example.com/acme/app' });
    assert.deepEqual(canonicalRepo('git.example.com/acme/.git'), { repo: 'git.example.com/acme/.git' }, 'a repository named ".git" keeps its name');
  });
});

describe('loadGitRewrites', () => {
  it('reads url.<base>.insteadOf and pushInsteadOf from git config', async () => {
    const home = await mkdtemp(join(tmpdir(), 'aibox-git-'));
    const env = { HOME: home, PATH: process.env.PATH ?? '', GIT_CONFIG_NOSYSTEM: '1' };
    const git = (...args: string[]) => runProcess('git', ['config', '--global', ...args], { env });
    await git('url.https://git.example.com/acme/.insteadOf', 'ex:');
    await git('url.ssh://git@git.example.com/.pushInsteadOf', 'https://git.example.com/');
    const run: Runner = (command, args, options) => runProcess(command, args, { ...options, env });
    assert.deepEqual(await loadGitRewrites(run, home), [
      { base: 'https://git.example.com/acme/', prefix: 'ex:', push: false },
      { base: 'ssh://git@git.example.com/', prefix: 'https://git.example.com/', push: true },
    ]);
  });

  it('no git, or no rewrites: none', async () => {
    const missing: Runner = (command, args) => runProcess(`${command}-that-does-not-exist`, args);
    assert.deepEqual(await loadGitRewrites(missing, tmpdir()), []);
    const home = await mkdtemp(join(tmpdir(), 'aibox-git-'));
    const run: Runner = (command, args, options) => runProcess(command, args, { ...options, env: { HOME: home, PATH: process.env.PATH ?? '', GIT_CONFIG_NOSYSTEM: '1' } });
    assert.deepEqual(await loadGitRewrites(run, home), []);
  });
});
