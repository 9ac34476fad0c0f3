import { createHash } from 'node:crypto';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { DEBIAN_SUITE, debianMirror } from '../config/package-sources.js';
import type { Config } from '../config/settings.js';
import type { Context } from '../core/context.js';
import { AiboxError } from '../core/errors.js';
import { readRegularFile } from '../core/files.js';
import { fetchVscode, planVscode, type VscodePlan } from '../ide/index.js';
import { Podman } from '../sandbox/podman.js';
import { readKeyring } from './keyring.js';
import { bundlePath, packageRoot } from './package-root.js';

const IMAGE_REPOSITORY = 'localhost/aibox';
const SYSTEM_REPOSITORY = 'localhost/aibox-system';

export interface ImagePlan {
  /** localhost/aibox:<hash of every input> */
  tag: string;
  inputsHash: string;
  /**
   * localhost/aibox-system:<hash of every input but aibox itself>: the image's `system`
   * stage (Debian, users, shells, CA, env files) without /opt/aibox. Tool pack recipes
   * build FROM it, so their cached layers survive a new aibox bundle.
   */
  systemTag: string;
  /** The FROM image: the org's, or a local debootstrap import. */
  base: string;
  debootstrap: boolean;
  mirror: string;
  /** The keyring debootstrap checks the mirror with (setting image.keyring). */
  keyring: string;
  caBundle: string;
  /** The running aibox bundle, installed in the image as /opt/aibox/lib/aibox.mjs. */
  bundle: string;
  contextDir: string;
  /** The VS Code server (and curated extensions) to pre-install; undefined: none (vscode.serverUrl empty). */
  vscode: VscodePlan | undefined;
}

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name))
    .sort();
}

/** Debian sources for apt inside the image, from the configured mirror. */
function aptSources(mirror: string): string {
  const base = mirror.replace(/\/+$/, '');
  const stanza = (uri: string, suites: string) =>
    `Types: deb\nURIs: ${uri}\nSuites: ${suites}\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n`;
  return `${stanza(base, `${DEBIAN_SUITE} ${DEBIAN_SUITE}-updates`)}\n${stanza(`${base}-security`, `${DEBIAN_SUITE}-security`)}`;
}

/** The setting image.mirror, or when empty the mirror this machine's apt uses for bookworm. */
export async function resolveMirror(config: Config, aptDir?: string): Promise<string> {
  const mirror = config['image.mirror'] || (await debianMirror(DEBIAN_SUITE, aptDir));
  // apt's source may be a cdrom: or mirror+file: URI that neither debootstrap nor the image can use.
  if (!mirror || !/^https?:\/\//.test(mirror)) {
    throw new AiboxError('MISSING_PREREQ', `no Debian mirror: setting image.mirror is empty and apt has no http(s) source for ${DEBIAN_SUITE}`, 'aibox config set image.mirror http://mirror.example.com/debian');
  }
  return mirror;
}

/** The debootstrap base is named by what it trusts: the mirror and the keyring's content. */
async function rootfsHash(mirror: string, keyring: string): Promise<string> {
  return createHash('sha256').update(`${mirror}\0`).update(await readKeyring(keyring)).digest('hex').slice(0, 8);
}

export async function planImage(config: Config, root: string, bundle: string): Promise<ImagePlan> {
  const contextDir = join(root, 'images', 'base');
  const mirror = await resolveMirror(config);
  const keyring = config['image.keyring'];
  const caBundle = config['image.caBundle'];
  const debootstrap = config['image.from'] === '';
  const base = debootstrap ? `localhost/aibox-rootfs:${DEBIAN_SUITE}-${await rootfsHash(mirror, keyring)}` : config['image.from'];
  const hash = createHash('sha256');
  const add = (label: string, data: string | Buffer) => hash.update(`${label}\0`).update(data).update('\0');
  add('base', base);
  add('sources', aptSources(mirror));
  // client/ is aibox's own command, outside the system stage (like the bundle below).
  const files = (await listFiles(contextDir)).map((file) => relative(contextDir, file));
  for (const file of files.filter((name) => !name.startsWith('client/'))) add(file, await readFile(join(contextDir, file)));
  if (caBundle) {
    const ca = await readRegularFile(caBundle);
    if (ca === undefined) {
      throw new AiboxError('MISSING_PREREQ', `org CA bundle ${caBundle} (setting image.caBundle) does not exist`, 'aibox config set image.caBundle /path/to/ca-bundle.pem (or "" for none)');
    }
    if (!ca.includes('-----BEGIN CERTIFICATE-----')) {
      throw new AiboxError('INVALID_FILE', `org CA bundle ${caBundle} (setting image.caBundle) holds no PEM certificate`, 'point it to a PEM file with "-----BEGIN CERTIFICATE-----" blocks: aibox config set image.caBundle PATH');
    }
    add('ca', ca);
  }
  const systemTag = `${SYSTEM_REPOSITORY}:${hash.copy().digest('hex').slice(0, 16)}`;
  // After the system stage: a new VS Code pin does not void the tool packs' layer cache.
  const vscode = await planVscode(config, root);
  if (vscode) add('vscode', vscode.hashInput);
  for (const file of files.filter((name) => name.startsWith('client/'))) add(file, await readFile(join(contextDir, file)));
  add('node', `${process.version} ${process.arch}`);
  add('bundle', await readFile(bundle));
  const inputsHash = hash.digest('hex');
  return { tag: `${IMAGE_REPOSITORY}:${inputsHash.slice(0, 16)}`, inputsHash, systemTag, base, debootstrap, mirror, keyring, caBundle, bundle, contextDir, vscode };
}

/** The plan for the image of this aibox installation (its package and bundle). */
export function planCurrentImage(config: Config): Promise<ImagePlan> {
  return planImage(config, packageRoot(), bundlePath());
}

/** Builds the image unless one with the same inputs exists. Returns whether it built. */
export async function ensureImage(ctx: Context, plan: ImagePlan, force = false): Promise<boolean> {
  const podman = new Podman(ctx.run);
  if (!force && (await podman.imageExists(plan.tag)) && (await podman.imageExists(plan.systemTag))) return false;
  if (plan.debootstrap && !(await podman.imageExists(plan.base))) await importDebootstrap(ctx, plan);
  await buildFromContext(ctx, plan);
  return true;
}

async function importDebootstrap(ctx: Context, plan: ImagePlan): Promise<void> {
  if (process.getuid?.() !== 0) {
    throw new AiboxError('MISSING_PREREQ', 'building the base image with debootstrap needs root', 'run `aibox image build` as root once, or set an org base image: aibox config set image.from REGISTRY/IMAGE');
  }
  const dir = await mkdtemp(join(tmpdir(), 'aibox-rootfs-'));
  try {
    ctx.out.progress(`debootstrap ${DEBIAN_SUITE} from ${plan.mirror} (about 2 minutes, once)…`);
    let failure: string | undefined;
    const result = await ctx.run('debootstrap', ['--variant=minbase', `--keyring=${plan.keyring}`, '--force-check-gpg', DEBIAN_SUITE, dir, plan.mirror], {
      allowFailure: true,
      onLine: (line) => {
        // Warnings and errors must outlive the progress line that the next one overwrites.
        if (line.startsWith('W: ')) ctx.out.warn(`debootstrap: ${line.slice(3)}`);
        else if (line.startsWith('E: ')) failure ??= line.slice(3);
        else ctx.out.progress(`debootstrap: ${line}`);
      },
    });
    if (result.exitCode !== 0) {
      throw new AiboxError(
        'PROCESS_FAILED',
        `debootstrap of ${DEBIAN_SUITE} from ${plan.mirror} failed: ${failure ?? `exit code ${result.exitCode}`}`,
        `check the mirror (setting image.mirror) and that the keyring ${plan.keyring} (setting image.keyring) holds the key that signs it`,
      );
    }
    ctx.out.progress(`importing ${plan.base}…`);
    await ctx.run('sh', ['-c', 'tar -C "$1" -c . | podman import --quiet - "$2"', 'sh', dir, plan.base]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function buildFromContext(ctx: Context, plan: ImagePlan): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'aibox-image-'));
  try {
    await cp(plan.contextDir, work, { recursive: true });
    const context = join(work, 'context');
    await mkdir(join(context, 'apt', 'sources.list.d'), { recursive: true });
    await writeFile(join(context, 'apt', 'sources.list.d', 'debian.sources'), aptSources(plan.mirror));
    await writeFile(join(context, 'apt', 'sources.list'), '');
    await writeFile(join(context, 'org-ca.crt'), plan.caBundle ? await readFile(plan.caBundle) : '');
    // Checked (sha256) on the host before anything is unpacked; an empty folder when not configured.
    await mkdir(join(context, 'vscode'), { recursive: true });
    if (plan.vscode) await fetchVscode(plan.vscode, context, ctx.paths.cacheDir, (line) => ctx.out.progress(line));
    const aibox = join(context, 'aibox');
    await mkdir(join(aibox, 'bin'), { recursive: true });
    await mkdir(join(aibox, 'lib'), { recursive: true });
    await mkdir(join(aibox, 'node', 'bin'), { recursive: true });
    await cp(plan.bundle, join(aibox, 'lib', 'aibox.mjs'));
    await cp(process.execPath, join(aibox, 'node', 'bin', 'node'));
    // bin/aibox is the client (client/aibox.c), compiled in the build.
    // git runs git-remote-aibox for aibox::URL push URLs (see rootfs/etc/gitconfig).
    await writeFile(join(aibox, 'bin', 'git-remote-aibox'), '#!/bin/sh\nexec /opt/aibox/node/bin/node /opt/aibox/lib/aibox.mjs git-remote-aibox "$@"\n', { mode: 0o755 });

    ctx.out.progress(`building ${plan.tag} FROM ${plan.base}…`);
    // The system stage first, under its own tag; the full build then finds its layers cached.
    const build = (extra: string[]) =>
      ctx.run(
        'podman',
        [
          'build',
          // crun cannot run under this kind of host's hybrid cgroups; runc can.
          '--runtime', 'runc',
          '--ulimit', 'nofile=4096:4096',
          '--ulimit', 'nproc=8192:8192',
          '--build-arg', `BASE=${plan.base}`,
          // The bind-mounted vscode/ folder is not part of the layer cache's key; this is.
          '--build-arg', `VSCODE=${plan.vscode ? createHash('sha256').update(plan.vscode.hashInput).digest('hex') : 'none'}`,
          ...extra,
          '--file', join(work, 'Containerfile'),
          work,
        ],
        { onLine: (line) => (line.startsWith('STEP ') || line.startsWith('COMMIT') ? ctx.out.progress(line) : undefined) },
      );
    await build(['--target', 'system', '--tag', plan.systemTag]);
    await build(['--label', `dev.aibox.inputs=${plan.inputsHash}`, '--tag', plan.tag, '--tag', `${IMAGE_REPOSITORY}:latest`]);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
