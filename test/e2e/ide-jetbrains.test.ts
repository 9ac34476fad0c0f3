/**
 * docs/jetbrains.md, run: every aibox command of the JetBrains Gateway quickstart against a
 * real gVisor sandbox with the jetbrains profile. What Gateway itself does over SSH is played by
 * the real OpenSSH clients Gateway relies on: ssh through the host entry `aibox setup` wrote,
 * and SFTP (Gateway uploads with it). The backend is a stand-in archive (a real IDE cannot be
 * downloaded here) with a bin/remote-dev-server.sh that records how it was called; it is
 * pre-provisioned with docs/jetbrains/provision-backend.sh, checksum refused first, then right.
 * JetBrains' folders (~/.cache, ~/.config, ~/.local/share/JetBrains) must be on the home volume
 * and survive `aibox stop`/`start` and re-creation (`aibox rm` without --volumes, `aibox start`).
 * Plain ssh, sftp and the jetbrains profile under runc: test/e2e/lifecycle.test.ts.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { aibox, aiboxOk, cleanup, freePort, host, testUser, volumeExists, type CliResult, type TestUser } from '../helpers/cli.js';

const PROVISION = resolve('docs/jetbrains/provision-backend.sh');
/** What Gateway and the IDE backend keep in the home folder (ANCHORS.md, JetBrains' docs). */
const JETBRAINS_DIRS = ['.cache/JetBrains', '.config/JetBrains', '.local/share/JetBrains'];
const BACKEND = 'fakeIU-243.1';

describe('JetBrains Gateway quickstart (docs/jetbrains.md): jetbrains profile, SSH host entry, SFTP, persistent backend', { timeout: 10 * 60_000 }, () => {
  let user: TestUser;
  let archive: string;
  let archiveSha256: string;

  const config = () => join(user.home, '.ssh', 'config');
  function ssh(command: string, input?: string): CliResult {
    const result = spawnSync('ssh', ['-F', config(), user.name, command], { input, encoding: 'utf8', timeout: 120_000 });
    return { code: result.status ?? 1, stdout: result.stdout ?? '', stderr: result.stderr ?? '' };
  }
  const sftp = (batch: string) => host('sftp', ['-q', '-F', config(), '-b', '-', user.name], batch);
  /** What Gateway and the backend left in the JetBrains folders: `path content` lines, sorted. */
  const jetbrainsFiles = () => ssh(`cd ~ && find ${JETBRAINS_DIRS.join(' ')} -type f -exec sh -c 'printf "%s %s\\n" "$1" "$(head -c 80 "$1" | tr "\\n" " ")"' sh {} \\; | sort`);

  before(async () => {
    user = await testUser('e2e-cs-jb');
    // A stand-in IDE archive as JetBrains ships one: a top folder with bin/remote-dev-server.sh.
    const top = join(user.home, 'archive', BACKEND);
    await mkdir(join(top, 'bin'), { recursive: true });
    await writeFile(join(top, 'bin', 'remote-dev-server.sh'), '#!/bin/sh\necho "$(basename "$(dirname "$(dirname "$0")")") $*" >> "$HOME/.cache/JetBrains/registered"\n', { mode: 0o755 });
    archive = join(user.home, `${BACKEND}.tar.gz`);
    const tar = host('tar', ['-czf', archive, '-C', join(user.home, 'archive'), BACKEND]);
    assert.equal(tar.code, 0, tar.stderr);
    archiveSha256 = createHash('sha256').update(await readFile(archive)).digest('hex');
  });

  after(async () => {
    await cleanup(user);
    await rm(user.home, { recursive: true, force: true });
  });

  it('aibox setup writes the host entry; aibox start --profile jetbrains starts a gVisor sandbox with that profile', async () => {
    const setup = await aiboxOk(user, ['setup']);
    assert.match(setup.stdout, new RegExp(`SSH config: Host ${user.name} in ${config().replace(/\./g, '\\.')}`));
    const entry = await readFile(config(), 'utf8');
    assert.match(entry, new RegExp(`^Host ${user.name}$`, 'm'), 'the host entry Gateway connects to');
    assert.match(entry, /^ {2}User dev$/m);

    const started = await aibox(user, ['start', '--profile', 'jetbrains', '--port', String(await freePort())]);
    assert.equal(started.code, 0, started.stderr);
    assert.match(started.stdout, new RegExp(`Created and started ${user.name} \\(gvisor, profile jetbrains`));
    const { status } = JSON.parse((await aiboxOk(user, ['status', '--json'])).stdout);
    assert.equal(status.profile, 'jetbrains');
    assert.equal(status.runtime, 'gvisor');
  });

  it('SFTP (as Gateway uses it) uploads into ~/.cache/JetBrains; the pre-provisioning script refuses a wrong checksum, then installs and registers the backend', async () => {
    assert.equal(ssh(`mkdir -p ${JETBRAINS_DIRS.map((dir) => `~/${dir}`).join(' ')}`).code, 0);
    const put = sftp(`put ${archive} .cache/JetBrains/${BACKEND}.tar.gz\nls .cache/JetBrains\n`);
    assert.equal(put.code, 0, put.stderr);
    assert.match(put.stdout, new RegExp(`${BACKEND}\\.tar\\.gz`));

    const url = `file:///home/dev/.cache/JetBrains/${BACKEND}.tar.gz`;
    const script = await readFile(PROVISION, 'utf8');
    const wrong = ssh(`sh -s -- ${url} sha256:${'0'.repeat(64)}`, script);
    assert.equal(wrong.code, 1, wrong.stdout);
    assert.match(wrong.stderr, /does not have the sha256 0{64}: nothing was installed/);
    assert.equal(ssh('ls -A ~/.cache/JetBrains/RemoteDev/dist').stdout, '', 'nothing left behind');

    const right = ssh(`sh -s -- ${url} ${archiveSha256}`, script);
    assert.equal(right.code, 0, right.stderr);
    assert.match(right.stdout, new RegExp(`installed ${BACKEND} in /home/dev/\\.cache/JetBrains/RemoteDev/dist`));
    assert.equal(ssh('cat ~/.cache/JetBrains/registered').stdout, `${BACKEND} registerBackendLocationForGateway\n`);
    const again = ssh(`sh -s -- ${url} ${archiveSha256}`, script);
    assert.match(again.stdout, /is already in/, 'a second run downloads nothing');

    // What the backend and Gateway write besides the backend: settings and plugins.
    assert.equal(ssh('echo "<application/>" > ~/.config/JetBrains/options.xml && echo plugin > ~/.local/share/JetBrains/plugin.txt').code, 0);
    const got = sftp('get .config/JetBrains/options.xml /dev/null\n');
    assert.equal(got.code, 0, got.stderr);
  });

  it("the JetBrains folders are on the home volume and survive aibox stop/start and re-creation (aibox rm, aibox start)", async () => {
    const before = jetbrainsFiles();
    assert.equal(before.code, 0, before.stderr);
    assert.match(before.stdout, new RegExp(`^\\.cache/JetBrains/RemoteDev/dist/${BACKEND}/bin/remote-dev-server\\.sh `, 'm'));
    assert.match(before.stdout, /^\.config\/JetBrains\/options\.xml <application\/>/m);
    assert.match(before.stdout, /^\.local\/share\/JetBrains\/plugin\.txt plugin/m);

    // On the host, in the home volume's own folder: not in the container's writable layer.
    const mountpoint = host('podman', ['volume', 'inspect', '--format', '{{.Mountpoint}}', `${user.name}-home`]).stdout.trim();
    assert.ok(mountpoint, 'the home volume exists');
    assert.equal(host('test', ['-x', join(mountpoint, '.cache/JetBrains/RemoteDev/dist', BACKEND, 'bin/remote-dev-server.sh')]).code, 0, 'the backend is in the home volume');

    await aiboxOk(user, ['stop']);
    await aiboxOk(user, ['start']);
    assert.equal(jetbrainsFiles().stdout, before.stdout, 'after stop/start');

    await aiboxOk(user, ['rm']);
    assert.ok(volumeExists(`${user.name}-home`), 'rm without --volumes keeps the home volume');
    const recreated = await aiboxOk(user, ['start']);
    assert.match(recreated.stdout, /Created and started .*profile jetbrains/, 'a re-created sandbox keeps the profile it was started with');
    assert.equal(jetbrainsFiles().stdout, before.stdout, 'after re-creation');
    const sftpAfter = sftp(`ls .cache/JetBrains/RemoteDev/dist\n`);
    assert.equal(sftpAfter.code, 0, sftpAfter.stderr);
    assert.match(sftpAfter.stdout, new RegExp(BACKEND));
  });
});
