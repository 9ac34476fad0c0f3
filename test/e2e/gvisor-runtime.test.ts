import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gvisorSetup } from '../../src/sandbox/runtime.js';
import { aibox, host, testUser } from '../helpers/cli.js';
import { installedRunsc, runscReleases, type Runsc } from '../helpers/runsc.js';

/**
 * The image under every gVisor release this host has or its apt sources offer (on
 * Debian bookworm: 20221219 from the distribution and 20240729 from backports), and
 * under runc, with aibox's own runsc flags and hardening: the read-only root behaves
 * like a kernel's, and each half of the gVisor shim is needed exactly where it acts.
 */
const IMAGE = 'localhost/aibox:latest';
const PROBE = resolve('test/fixtures/gvisor-probe.pl');
// Everything a developer does with the root file system, with its errors on stdout.
const CHECKS = 'ls -l / /etc /usr/bin /usr/lib 2>&1 >/dev/null; stat / /bin /lib64 /usr/bin/env 2>&1 >/dev/null; readlink /bin; ls -lL /bin/sh 2>&1 >/dev/null; find -L /bin /lib /usr/lib -maxdepth 1 2>&1 >/dev/null; cp -a /bin /tmp/bin-link 2>&1 && ls -l /tmp/bin-link 2>&1 >/dev/null; echo done';

function run(runtime: string, script: string): { code: number; stdout: string; stderr: string } {
  return host('podman', [
    'run', '--rm', '--runtime', runtime, '--network', 'none', '--read-only', '--read-only-tmpfs', '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges',
    '--user', '1000:1000', '--ulimit', 'nofile=4096:4096', '--ulimit', 'nproc=8192:8192', '--volume', `${PROBE}:/tmp/probe.pl:ro`, '--entrypoint', 'bash', IMAGE, '-c', script,
  ]);
}

describe('the read-only root under every gVisor release and runc', async () => {
  const work = await mkdtemp(join(tmpdir(), 'aibox-gvisor-'));
  let releases: Runsc[] = [];
  before(async () => {
    releases = await runscReleases();
  });
  after(() => rm(work, { recursive: true, force: true }));

  it('ls -l /, stat, symlinks and find -L print no error; the shim acts only where a release needs it', async (t) => {
    const probes: Record<string, string> = {};
    for (const runsc of releases) {
      const wrapper = join(work, `runsc-${runsc.release}`);
      await writeFile(wrapper, `#!/bin/sh\nexec ${runsc.path} ${gvisorSetup(runsc.release).flags.join(' ')} "$@"\n`, { mode: 0o755 });
      const checked = run(wrapper, `${CHECKS}; perl /tmp/probe.pl`);
      assert.equal(checked.code, 0, `gVisor ${runsc.release}: ${checked.stderr}`);
      const [errors, probe] = [checked.stdout.split('done\n')[0], checked.stdout.split('done\n')[1] ?? ''];
      assert.equal(errors, 'usr/bin\n', `gVisor ${runsc.release} printed errors:\n${errors}`);
      probes[runsc.release] = probe.trim();
      // Without the shim, each release fails the call its half mends (and only that one).
      if (runsc.release < 20240729) assert.match(probe, /^statx: Invalid argument$/m, `gVisor ${runsc.release}`);
      else assert.match(probe, /^statx: ok$/m, `gVisor ${runsc.release} needs no statx retry`);
      if (runsc.release === 20240729) assert.match(probe, /^lgetxattr: Bad file descriptor$/m, 'gVisor 20240729 fails lgetxattr on a symlink');
    }
    const kernel = run('runc', `${CHECKS}; perl /tmp/probe.pl`);
    assert.equal(kernel.code, 0, kernel.stderr);
    assert.equal(kernel.stdout, 'usr/bin\ndone\nstatx: ok\nlgetxattr: No data available\n', 'under runc nothing needs mending');
    t.diagnostic(`gVisor releases: ${releases.map((runsc) => `${runsc.release} (${runsc.path})`).join(', ')}; raw calls: ${JSON.stringify(probes)}`);
  });

  it('install-host-deps.sh gave this bookworm host the backports release, and doctor says so', { skip: !existsSync('/etc/apt/preferences.d/aibox-runsc') && 'the backports pin is not set up on this host (AIBOX_GVISOR_BACKPORTS=0, or not bookworm)' }, async () => {
    const installed = releases[releases.length - 1];
    assert.equal(installed?.path, installedRunsc().path, 'the newest release is the installed one');
    assert.ok(installed.release >= 20240729, `installed runsc: ${installed.release}`);
    const report = JSON.parse((await aibox(await testUser('gvisor'), ['doctor', '--json'])).stdout);
    assert.deepEqual(report.checks.find((check: { name: string }) => check.name === 'runtime'), { name: 'runtime', status: 'ok', detail: `gVisor ${installed.release} at ${installed.path}` });
  });
});
