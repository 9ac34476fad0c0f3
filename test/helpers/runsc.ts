import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { runscRelease } from '../../src/sandbox/runtime.js';
import { host } from './cli.js';

/** Unpacked runsc releases, kept between runs. */
const CACHE = '/var/tmp/aibox-test-runsc';

export interface Runsc {
  release: number;
  path: string;
}

export function releaseOf(path: string): number {
  return runscRelease(execFileSync(path, ['--version'], { encoding: 'utf8' })) ?? Number.NaN;
}

/** The runsc on PATH (what aibox uses). */
export function installedRunsc(): Runsc {
  const path = execFileSync('sh', ['-c', 'command -v runsc'], { encoding: 'utf8' }).trim();
  return { release: releaseOf(path), path };
}

/**
 * The installed runsc, and every other release apt's sources offer (on Debian bookworm
 * with aibox's backports pin: 20221219 and 20240729), fetched with `apt-get download`
 * and unpacked under CACHE, oldest first.
 */
export async function runscReleases(): Promise<Runsc[]> {
  const found: Runsc[] = [installedRunsc()];
  const madison = host('apt-cache', ['madison', 'runsc']).stdout;
  const versions = new Set(madison.split('\n').map((line) => line.split('|')[1]?.trim()).filter((version): version is string => Boolean(version)));
  for (const version of versions) {
    const dir = join(CACHE, version.replace(/[^\w.+~-]/g, '_'));
    const path = join(dir, 'usr/bin/runsc');
    if (!existsSync(path)) {
      await mkdir(dir, { recursive: true });
      const fetched = host('sh', ['-c', `cd '${dir}' && apt-get download -q 'runsc=${version}' 2>&1 && dpkg -x runsc_*.deb . && rm runsc_*.deb`]);
      if (fetched.code !== 0) continue; // not fetchable here
    }
    const release = releaseOf(path);
    if (!found.some((runsc) => runsc.release === release)) found.push({ release, path });
  }
  return found.sort((a, b) => a.release - b.release);
}
