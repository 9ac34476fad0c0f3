import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hostAcl, nftRuleset, proxyEnvFile, squidFiles } from '../../src/egress/index.js';
import { proxyRunArgs } from '../../src/egress/proxy.js';
import { globMatch } from '../../src/policy/match.js';
import { AiboxError } from '../../src/core/errors.js';

const rules = [
  { host: 'registry.example.com', ports: [443] },
  { host: '*.example.org', ports: [80, 443] },
  { host: '10.88.0.7', ports: [8080] },
];

describe('squid config from network.egress', () => {
  const files = squidFiles({ rules, origin: '/w/.aibox/policy.yaml', upper: ['/etc/aibox/policy.yaml'] });
  const conf = files['squid.conf'];

  it('allows each rule by host and its ports, then denies everything with the aibox page', () => {
    assert.match(conf, /^acl egress0_host dstdomain -n registry\.example\.com$/m);
    assert.match(conf, /^acl egress0_port port 443$/m);
    assert.match(conf, /^acl egress1_port port 80 443$/m);
    assert.match(conf, /^http_access allow egress2_host egress2_port$/m);
    const allows = conf.split('\n').filter((line) => line.startsWith('http_access'));
    assert.deepEqual(allows.slice(0, 2), ['http_access deny aibox_never', 'http_access deny to_localhost'], 'link-local and loopback before any allow');
    assert.match(conf, /^acl aibox_never dst 169\.254\.0\.0\/16 fe80::\/10$/m);
    assert.deepEqual(allows.at(-1), 'http_access deny all', 'deny all comes last');
    assert.equal(allows.length, rules.length + 3);
    assert.match(conf, /^deny_info ERR_AIBOX_DENIED all$/m);
    assert.match(conf, /^# network.egress from \/w\/.aibox\/policy.yaml$/m);
  });

  it('an empty allowlist denies everything', () => {
    const empty = squidFiles({ rules: [], origin: 'built-in default', upper: [] })['squid.conf'];
    assert.deepEqual(empty.split('\n').filter((line) => line.startsWith('http_access')), ['http_access deny aibox_never', 'http_access deny to_localhost', 'http_access deny all']);
  });

  it('the deny page names host, port, the file to change, the layers above and the fix', () => {
    const page = files.ERR_AIBOX_DENIED;
    assert.match(page, /egress to %H:%p is denied by policy: no network\.egress entry in \/w\/\.aibox\/policy\.yaml allows it/);
    assert.match(page, /add \{host: %H, ports: \[%p\]\} to network\.egress in \/w\/\.aibox\/policy\.yaml \(it must be allowed in \/etc\/aibox\/policy\.yaml too/);
    assert.match(page, /aibox policy apply/);
  });

  it('a % in a path cannot become a squid macro', () => {
    const page = squidFiles({ rules: [], origin: '/w/100%H/policy.yaml', upper: [] }).ERR_AIBOX_DENIED;
    assert.match(page, /100%%H/);
  });

  it('host globs keep the policy semantics: * is one label, ** any run', () => {
    assert.deepEqual(hostAcl('Registry.Example.com'), { type: 'dstdomain', value: 'registry.example.com' });
    for (const [pattern, host] of [
      ['*.example.org', 'a.example.org'],
      ['*.example.org', 'a.b.example.org'],
      ['*.example.org', 'example.org'],
      ['**.example.org', 'a.b.example.org'],
      ['mirror-*.example.com', 'mirror-1.example.com'],
      ['mirror-*.example.com', 'mirror-1.evil.example.com'],
      ['*.example.org', 'a.example.org.evil.test'],
    ] as const) {
      const acl = hostAcl(pattern);
      assert.equal(acl.type, 'dstdom_regex');
      assert.equal(new RegExp(acl.value, 'i').test(host), globMatch(pattern, host, 'host'), `${pattern} vs ${host}`);
    }
    assert.match(conf, /^acl egress1_host dstdom_regex -n -i \^\[\^\.\]\*\\\.example\\\.org\$$/m);
  });
});

describe('nftables ruleset of the sandbox netns', () => {
  const ruleset = nftRuleset({ proxy: { address: '10.88.0.5', port: 3128 }, gateway: '10.88.0.1', sshPort: 2222, direct: [{ address: '10.88.0.1', ports: [9418] }] });

  it('replaces table inet aibox in one transaction', () => {
    assert.match(ruleset, /^table inet aibox\ndelete table inet aibox\ntable inet aibox \{/);
  });

  it('drops by default both ways; allows the proxy, replies, loopback and SSH from the gateway', () => {
    assert.equal(ruleset.match(/policy drop;/g)?.length, 2);
    assert.match(ruleset, /ip daddr 10\.88\.0\.5 tcp dport 3128 accept/);
    assert.match(ruleset, /ip saddr 10\.88\.0\.1 tcp dport 2222 accept/);
    assert.match(ruleset, /ip daddr 169\.254\.0\.0\/16 reject/);
    assert.match(ruleset, /ip daddr 10\.88\.0\.1 reject/);
    assert.match(ruleset, /meta l4proto udp reject/);
    // link-local drop comes before replies are accepted: nothing from there is ever let in or out.
    assert.ok(ruleset.indexOf('169.254.0.0/16 reject') < ruleset.indexOf('ct state established,related accept', ruleset.indexOf('chain output')));
  });

  it('lets the sandbox reach an IPv4 address the policy names, on its ports only, before the gateway is dropped', () => {
    const rule = 'ip daddr 10.88.0.1 tcp dport { 9418 } accept';
    assert.ok(ruleset.includes(rule));
    assert.ok(ruleset.indexOf(rule) < ruleset.indexOf('ip daddr 10.88.0.1 reject'));
    assert.ok(ruleset.indexOf('169.254.0.0/16 reject') < ruleset.indexOf(rule), 'never link-local, whatever the policy says');
  });

  it('refuses an address that is not IPv4 (the ruleset is text)', () => {
    assert.throws(() => nftRuleset({ proxy: { address: '10.0.0.1; flush ruleset', port: 3128 }, gateway: '10.88.0.1', sshPort: 2222, direct: [] }), (error: unknown) => error instanceof AiboxError && /proxy address from podman is not an IPv4 address/.test(error.message));
    assert.throws(() => nftRuleset({ proxy: { address: '10.0.0.1', port: 3128 }, gateway: '300.1.1.1', sshPort: 2222, direct: [] }), AiboxError);
  });
});

describe('proxy environment and container', () => {
  it('sets both cases of HTTP_PROXY, HTTPS_PROXY, NO_PROXY', () => {
    const env = proxyEnvFile('http://10.88.0.5:3128');
    for (const name of ['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy']) assert.match(env, new RegExp(`^${name}='http://10\\.88\\.0\\.5:3128'$`, 'm'));
    assert.match(env, /^no_proxy='localhost,127\.0\.0\.1,::1'$/m);
    assert.match(env, /^export HTTP_PROXY http_proxy HTTPS_PROXY https_proxy NO_PROXY no_proxy$/m);
  });

  it('runs the proxy with no capability, read-only, its config read-only', () => {
    const args = proxyRunArgs('proj', 'localhost/aibox-proxy:abc', { nofile: 4096, nproc: 8192 });
    const joined = args.join(' ');
    for (const part of ['--cap-drop ALL', '--security-opt no-new-privileges', '--read-only', '--volume proj-egress:/etc/aibox/proxy:ro', '--label dev.aibox.egress=proj', '--name proj-egress']) assert.ok(joined.includes(part), part);
    assert.equal(args.at(-1), 'localhost/aibox-proxy:abc');
    assert.ok(!joined.includes('--publish'), 'the proxy publishes no port on the host');
  });
});
