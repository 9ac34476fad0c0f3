import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { aibox, aiboxOk, cleanup, freePort, host, sshTo, testUser, type TestUser } from '../helpers/cli.js';

// One gVisor sandbox: servers and debuggers run inside on loopback and are reached from
// the host only through `aibox port-forward`; a watcher inside sees edits made through
// `aibox exec` and by a process entering the sandbox another way (podman exec).

const NODE = '/opt/aibox/node/bin/node';
const JDK = '/usr/lib/jvm/java-17-openjdk-amd64';

/** Starts a command inside, detached from the ssh session that started it. */
function startInside(user: TestUser, command: string, log: string): void {
  const result = sshTo(user, `setsid sh -c '${command.replace(/'/g, `'\\''`)}' </dev/null >${log} 2>&1 &`);
  assert.equal(result.code, 0, result.stderr);
}

/** Retries until the forward's far end answers (the server inside may still be starting). */
async function eventually<T>(what: string, probe: () => Promise<T>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await probe();
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`${what}: ${String(error)}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

async function getText(url: string): Promise<string> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  return response.text();
}

/** Sends `send` on a raw TCP connection and resolves with the first `length` bytes back. */
function exchange(port: number, send: string, length: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    let received = Buffer.alloc(0);
    socket.setTimeout(5000, () => socket.destroy(new Error('no answer in 5 s')));
    socket.once('error', reject);
    socket.once('close', () => reject(new Error(`closed after ${received.length} bytes`)));
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (received.length >= length) {
        socket.destroy();
        resolve(received.subarray(0, length).toString('latin1'));
      }
    });
    socket.write(send);
  });
}

interface DapResponse {
  type: string;
  command?: string;
  success?: boolean;
  body?: Record<string, unknown>;
}

/** Sends one DAP message and resolves with the response to it (events before it are skipped). */
function dapResponse(port: number, message: string): Promise<DapResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    let buffer = '';
    socket.setTimeout(10_000, () => socket.destroy(new Error('no DAP response in 10 s')));
    socket.once('error', reject);
    socket.once('close', () => reject(new Error(`closed before a response: ${JSON.stringify(buffer.slice(0, 200))}`)));
    socket.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      for (;;) {
        const header = /^Content-Length: (\d+)\r\n\r\n/.exec(buffer);
        const length = Number(header?.[1] ?? -1);
        if (!header || buffer.length < header[0].length + length) return;
        const parsed = JSON.parse(buffer.slice(header[0].length, header[0].length + length)) as DapResponse;
        buffer = buffer.slice(header[0].length + length);
        if (parsed.type === 'response') {
          socket.destroy();
          resolve(parsed);
          return;
        }
      }
    });
    socket.write(message);
  });
}

interface ForwardJson {
  forwards: { bind: string; local: number; remote: number }[];
}

describe('port-forward and file watching in a gVisor sandbox', () => {
  let user: TestUser;
  const watchers: ChildProcess[] = [];
  before(async () => {
    user = await testUser('e2e-fwd');
    const started = await aibox(user, ['start', '--runtime', 'gvisor', '--port', String(await freePort())]);
    assert.equal(started.code, 0, started.stderr);
  });
  after(async () => {
    for (const watcher of watchers) watcher.kill();
    await cleanup(user);
  });

  it('forwards a web server inside to the host, lists it and stops it', async (t) => {
    startInside(user, `${NODE} -e "require('http').createServer((q, r) => r.end('hello from the sandbox ' + q.url)).listen(7001, '127.0.0.1')"`, '/tmp/web.log');
    const local = await freePort();
    const started = Date.now();
    const result = await aiboxOk(user, ['port-forward', `${local}:7001`]);
    const body = await eventually('the web server through the forward', () => getText(`http://127.0.0.1:${local}/x`));
    const elapsed = Date.now() - started;
    t.diagnostic(`aibox port-forward start -> first answer through the forward: ${elapsed} ms`);
    assert.equal(body, 'hello from the sandbox /x');
    assert.match(result.stdout, new RegExp(`Forwarding 127\\.0\\.0\\.1:${local} -> sandbox port 7001`));
    assert.ok(elapsed < 10_000, `first byte after ${elapsed} ms`);

    const list = JSON.parse((await aiboxOk(user, ['port-forward', '--list', '--json'])).stdout) as ForwardJson;
    assert.deepEqual(list.forwards.map(({ bind, local: l, remote }) => ({ bind, local: l, remote })), [{ bind: '127.0.0.1', local, remote: 7001 }]);
    const again = await aiboxOk(user, ['port-forward', `${local}:7001`]);
    assert.match(again.stdout, /1 already active/);

    await aiboxOk(user, ['port-forward', '--stop', String(local)]);
    // A new connection (fetch would reuse its kept-alive one, which cancel rightly leaves open).
    await assert.rejects(exchange(local, 'GET / HTTP/1.0\r\n\r\n', 1), /ECONNREFUSED/, 'the forward is gone');
    assert.equal(JSON.parse((await aiboxOk(user, ['port-forward', '--list', '--json'])).stdout).forwards.length, 0);
  });

  it('refuses bad specs, a port in use and a non-loopback bind with one clear line', async () => {
    const cases: [string[], number, RegExp][] = [
      [['port-forward', '0'], 2, /port 0 in the port-forward spec "0" is out of range/],
      [['port-forward', '70000'], 2, /port 70000 .* out of range/],
      [['port-forward', '8000-8002:9000'], 2, /maps 3 local port\(s\) to 1 sandbox port/],
      [['port-forward', '8000,8000'], 2, /local port 8000 is given twice/],
      [['port-forward', 'banana'], 2, /"banana" in the port-forward spec "banana" is not a port number/],
      [['port-forward', '0.0.0.0:8000:8000'], 8, /listens on 0\.0\.0\.0, which other machines can reach/],
      [['port-forward', '--stop', '65000'], 7, /no forward of local port 65000 is active/],
    ];
    for (const [args, code, pattern] of cases) {
      const result = await aibox(user, args);
      assert.equal(result.code, code, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, pattern);
      assert.equal(result.stderr.trim().split('\n').filter((line) => line.startsWith('error:')).length, 1);
    }
    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const address = busy.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    try {
      const result = await aibox(user, ['port-forward', `${port}:7001`]);
      assert.equal(result.code, 5, result.stderr);
      assert.match(result.stderr, new RegExp(`local port ${port} on 127\\.0\\.0\\.1 is in use by another program`));
    } finally {
      busy.close();
    }
  });

  it('reaches Node --inspect inside: /json/version through the forward', async () => {
    startInside(user, `${NODE} --inspect=127.0.0.1:9229 -e "setInterval(() => {}, 60000)"`, '/tmp/inspect.log');
    const local = await freePort();
    await aiboxOk(user, ['port-forward', `${local}:9229`]);
    const version = JSON.parse(await eventually('the inspector through the forward', () => getText(`http://127.0.0.1:${local}/json/version`))) as Record<string, string>;
    assert.match(version.Browser ?? '', /^node\.js\/v20\./);
    assert.match(version['Protocol-Version'] ?? '', /^\d+\.\d+$/);
  });

  it('reaches a JVM inside over JDWP: the handshake through the forward', { skip: !existsSync(join(JDK, 'bin/jlink')) && `no JDK at ${JDK} on the host` }, async (t) => {
    // The image has no JDK: a 35 MB runtime (java.base + the JDWP agent) made on the host with
    // jlink is copied in over SSH, as a developer would bring a tool the policy has no pack for.
    const work = join(user.home, 'jdk');
    await mkdir(work, { recursive: true });
    const jlink = host(join(JDK, 'bin/jlink'), ['--add-modules', 'java.base,jdk.jdwp.agent', '--strip-debug', '--no-man-pages', '--no-header-files', '--output', join(work, 'jre')]);
    assert.equal(jlink.code, 0, jlink.stderr);
    await writeFile(join(work, 'Sleep.java'), 'public class Sleep { public static void main(String[] a) throws Exception { Thread.sleep(600000); } }\n');
    const javac = host(join(JDK, 'bin/javac'), ['--release', '17', '-d', join(work, 'jre'), join(work, 'Sleep.java')]);
    assert.equal(javac.code, 0, javac.stderr);
    const copy = host('sh', ['-c', `tar -C "${work}" -c jre | ssh -F "${join(user.home, '.ssh', 'config')}" ${user.name} 'tar -C /tmp -x'`]);
    assert.equal(copy.code, 0, copy.stderr);
    startInside(user, '/tmp/jre/bin/java -agentlib:jdwp=transport=dt_socket,server=y,suspend=n,address=127.0.0.1:5005 -cp /tmp/jre Sleep', '/tmp/jdwp.log');
    const local = await freePort();
    await aiboxOk(user, ['port-forward', `${local}:5005`]);
    const reply = await eventually('the JDWP handshake through the forward', () => exchange(local, 'JDWP-Handshake', 14), 30_000);
    assert.equal(reply, 'JDWP-Handshake');
    t.diagnostic(sshTo(user, 'cat /tmp/jdwp.log').stdout.trim());
  });

  it('reaches debugpy inside: a DAP client initializes through the forward', async () => {
    // The image has no Python: Debian's python3.11 and python3-debugpy packages (the machine's
    // own package source, cached between runs) are unpacked on the host and copied in over SSH.
    const debs = '/tmp/aibox-e2e-debs/debugpy';
    const packages = ['python3.11-minimal', 'libpython3.11-minimal', 'libpython3.11-stdlib', 'python3-debugpy', 'python3-pydevd', 'python3-bytecode'];
    const fetched = host('sh', ['-c', `mkdir -p ${debs} && cd ${debs} && for p in ${packages.join(' ')}; do ls "$p"_*.deb >/dev/null 2>&1 || apt-get download -q "$p" || exit 1; done 2>&1`]);
    assert.equal(fetched.code, 0, fetched.stdout);
    const root = join(user.home, 'python');
    const unpack = host('sh', ['-c', `mkdir -p "${root}" && for d in ${debs}/*.deb; do dpkg-deb -x "$d" "${root}" || exit 1; done && tar -C "${root}" -c . | ssh -F "${join(user.home, '.ssh', 'config')}" ${user.name} 'mkdir -p /tmp/py && tar -C /tmp/py -x'`]);
    assert.equal(unpack.code, 0, unpack.stderr);
    startInside(user, 'PYTHONHOME=/tmp/py/usr PYTHONPATH=/tmp/py/usr/lib/python3/dist-packages exec /tmp/py/usr/bin/python3.11 -m debugpy --listen 127.0.0.1:5678 -c "import time; time.sleep(600)"', '/tmp/debugpy.log');
    const local = await freePort();
    await aiboxOk(user, ['port-forward', `${local}:5678`]);
    const request = JSON.stringify({ seq: 1, type: 'request', command: 'initialize', arguments: { clientID: 'aibox-e2e', adapterID: 'debugpy' } });
    const reply = await eventually('the DAP initialize response through the forward', () => dapResponse(local, `Content-Length: ${Buffer.byteLength(request)}\r\n\r\n${request}`), 30_000);
    assert.equal(reply.success, true);
    assert.equal(reply.body?.supportsConfigurationDoneRequest, true);
  });

  it('sees edits promptly: one made through aibox exec, one by a process entering another way', async (t) => {
    const watcher = spawn('ssh', ['-F', join(user.home, '.ssh', 'config'), user.name, `mkdir -p /workspace/watched && exec ${NODE} -e "require('fs').watch('/workspace/watched', (event, file) => console.log(Date.now(), event, file)); console.log('ready')"`]);
    watchers.push(watcher);
    let seen = '';
    watcher.stdout.on('data', (chunk: Buffer) => (seen += chunk.toString()));
    const waitFor = (pattern: RegExp, timeoutMs: number) => eventually(`the watcher's output ${pattern}`, async () => {
      const match = pattern.exec(seen);
      if (!match) throw new Error(`not yet: ${JSON.stringify(seen)}`);
      return match;
    }, timeoutMs);
    await waitFor(/ready/, 20_000);

    // The time just before the write, on the clock the watcher reads too.
    const write = (file: string) => `${NODE} -e "const at = Date.now(); require('fs').writeFileSync('/workspace/watched/${file}', 'x'); console.log(at)"`;
    const viaExec = await aiboxOk(user, ['exec', '--', 'sh', '-c', write('via-exec.txt')]);
    const [, eventAt] = await waitFor(/(\d+) \w+ via-exec\.txt/, 5000);
    const execLatency = Number(eventAt) - Number(viaExec.stdout.trim());

    const viaPodman = host('podman', ['exec', '--user', 'dev', user.name, 'sh', '-c', write('via-podman.txt')]);
    assert.equal(viaPodman.code, 0, viaPodman.stderr);
    const [, podmanEventAt] = await waitFor(/(\d+) \w+ via-podman\.txt/, 5000);
    const podmanLatency = Number(podmanEventAt) - Number(viaPodman.stdout.trim());
    t.diagnostic(`inotify event after the write: ${execLatency} ms (aibox exec), ${podmanLatency} ms (podman exec)`);
    assert.ok(execLatency < 1000 && podmanLatency < 1000, `events after ${execLatency} ms and ${podmanLatency} ms`);
  });

  it('doctor reports the inotify limit of the host and what the sandbox sees', async () => {
    const result = await aibox(user, ['doctor', '--json']);
    const report = JSON.parse(result.stdout) as { checks: { name: string; status: string; detail: string }[] };
    const check = report.checks.find((one) => one.name === 'inotify');
    assert.match(check?.detail ?? '', /fs\.inotify\.max_user_watches = \d+.*; the sandbox (sees \d+|shows no limit)/);
  });

  it('shows no forward once the shared connection is gone, and sets one up again', async () => {
    const local = await freePort();
    await aiboxOk(user, ['port-forward', `${local}:7001`]);
    assert.equal(host('ssh', ['-F', join(user.home, '.ssh', 'config'), '-O', 'exit', user.name]).code, 0);
    const list = JSON.parse((await aiboxOk(user, ['port-forward', '--list', '--json'])).stdout) as ForwardJson & { master: number | null };
    assert.deepEqual(list.forwards, []);
    assert.equal(list.master, null);
    await aiboxOk(user, ['port-forward', `${local}:7001`]);
    assert.equal(await eventually('the web server through the new forward', () => getText(`http://127.0.0.1:${local}/again`)), 'hello from the sandbox /again');
    const stopped = JSON.parse((await aiboxOk(user, ['port-forward', '--stop-all', '--json'])).stdout) as { stopped: unknown[] };
    assert.ok(stopped.stopped.length >= 1);
  });
});
