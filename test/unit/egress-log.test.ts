import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AiboxError } from '../../src/core/errors.js';
import { createOutput } from '../../src/core/output.js';
import { describeEgress, enforcedRules, fixFor, formatEntry, parseLogLine, parseSince, squidFiles, summarize } from '../../src/egress/index.js';
import { BUILT_IN_ORIGIN } from '../../src/policy/defaults.js';
import { mergeLayers } from '../../src/policy/effective.js';
import type { PolicyLayer } from '../../src/policy/schema.js';

// Lines as squid 5.7 writes them in the `aibox` logformat (captured from a real proxy).
const LOG = `2026/11/28 07:24:26| Starting Squid Cache version 5.7 for x86_64-pc-linux-gnu...
1795850668.634 10.88.0.1 TCP_MISS/200 GET http://10.88.6.182:8080/ok 10.88.6.182:8080
1795850668.669 10.88.0.1 TCP_DENIED/403 GET http://10.88.6.182:8443/no 10.88.6.182:8443
1795850668.705 10.88.0.1 TCP_DENIED/403 CONNECT 10.88.6.182:8443 10.88.6.182:8443
1795850671.354 10.88.0.1 TCP_DENIED/403 CONNECT 10.88.6.182:8443 10.88.6.182:8443
1795850671.397 10.88.0.1 TCP_TUNNEL/200 CONNECT 10.88.6.182:8080 10.88.6.182:8080
1795850671.443 10.88.0.1 TCP_DENIED/403 GET http://Registry.Example.com/x Registry.Example.com:80
1795850671.481 10.88.0.1 TCP_DENIED/403 GET http://[::1]:9/x %5B::1%5D:9
`;

const requests = LOG.split('\n').flatMap((line) => parseLogLine(line) ?? []);
const fakeFix = (host: string, port: number) => `fix ${host}:${port}`;

describe('parsing the proxy log', () => {
  it('reads time, verdict, status, method and host:port of each request line', () => {
    assert.equal(requests.length, 7);
    assert.deepEqual(requests[2], { time: 1795850668705, result: 'TCP_DENIED', status: 403, method: 'CONNECT', host: '10.88.6.182', port: 8443, allowed: false });
    assert.deepEqual(requests[0], { time: 1795850668634, result: 'TCP_MISS', status: 200, method: 'GET', host: '10.88.6.182', port: 8080, allowed: true });
    assert.equal(requests[4]?.allowed, true, 'a tunnel squid let through');
    assert.equal(requests[5]?.host, 'registry.example.com', 'host names in lower case, as the policy compares them');
    assert.equal(requests[5]?.port, 80);
    assert.equal(requests[6]?.host, '[::1]', 'IPv6 brackets are percent-encoded by squid');
  });

  it('skips squid messages, garbage and half lines without throwing', () => {
    const junk = [
      '',
      '   ',
      '2026/11/28 07:24:26| Accepting HTTP Socket connections at conn3 local=[::]:3128',
      '1795850668.634 10.88.0.1 TCP_MISS/200 GET http://h/ h:0',
      '1795850668.634 10.88.0.1 TCP_MISS/200 GET http://h/ h:99999',
      '1795850668.634 10.88.0.1 NONE_NONE/400 NONE error:invalid-request -:-',
      '1795850668.634 10.88.0.1 TCP_DENIED/403 GET http://h/ -:80',
      '1795850668.634 10.88.0.1 TCP_DENIED/403 GET http://h/ %zz:80',
      '1795850668.634 10.88.0.1 TCP_DENIED/403 CONNECT h:443',
      'x'.repeat(100_000),
      '\u0000\uffff TCP_DENIED/403',
      '1795850668.634 10.88.0.1 TCP_DENIED/403 CONNECT h:443 h:443 extra',
    ];
    for (const line of junk) assert.equal(parseLogLine(line), undefined, line.slice(0, 80));
    // Printable noise, and real lines cut short at every length: deterministic, no randomness.
    for (let i = 0; i < 2000; i++) {
      const noise = Array.from({ length: i % 90 }, (_, j) => String.fromCharCode(32 + ((i * 7919 + j * 104_729) % 95))).join('');
      assert.doesNotThrow(() => parseLogLine(noise));
    }
    const line = '1795850668.705 10.88.0.1 TCP_DENIED/403 CONNECT 10.88.6.182:8443 10.88.6.182:8443';
    for (let cut = 0; cut < line.length - 5; cut++) assert.equal(parseLogLine(line.slice(0, cut)), undefined, line.slice(0, cut));
  });
});

describe('summarizing requests', () => {
  it('groups denied requests alike with a count, first and last time, the latest last', async () => {
    const calls: string[] = [];
    const entries = await summarize(requests, false, (host, port) => {
      calls.push(`${host}:${port}`);
      return fakeFix(host, port);
    });
    assert.deepEqual(
      entries.map((entry) => `${entry.method} ${entry.host}:${entry.port} ${entry.count}`),
      ['GET 10.88.6.182:8443 1', 'CONNECT 10.88.6.182:8443 2', 'GET registry.example.com:80 1', 'GET [::1]:9 1'],
    );
    const connect = entries[1];
    assert.equal(connect?.first, new Date(1795850668705).toISOString());
    assert.equal(connect?.time, new Date(1795850671354).toISOString());
    assert.equal(connect?.fix, 'fix 10.88.6.182:8443');
    assert.deepEqual(calls, ['10.88.6.182:8443', '10.88.6.182:8443', 'registry.example.com:80', '[::1]:9'], 'the fix is asked once per group');
  });

  it('--all adds the allowed requests, without a fix', async () => {
    const entries = await summarize(requests, true, fakeFix);
    const allowed = entries.filter((entry) => entry.allowed);
    assert.deepEqual(allowed.map((entry) => `${entry.method} ${entry.host}:${entry.port}`), ['GET 10.88.6.182:8080', 'CONNECT 10.88.6.182:8080']);
    assert.ok(allowed.every((entry) => entry.fix === undefined));
    assert.equal(entries.length, 6);
  });

  it('an empty log is no entry', async () => {
    assert.deepEqual(await summarize([], true, fakeFix), []);
  });

  it('prints one line per entry, the fix under a denied one', async () => {
    const [get, connect] = await summarize(requests, false, fakeFix);
    assert.match(formatEntry(get!), /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d {2}denied {3}GET {5}10\.88\.6\.182:8443\n {4}fix: fix 10\.88\.6\.182:8443$/);
    assert.match(formatEntry(connect!), /CONNECT 10\.88\.6\.182:8443 {2}\(2 times since \d{4}-/);
    const [allowed] = await summarize(requests, true, fakeFix);
    assert.doesNotMatch(formatEntry(allowed!), /fix/);
  });
});

describe('the fix of a denied request comes from the effective policy', () => {
  const org: PolicyLayer = { name: 'org', origin: '/etc/aibox/policy.yaml', data: { version: 1, network: { egress: [{ host: '*.example.com', ports: [443] }] } } };
  const project: PolicyLayer = { name: 'project', origin: '/src/app/.aibox/policy.yaml', data: { version: 1, network: { egress: [{ host: 'git.example.com', ports: [443] }] } } };
  const policy = mergeLayers([org, project]);
  const apply = 'aibox policy apply';

  it('names the project file when the org policy allows the host already', () => {
    assert.equal(fixFor(policy, 'registry.example.com', 443, apply), 'add {host: registry.example.com, ports: [443]} to network.egress in /src/app/.aibox/policy.yaml');
  });

  it('says the project layer may only tighten and names the org file when the org policy does not allow it', () => {
    assert.equal(
      fixFor(policy, 'registry.example.org', 443, apply),
      'add {host: registry.example.org, ports: [443]} to network.egress in /src/app/.aibox/policy.yaml — the project layer may only tighten; ask for it in the org policy /etc/aibox/policy.yaml',
    );
    assert.match(fixFor(policy, 'registry.example.com', 8443, apply), /ask for it in the org policy \/etc\/aibox\/policy\.yaml$/, 'a port the org policy lacks');
  });

  it('names every layer above that lacks it, top first', () => {
    const team: PolicyLayer = { name: 'team', origin: '/team/policy.yaml', data: { version: 1, network: { egress: [{ host: 'git.example.com', ports: [443] }] } } };
    assert.match(fixFor(mergeLayers([org, team, project]), 'registry.example.com', 443, apply), /the project layer may only tighten; ask for it in the team policy \/team\/policy\.yaml$/);
    assert.match(fixFor(mergeLayers([org, team, project]), 'a.example.org', 443, apply), /ask for it in the org policy \/etc\/aibox\/policy\.yaml and the team policy \/team\/policy\.yaml$/);
  });

  it('the org file alone, or the file that replaces the built-in default', () => {
    assert.equal(fixFor(mergeLayers([org]), 'a.example.org', 80, apply), 'add {host: a.example.org, ports: [80]} to network.egress in /etc/aibox/policy.yaml');
    const builtIn = mergeLayers([{ ...org, origin: BUILT_IN_ORIGIN }]);
    assert.match(fixFor(builtIn, 'a.example.org', 80, apply), /to network\.egress in \/etc\/aibox\/policy\.yaml \(it replaces the built-in default/);
  });

  it('a request the policy allows by now: apply it to the proxy', () => {
    assert.equal(fixFor(policy, 'git.example.com', 443, apply), 'allowed now by network.egress[0] in /src/app/.aibox/policy.yaml: make the proxy enforce it: aibox policy apply');
  });
});

describe('egress log flags and status', () => {
  it('--since takes core durations and names a bad value', () => {
    assert.equal(parseSince('10m'), 600_000);
    assert.equal(parseSince('2d'), 172_800_000);
    for (const bad of ['', '10', 'ten minutes', '-5m', '1w', '0s']) {
      assert.throws(() => parseSince(bad), (error: unknown) => error instanceof AiboxError && error.code === 'USAGE' && error.message.includes(`"${bad}"`) && /--since 10m/.test(error.hint ?? ''), bad);
    }
  });

  it('status reads the rule count and file from the generated squid.conf', () => {
    const conf = squidFiles({ rules: [{ host: 'a.example.com', ports: [443] }, { host: '*.example.org', ports: [80, 443] }], origin: '/etc/aibox/policy.yaml', upper: [] })['squid.conf'];
    assert.deepEqual(enforcedRules(conf), { rules: 2, origin: '/etc/aibox/policy.yaml' });
    assert.deepEqual(enforcedRules(squidFiles({ rules: [], origin: BUILT_IN_ORIGIN, upper: [] })['squid.conf']), { rules: 0, origin: BUILT_IN_ORIGIN });
    assert.equal(enforcedRules('http_port 3128\n'), undefined, 'a config aibox did not write');
  });

  it('status line of the proxy: running, stopped, absent', () => {
    const running = { proxy: 'web-egress', state: 'running', address: '10.88.0.5', port: 3128, rules: 3, origin: '/etc/aibox/policy.yaml' } as const;
    assert.equal(describeEgress(running, 'aibox start --name web'), 'web-egress running at 10.88.0.5:3128, 3 rules from /etc/aibox/policy.yaml');
    assert.equal(describeEgress({ ...running, state: 'stopped', address: undefined, rules: 1 }, 'aibox start'), 'web-egress stopped, 1 rule from /etc/aibox/policy.yaml (aibox start starts it)');
    assert.match(describeEgress({ proxy: 'web-egress', state: 'absent', port: 3128 }, 'aibox start'), /^web-egress absent: .*\(create it: aibox start\)$/);
  });

  it('a streamed record is one compact JSON line with --json, else the human text', () => {
    const sink = () => ({ text: '', write(chunk: string) { this.text += chunk; } });
    const [stdout, stderr] = [sink(), sink()];
    createOutput(true, stdout, stderr).record({ host: 'a', port: 1 }, 'human');
    createOutput(true, stdout, stderr).record({ host: 'b', port: 2 }, 'human');
    assert.deepEqual(stdout.text.trim().split('\n').map((line) => JSON.parse(line)), [{ host: 'a', port: 1 }, { host: 'b', port: 2 }]);
    const human = sink();
    createOutput(false, human, sink()).record({}, 'a line');
    assert.equal(human.text, 'a line\n');
  });
});
