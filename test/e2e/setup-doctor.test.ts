import assert from 'node:assert/strict';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { aibox, freePort, host, testUser, type TestUser } from '../helpers/cli.js';

const USER_CONFIG = 'Include ~/.ssh/config.d/*\r\nHost github.com\r\n  User git\r\n\r\nMatch host *.corp exec "true"\r\n  ProxyJump bastion\r\n# my comment, no trailing newline';

describe('aibox setup, doctor and policy on a real host', () => {
  let user: TestUser;
  let sshConfig: string;
  before(async () => {
    user = await testUser('e2e-setup');
    sshConfig = join(user.home, '.ssh', 'config');
    await mkdir(join(user.home, '.ssh'), { recursive: true });
    await writeFile(sshConfig, USER_CONFIG, { mode: 0o644 });
    assert.equal((await aibox(user, ['config', 'set', 'ssh.port', String(await freePort())])).code, 0);
  });

  it('setup names every missing host program and the one command that installs them', async () => {
    const result = await aibox(user, ['setup'], { env: { ...user.env, PATH: '/nonexistent' } });
    assert.equal(result.code, 4);
    assert.match(result.stderr, /^error: missing on this host: podman \(runs the sandbox\), runc .*, ssh .*, ssh-keygen .*, debootstrap \(builds the base image locally\), gpgv \(verifies the Debian mirror for debootstrap\)\n/);
    assert.match(result.stderr, /\nhint: install: sudo apt-get install -y podman runc openssh-client debootstrap gpgv\n$/);
  });

  it('setup --dry-run prints the diff and writes nothing', async () => {
    const result = await aibox(user, ['setup', '--dry-run']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, new RegExp(`^\\+Host ${user.name}\\r?$`, 'm'));
    assert.equal(await readFile(sshConfig, 'utf8'), USER_CONFIG);
  });

  it('setup writes keys and the managed block, keeping every byte of the user config', async () => {
    const result = await aibox(user, ['setup', '--json']);
    assert.equal(result.code, 0, result.stderr);
    const report = JSON.parse(result.stdout);
    assert.equal(report.sshConfig.changed, true);
    const text = await readFile(sshConfig, 'utf8');
    assert.ok(text.endsWith(USER_CONFIG));
    assert.match(text, /StrictHostKeyChecking yes\r\n/);
    assert.equal((await stat(sshConfig)).mode & 0o777, 0o600);
    const again = JSON.parse((await aibox(user, ['setup', '--json'])).stdout);
    assert.equal(again.sshConfig.changed, false, 'setup is idempotent');
  });

  it('doctor reports each check with what to do', async () => {
    const result = await aibox(user, ['doctor', '--json']);
    assert.equal(result.code, 0, result.stderr);
    const report = JSON.parse(result.stdout);
    const byName = Object.fromEntries(report.checks.map((check: { name: string }) => [check.name, check]));
    for (const name of ['podman', 'keys', 'ssh-config', 'port', 'disk', 'image', 'keyring', 'policy']) {
      assert.equal(byName[name]?.status, 'ok', `${name}: ${JSON.stringify(byName[name])}`);
    }
    const inotify = byName.inotify;
    const watches = Number((await readFile('/proc/sys/fs/inotify/max_user_watches', 'utf8')).trim());
    assert.equal(inotify.status, watches >= 524288 ? 'ok' : 'warn');
    if (inotify.status === 'warn') assert.match(inotify.fix, /sysctl -w fs.inotify.max_user_watches=524288/);
  });

  it('doctor fails with the fix when the key is readable by others', async () => {
    const key = join(user.home, '.local/share/aibox/instances', user.name, 'id_ed25519');
    await chmod(key, 0o644);
    const result = await aibox(user, ['doctor']);
    assert.equal(result.code, 4);
    assert.match(result.stdout, /FAIL\s+keys\s+.*mode 644/);
    assert.match(result.stderr, /hint: chmod 600 /);
    await chmod(key, 0o600);
  });

  it('setup refuses a config with malformed markers and leaves it untouched', async () => {
    const broken = `${await readFile(sshConfig, 'utf8')}\n# ------------ START AIBOX ${user.name} ------------\n`;
    await writeFile(sshConfig, broken);
    const result = await aibox(user, ['setup']);
    assert.equal(result.code, 5);
    assert.match(result.stderr, /^error: malformed aibox block in .*config: two blocks for/);
    assert.equal(await readFile(sshConfig, 'utf8'), broken);
  });

  it('builds the image FROM an org base image (image.from) instead of debootstrap', async () => {
    // The local debootstrap import stands in for an org registry image: podman resolves both alike.
    const base = host('podman', ['images', '--format', '{{.Repository}}:{{.Tag}}', '--filter', 'reference=localhost/aibox-rootfs']).stdout.split('\n')[0] ?? '';
    assert.ok(base, 'the base image built by the test run exists');
    assert.equal((await aibox(user, ['config', 'set', 'image.from', base])).code, 0);
    const result = await aibox(user, ['image', 'build', '--json']);
    assert.equal(result.code, 0, result.stderr);
    const report = JSON.parse(result.stdout);
    assert.equal(report.base, base);
    assert.equal(host('podman', ['image', 'inspect', '--format', '{{index .Labels "dev.aibox.inputs"}}', report.image]).stdout.trim().slice(0, 16), report.image.split(':')[1]);
    assert.equal((await aibox(user, ['config', 'set', 'image.from', ''])).code, 0);
  });

  it('policy check answers with the rule and the file, and exits 8 on deny', async () => {
    const review = await aibox(user, ['policy', 'check', 'git-push', 'git@github.com:acme/app.git', '--json']);
    assert.equal(review.code, 0);
    assert.deepEqual(JSON.parse(review.stdout).decision, {
      allowed: true,
      riskClass: 'review-required',
      rule: 'tools.git_push.default',
      origin: 'built-in default',
      explanation: 'git push to github.com/acme/app is review-required by tools.git_push.default in built-in default',
    });
    const deny = await aibox(user, ['policy', 'check', 'egress', 'evil.example.com:443']);
    assert.equal(deny.code, 8);
    assert.match(deny.stdout, /^deny: egress to evil.example.com:443 is denied/);
  });
});
