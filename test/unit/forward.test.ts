import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { formatForward, isLoopback, MAX_RANGE, parseForwardSpecs, sshForwardArg } from '../../src/forward/index.js';
import { liveForwards, readForwardState, updateForwardState } from '../../src/forward/state.js';
import { inotifyCheck } from '../../src/doctor/checks.js';
import { canMultiplex, hostEntry } from '../../src/ssh/entry.js';
import type { InstanceKeys } from '../../src/ssh/keys.js';
import { failsWith } from '../helpers/errors.js';

const L = (local: number, remote = local, bind = '127.0.0.1') => ({ bind, local, remote });

describe('port-forward specs', () => {
  it('reads every form', () => {
    assert.deepEqual(parseForwardSpecs(['8000']), [L(8000)]);
    assert.deepEqual(parseForwardSpecs(['8888:9999']), [L(8888, 9999)]);
    assert.deepEqual(parseForwardSpecs(['8000-8002']), [L(8000), L(8001), L(8002)]);
    assert.deepEqual(parseForwardSpecs(['8000-8001:9000-9001']), [L(8000, 9000), L(8001, 9001)]);
    assert.deepEqual(parseForwardSpecs(['127.0.0.1:4000:4000']), [L(4000)]);
    assert.deepEqual(parseForwardSpecs(['127.0.0.2:4000:5000']), [L(4000, 5000, '127.0.0.2')]);
    assert.deepEqual(parseForwardSpecs(['[::1]:8080:8081']), [L(8080, 8081, '::1')]);
    assert.deepEqual(parseForwardSpecs(['localhost:3000:3000']), [L(3000, 3000, 'localhost')]);
    assert.deepEqual(parseForwardSpecs(['1', '65535']), [L(1), L(65535)]);
  });

  it('reads comma-separated lists and several arguments', () => {
    assert.deepEqual(parseForwardSpecs(['8000,9000-9001']), [L(8000), L(9000), L(9001)]);
    assert.deepEqual(parseForwardSpecs(['8000, 8001', '9229']), [L(8000), L(8001), L(9229)]);
  });

  it('refuses port 0, ports above 65535 and what is not a port', () => {
    assert.throws(() => parseForwardSpecs(['0']), failsWith('USAGE', /port 0 in the port-forward spec "0" is out of range/));
    assert.throws(() => parseForwardSpecs(['65536']), failsWith('USAGE', /port 65536 .* out of range/));
    assert.throws(() => parseForwardSpecs(['8000:0']), failsWith('USAGE', /port 0 in the port-forward spec "8000:0"/));
    assert.throws(() => parseForwardSpecs(['123456']), failsWith('USAGE', /"123456" .* is not a port number/));
    for (const garbage of ['abc', '80a', '-1', '8000-', '-8000', ' : ', '8000::9000', '+80', '8.0', '0x50']) {
      assert.throws(() => parseForwardSpecs([garbage]), failsWith('USAGE', /port-forward spec|not a port/), garbage);
    }
  });

  it('refuses unequal, backward and oversized ranges', () => {
    assert.throws(() => parseForwardSpecs(['8000-8005:9000-9001']), failsWith('USAGE', /maps 6 local port\(s\) to 2 sandbox port\(s\)/));
    assert.throws(() => parseForwardSpecs(['8000-8001:9000']), failsWith('USAGE', /maps 2 local port\(s\) to 1/));
    assert.throws(() => parseForwardSpecs(['8005-8000']), failsWith('USAGE', /runs backwards/));
    assert.throws(() => parseForwardSpecs([`1000-${1000 + MAX_RANGE}`]), failsWith('USAGE', new RegExp(`has ${MAX_RANGE + 1} ports`)));
    assert.equal(parseForwardSpecs([`1000-${999 + MAX_RANGE}`]).length, MAX_RANGE);
  });

  it('refuses a local port given twice, across lists and ranges', () => {
    assert.throws(() => parseForwardSpecs(['8000,8000']), failsWith('USAGE', /local port 8000 is given twice/));
    assert.throws(() => parseForwardSpecs(['8000-8002', '8001:9000']), failsWith('USAGE', /local port 8001 is given twice/));
    assert.deepEqual(parseForwardSpecs(['8000:9000,8001:9000']), [L(8000, 9000), L(8001, 9000)], 'one sandbox port may be reached twice');
  });

  it('refuses empty specs, bad bind addresses and too many colons', () => {
    assert.throws(() => parseForwardSpecs([]), failsWith('USAGE', /no port to forward/));
    assert.throws(() => parseForwardSpecs(['8000,']), failsWith('USAGE', /empty port-forward spec/));
    assert.throws(() => parseForwardSpecs(['host.example.com:80:80']), failsWith('USAGE', /"host.example.com" .* is not an IP address/));
    assert.throws(() => parseForwardSpecs(['[::1:80:80']), failsWith('USAGE', /unclosed/));
    assert.throws(() => parseForwardSpecs(['1:2:3:4']), failsWith('USAGE', /too many ":"/));
    assert.throws(() => parseForwardSpecs(['[::1]:1:2:3']), failsWith('USAGE', /too many ":"/));
  });

  it('listens on loopback only unless non-loopback is allowed', () => {
    assert.throws(() => parseForwardSpecs(['0.0.0.0:8000:8000']), failsWith('POLICY_DENIED', /listens on 0\.0\.0\.0, which other machines can reach/));
    assert.throws(() => parseForwardSpecs(['[::]:8000:8000']), failsWith('POLICY_DENIED', /listens on ::/));
    assert.throws(() => parseForwardSpecs(['192.168.1.5:80:80']), failsWith('POLICY_DENIED', /192\.168\.1\.5/));
    assert.deepEqual(parseForwardSpecs(['0.0.0.0:8000:8000'], { allowNonLoopback: true }), [L(8000, 8000, '0.0.0.0')]);
    assert.ok(isLoopback('127.1.2.3') && isLoopback('::1') && isLoopback('localhost'));
    assert.ok(!isLoopback('0.0.0.0') && !isLoopback('::') && !isLoopback('10.0.0.1') && !isLoopback('127.example.com'));
  });

  it('writes specs back and builds ssh -L arguments', () => {
    assert.equal(formatForward(L(8000)), '8000');
    assert.equal(formatForward(L(8888, 9999)), '8888:9999');
    assert.equal(formatForward(L(8080, 8081, '::1')), '[::1]:8080:8081');
    assert.equal(sshForwardArg(L(8888, 9999)), '127.0.0.1:8888:localhost:9999');
    assert.equal(sshForwardArg(L(8080, 8080, '::1')), '[::1]:8080:localhost:8080');
    for (const spec of ['8000', '8888:9999', '[::1]:8080:8081', '127.0.0.2:1:2']) assert.equal(formatForward(parseForwardSpecs([spec])[0] ?? L(1)), spec);
  });
});

describe('port-forward state', () => {
  const state = { version: 1 as const, master: 42, forwards: [{ ...L(8000), since: '2026-01-01T00:00:00.000Z' }] };
  it('shows the recorded forwards only while the same master runs', () => {
    assert.equal(liveForwards(state, 42).length, 1);
    assert.deepEqual(liveForwards(state, 43), [], 'a new master has none of the old forwards');
    assert.deepEqual(liveForwards(state, undefined), [], 'no master, no forwards');
    assert.deepEqual(liveForwards(undefined, 42), []);
  });
  it('loses no entry when many port-forward runs update forwards.json at once', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'aibox-forwards-'));
    try {
      const ports = Array.from({ length: 10 }, (_, i) => 8000 + i);
      await Promise.all(ports.map((port) => updateForwardState(dir, 42, async (active) => {
        await sleep(5); // the ssh -O forward between read and write
        return [...active, { ...L(port), since: new Date().toISOString() }];
      }, () => {})));
      const state = await readForwardState(dir);
      assert.deepEqual(state?.forwards.map((one) => one.local).sort(), ports);
      await Promise.all(ports.slice(0, 5).map((port) => updateForwardState(dir, 42, async (active) => {
        await sleep(5);
        return active.filter((one) => one.local !== port);
      }, () => {})));
      assert.deepEqual((await readForwardState(dir))?.forwards.map((one) => one.local).sort(), ports.slice(5));
      assert.deepEqual(await readdir(dir), ['forwards.json'], 'no lock or temp file is left');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
  it('needs a shared connection, which a socket path too long for a Unix socket rules out', () => {
    assert.ok(canMultiplex('/home/dev/.local/state/aibox/ssh', 'aibox'));
    assert.ok(!canMultiplex(`/home/${'x'.repeat(80)}/.local/state/aibox/ssh`, 'aibox'));
  });
  it('keeps the shared connection until the sandbox stops: a timed ControlPersist would end idle forwards', () => {
    const entry = hostEntry({ instance: 'aibox', port: 2222, controlDir: '/home/dev/.local/state/aibox/ssh', keys: { clientKey: '/k/id', knownHosts: '/k/known_hosts', hostKeyAlias: 'aibox-sandbox' } as InstanceKeys });
    assert.ok(entry.includes('  ControlPersist yes'), entry.join('\n'));
    assert.ok(entry.includes('  ServerAliveInterval 30'), 'a dead connection is still noticed');
  });
});

describe('doctor inotify check', () => {
  it('is ok at or above 524288', () => {
    assert.equal(inotifyCheck(524288).status, 'ok');
    assert.match(inotifyCheck(1048576, '1048576').detail, /the sandbox sees 1048576/);
  });
  it('warns below, with the sysctl fix that also persists it', () => {
    const check = inotifyCheck(8192, '8192');
    assert.equal(check.status, 'warn');
    assert.match(check.detail, /= 8192; the sandbox sees 8192: file watchers/);
    assert.match(check.fix ?? '', /sysctl -w fs\.inotify\.max_user_watches=524288 .*\/etc\/sysctl\.d\//);
  });
  it('warns when the sandbox sees less than the host', () => {
    const check = inotifyCheck(524288, '8192');
    assert.equal(check.status, 'warn');
    assert.match(check.detail, /but the sandbox sees 8192/);
  });
  it('says so when the sandbox shows no limit of its own', () => {
    assert.match(inotifyCheck(524288, '').detail, /shows no limit/);
  });
});
