import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../src/config/store.js';
import { resolvePaths } from '../../src/core/paths.js';
import { planCurrentImage } from '../../src/image/build.js';
import { vscodeArch } from '../../src/ide/vscode.js';
import { aibox, aiboxOk, cleanup, freePort, host, sshTo, testUser, type TestUser } from '../helpers/cli.js';

// The official VS Code server cannot be downloaded on these machines (and its license
// forbids other clients), so the org "mirror" here serves a locally made archive of the
// same layout: <top>/bin/code-server (the server's CLI, a small script) and <top>/server.sh
// (the legacy entry), backed by a Node program that records its arguments and listens on
// a port and prints it like the real server ("Extension host agent listening on PORT").
// One image build with the settings, reused by every test after it.

const COMMIT = '0123456789abcdef0123456789abcdef01234567';
const EXTENSION = 'example.hello-1.0.0';

const CODE_SERVER = `#!/bin/sh
# A stand-in for the VS Code server's CLI (test/e2e/vscode.test.ts).
root=$(dirname "$(dirname "$(readlink -f "$0")")")
case " $* " in
  *" --install-extension "*)
    ext= dir= prev=
    for arg in "$@"; do
      case $prev in --install-extension) ext=$arg ;; --extensions-dir) dir=$arg ;; esac
      prev=$arg
    done
    name=$(basename "$ext" .vsix)
    mkdir -p "$dir/$name" && cp "$ext" "$dir/$name/extension.vsix" && echo "$*" > "$dir/$name/installed-with"
    echo "Extension '$name' was successfully installed."
    exit 0 ;;
esac
exec /opt/aibox/node/bin/node "$root/fake-server.js" "$@"
`;

const SERVER_SH = `#!/bin/sh
exec /opt/aibox/node/bin/node "$(dirname "$0")/fake-server.js" "$@"
`;

const FAKE_SERVER = `
const { createServer } = require('node:http');
const { appendFileSync } = require('node:fs');
const args = process.argv.slice(2);
appendFileSync(process.env.HOME + '/fake-vscode-args.jsonl', JSON.stringify({ script: process.argv[1], args }) + '\\n');
const value = (name) => { let found; args.forEach((arg, i) => { if (arg === '--' + name) found = args[i + 1]; else if (arg.startsWith('--' + name + '=')) found = arg.slice(name.length + 3); }); return found; };
const server = createServer((request, response) => response.end('fake VS Code server ${COMMIT}\\n'));
server.listen(Number(value('port') || 0), value('host') || '127.0.0.1', () => {
  console.log('Extension host agent listening on ' + server.address().port);
});
setTimeout(() => process.exit(0), 60000).unref();
`;

const CLI = `#!/bin/sh
# A stand-in for the VS Code CLI (Remote-SSH's exec server runs ~/.vscode-server/code-<commit>).
echo "code 1.0.0 (commit ${COMMIT}) $*"
`;

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

/** The mirror: a folder served over HTTP on 127.0.0.1 (aibox downloads on the host). */
class Mirror {
  private server?: Server;
  port = 0;
  requests: string[] = [];
  constructor(readonly root: string) {}
  async start(): Promise<void> {
    this.port = await freePort();
    this.server = createServer((request, response) => {
      const path = decodeURIComponent(new URL(request.url ?? '/', 'http://x').pathname);
      this.requests.push(path);
      readFile(join(this.root, path)).then(
        (body) => response.writeHead(200).end(body),
        () => response.writeHead(404).end(),
      );
    });
    await new Promise<void>((resolve) => this.server?.listen(this.port, '127.0.0.1', resolve));
  }
  url(path: string): string {
    return `http://127.0.0.1:${this.port}/${path}`;
  }
  stop(): Promise<void> {
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

describe('VS Code: a pre-installed server from the org mirror', () => {
  let user: TestUser;
  let mirror: Mirror;
  let serverSha: string;
  let cliSha: string;
  let image = '';
  const home = '/home/dev/.vscode-server';

  before(async () => {
    user = await testUser('e2e-vscode');
    mirror = new Mirror(join(user.home, 'mirror'));
    const top = join(user.home, 'archive', 'vscode-server-linux-x64');
    await mkdir(join(top, 'bin'), { recursive: true });
    await writeFile(join(top, 'bin', 'code-server'), CODE_SERVER);
    await writeFile(join(top, 'server.sh'), SERVER_SH);
    await writeFile(join(top, 'fake-server.js'), FAKE_SERVER);
    await chmod(join(top, 'bin', 'code-server'), 0o755);
    await chmod(join(top, 'server.sh'), 0o755);
    await mkdir(join(mirror.root, 'server', COMMIT), { recursive: true });
    await mkdir(join(mirror.root, 'vsix'), { recursive: true });
    const archive = join(mirror.root, 'server', COMMIT, `vscode-server-linux-${vscodeArch()}.tar.gz`);
    execFileSync('tar', ['-czf', archive, '-C', join(user.home, 'archive'), 'vscode-server-linux-x64']);
    serverSha = sha256(await readFile(archive));
    await mkdir(join(user.home, 'cli'));
    await writeFile(join(user.home, 'cli', 'code'), CLI, { mode: 0o755 });
    const cliArchive = join(mirror.root, 'server', COMMIT, `vscode_cli_alpine_${vscodeArch()}_cli.tar.gz`);
    execFileSync('tar', ['-czf', cliArchive, '-C', join(user.home, 'cli'), 'code']);
    cliSha = sha256(await readFile(cliArchive));
    const vsix = Buffer.from('PK fake vsix of example.hello 1.0.0');
    await writeFile(join(mirror.root, 'vsix', `${EXTENSION}.vsix`), vsix);
    await writeFile(join(user.home, 'extensions.txt'), `# the test's curated list\nexample.hello@1.0.0 ${sha256(vsix)}\n`);
    await mirror.start();
    await aiboxOk(user, ['config', 'set', 'vscode.serverUrl', mirror.url('server/{commit}/vscode-server-linux-{arch}.tar.gz')]);
    await aiboxOk(user, ['config', 'set', 'vscode.commit', COMMIT]);
    await aiboxOk(user, ['config', 'set', 'vscode.cliUrl', mirror.url('server/{commit}/vscode_cli_alpine_{arch}_cli.tar.gz')]);
    await aiboxOk(user, ['config', 'set', 'vscode.cliSha256', cliSha]);
    await aiboxOk(user, ['config', 'set', 'vscode.extensionUrl', mirror.url('vsix/{publisher}.{name}-{version}.vsix')]);
    await aiboxOk(user, ['config', 'set', 'vscode.extensions', join(user.home, 'extensions.txt')]);
  });
  after(async () => {
    await cleanup(user);
    if (image) host('podman', ['rmi', image]);
    await mirror.stop();
    await rm(user.home, { recursive: true, force: true });
  });

  it('a server archive whose sha256 differs fails the build with URL, both digests and the fix, and writes nothing', async () => {
    const wrong = sha256('not the archive');
    await aiboxOk(user, ['config', 'set', 'vscode.serverSha256', wrong]);
    const planned = (await planCurrentImage(await loadConfig(resolvePaths(user.env)))).tag;
    const result = await aibox(user, ['image', 'build']);
    assert.equal(result.code, 3, result.stderr);
    const url = mirror.url(`server/${COMMIT}/vscode-server-linux-${vscodeArch()}.tar.gz`);
    assert.ok(result.stderr.includes(`error: the VS Code server archive for ${COMMIT} at ${url} has sha256 ${serverSha}, expected ${wrong}; nothing was unpacked and no image was built\n`), result.stderr);
    assert.match(result.stderr, /hint: if the mirror serves the wrong file, fix the mirror; .* aibox config set vscode\.serverSha256 SHA256/);
    assert.equal(host('podman', ['image', 'exists', planned]).code, 1, 'no image was built');
    assert.deepEqual(await readdir(join(user.home, '.cache', 'aibox', 'vscode')), [], 'nothing kept in the download cache');
  });

  it('builds the image with the server and the curated extension from the mirror', async () => {
    await aiboxOk(user, ['config', 'set', 'vscode.serverSha256', serverSha]);
    mirror.requests = [];
    image = JSON.parse((await aiboxOk(user, ['image', 'build', '--json'])).stdout).image as string;
    assert.deepEqual(mirror.requests.sort(), [`/server/${COMMIT}/vscode-server-linux-${vscodeArch()}.tar.gz`, `/server/${COMMIT}/vscode_cli_alpine_${vscodeArch()}_cli.tar.gz`, `/vsix/${EXTENSION}.vsix`]);
    const listing = host('podman', ['run', '--rm', '--runtime', 'runc', '--ulimit', 'nofile=4096:4096', '--ulimit', 'nproc=8192:8192', '--user', '0', image, 'sh', '-c', `cat /opt/vscode-server/commit; stat -c '%U %a' /opt/vscode-server/${COMMIT}/server/bin/code-server; cat /opt/vscode-server/${COMMIT}/extensions/${EXTENSION}/installed-with; ls -A /home/dev`]);
    assert.equal(listing.code, 0, listing.stderr);
    const [commit, owner, installedWith] = listing.stdout.split('\n');
    assert.equal(commit, COMMIT);
    assert.equal(owner, 'root 755', 'root owns the server; dev can run it, not change it');
    assert.match(installedWith ?? '', new RegExp(`--extensions-dir /opt/vscode-server/${COMMIT}/extensions --install-extension \\S+/${EXTENSION}\\.vsix --telemetry-level off$`), "installed offline with the server's own CLI");
    assert.doesNotMatch(listing.stdout, /\.vscode-server/, 'nothing baked into /home/dev (a volume hides it)');
  });

  it('aibox start links the server into both layouts of the home volume, and the CLI, with the extension', async () => {
    const result = await aibox(user, ['start', '--port', String(await freePort())]);
    assert.equal(result.code, 0, result.stderr);
    assert.doesNotMatch(result.stderr, /VS Code/);
    const check = sshTo(user, `readlink ${home}/cli/servers/Stable-${COMMIT}/server ${home}/bin/${COMMIT} ${home}/code-${COMMIT}; ${home}/code-${COMMIT} --version; test -x ${home}/cli/servers/Stable-${COMMIT}/server/bin/code-server && test -x ${home}/bin/${COMMIT}/server.sh && echo runnable; ls ${home}/extensions; stat -c %U ${home}/extensions/${EXTENSION}/extension.vsix`);
    assert.equal(check.code, 0, check.stderr);
    assert.deepEqual(check.stdout.trim().split('\n'), [`/opt/vscode-server/${COMMIT}/server`, `/opt/vscode-server/${COMMIT}/server`, `/opt/vscode-server/${COMMIT}/cli/code`, `code 1.0.0 (commit ${COMMIT}) --version`, 'runnable', EXTENSION, 'dev']);
  });

  it('VS Code\'s way of starting the server runs it with no download, telemetry off last', () => {
    // What VS Code runs over SSH: the CLI layout's server (current clients), then the legacy one.
    const start = (entry: string) => `
      : > /tmp/vs.log
      ${entry} --start-server --host=127.0.0.1 --accept-server-license-terms --enable-remote-auto-shutdown --port=0 --telemetry-level all > /tmp/vs.log 2>&1 &
      pid=$!
      i=0; until grep -q 'listening on' /tmp/vs.log || [ $i -ge 100 ]; do sleep 0.2; i=$((i + 1)); done
      port=$(sed -n 's/.*listening on \\([0-9]*\\).*/\\1/p' /tmp/vs.log)
      curl -sS --noproxy '*' "http://127.0.0.1:$port/"
      kill $pid`;
    const result = sshTo(user, `${start(`${home}/cli/servers/Stable-${COMMIT}/server/bin/code-server`)}\n${start(`${home}/bin/${COMMIT}/server.sh`)}\ncat ~/fake-vscode-args.jsonl`);
    assert.equal(result.code, 0, result.stderr);
    const lines = result.stdout.trim().split('\n');
    assert.deepEqual(lines.slice(0, 2), [`fake VS Code server ${COMMIT}`, `fake VS Code server ${COMMIT}`]);
    const runs = lines.slice(2).map((line) => JSON.parse(line) as { script: string; args: string[] });
    assert.equal(runs.length, 2);
    for (const run of runs) {
      assert.equal(run.script, `/opt/vscode-server/${COMMIT}/server/fake-server.js`, 'the pre-installed server ran');
      assert.deepEqual(run.args.slice(-2), ['--telemetry-level', 'off'], 'aibox has the last word on telemetry');
    }
  });

  it('machine settings say telemetry off, and a user\'s own settings survive the next start', async () => {
    const file = `${home}/data/Machine/settings.json`;
    const first = sshTo(user, `cat ${file}`);
    assert.equal(first.code, 0, first.stderr);
    assert.deepEqual(JSON.parse(first.stdout), { 'telemetry.telemetryLevel': 'off' });
    const mine = '{\n  // my machine settings\n  "editor.fontSize": 15,\n  "telemetry.telemetryLevel": "all",\n  "files.autoSave": "afterDelay"\n}\n';
    assert.equal(host('ssh', ['-F', join(user.home, '.ssh', 'config'), user.name, `cat > ${file}`], mine).code, 0);
    await aiboxOk(user, ['stop']);
    await aiboxOk(user, ['start']);
    const after = sshTo(user, `cat ${file}`);
    assert.equal(after.stdout, mine.replace('"all"', '"off"'));
  });
});
