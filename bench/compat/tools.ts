/**
 * The tools the image lacks, brought in from the host (the sandbox's egress allows no package
 * source): Debian packages of the host's own package source (`apt-get download`, kept in the
 * user's cache folder so a rerun downloads nothing), unpacked with `dpkg-deb -x`, and a small
 * JVM made with `jlink` from the host's JDK 17, with the check's Java class compiled into it.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';

export const PACKAGES = [
  'strace', 'gdb', 'linux-perf', 'inotify-tools', 'libinotifytools0',
  // gdb's and perf's libraries that the image does not have
  'libbabeltrace1', 'libboost-regex1.74.0', 'libdebuginfod1', 'libdebuginfod-common', 'libdw1', 'libelf1',
  'libglib2.0-0', 'libicu72', 'libipt2', 'libmpfr6', 'libpython3.11', 'libreadline8', 'readline-common',
  'libsource-highlight4v5', 'libsource-highlight-common', 'libnuma1', 'libopencsd1', 'libslang2', 'libunwind8',
  // python (threads, sqlite3, the inotify drivers) and debugpy
  'python3.11-minimal', 'libpython3.11-minimal', 'libpython3.11-stdlib', 'libsqlite3-0',
  'python3-debugpy', 'python3-pydevd', 'python3-bytecode', 'python3-typing-extensions',
];

const JDK = '/usr/lib/jvm/java-17-openjdk-amd64';

const THREADS_JAVA = `public class Threads {
  public static void main(String[] args) throws Exception {
    int count = Integer.parseInt(args[0]);
    for (int i = 0; i < count; i++) {
      Thread t = new Thread(() -> { try { Thread.sleep(600_000); } catch (InterruptedException e) { } }, "worker-" + i);
      t.setDaemon(true);
      t.start();
    }
    System.out.println("ready");
    Thread.sleep(600_000);
  }
}
`;

function run(command: string, args: string[], cwd?: string): { code: number; output: string } {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', timeout: 300_000 });
  return { code: result.status ?? 1, output: `${result.stdout ?? ''}${result.stderr ?? ''}${result.error ? String(result.error) : ''}` };
}

function must(result: { code: number; output: string }, what: string): void {
  if (result.code !== 0) throw new Error(`${what} failed: ${result.output.trim().split('\n').slice(-3).join(' ')}`);
}

export function cacheDir(): string {
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'aibox', 'compat');
}

/** Downloads the packages not in the cache yet (refreshing the package lists once if needed). */
async function fetchDebs(debs: string): Promise<string[]> {
  await mkdir(debs, { recursive: true });
  const have = await readdir(debs);
  const missing = PACKAGES.filter((name) => !have.some((file) => file.startsWith(`${name}_`) && file.endsWith('.deb')));
  if (missing.length > 0) {
    let download = run('apt-get', ['download', '-q', ...missing], debs);
    if (download.code !== 0) {
      must(run('apt-get', ['update', '-q']), 'apt-get update');
      download = run('apt-get', ['download', '-q', ...missing], debs);
    }
    must(download, `apt-get download ${missing.join(' ')}`);
  }
  const files = await readdir(debs);
  return PACKAGES.map((name) => {
    const file = files.filter((one) => one.startsWith(`${name}_`) && one.endsWith('.deb')).sort().at(-1);
    if (!file) throw new Error(`no ${name} package in ${debs}`);
    return join(debs, file);
  });
}

/** The JVM for the JDWP check: java.base and the JDWP agent, made once and cached. */
function jre(cache: string): string {
  const out = join(cache, 'jre-17');
  if (!existsSync(join(out, 'bin', 'java'))) {
    if (!existsSync(join(JDK, 'bin', 'jlink'))) throw new Error(`no JDK 17 at ${JDK} (apt-get install openjdk-17-jdk-headless)`);
    must(run(join(JDK, 'bin', 'jlink'), ['--add-modules', 'java.base,jdk.jdwp.agent', '--strip-debug', '--no-man-pages', '--no-header-files', '--output', out]), 'jlink');
  }
  return out;
}

/** A folder to copy to /tmp/compat-tools in the sandbox: the unpacked packages, jre/ and java/. */
export async function prepareTools(work: string): Promise<string> {
  const cache = cacheDir();
  const root = join(work, 'tools');
  await mkdir(join(root, 'java'), { recursive: true });
  for (const deb of await fetchDebs(join(cache, 'debs'))) must(run('dpkg-deb', ['-x', deb, root]), `dpkg-deb -x ${deb}`);
  must(run('cp', ['-a', jre(cache), join(root, 'jre')]), 'copying the JVM');
  await writeFile(join(work, 'Threads.java'), THREADS_JAVA);
  must(run(join(JDK, 'bin', 'javac'), ['--release', '17', '-d', join(root, 'java'), join(work, 'Threads.java')]), 'javac');
  return root;
}
