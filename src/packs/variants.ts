import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Config } from '../config/settings.js';
import type { Context } from '../core/context.js';
import { AiboxError } from '../core/errors.js';
import { ensureImage, planCurrentImage } from '../image/build.js';
import type { EffectivePolicy } from '../policy/effective.js';
import { aiboxCommand, type Instance } from '../sandbox/instance.js';
import { Podman } from '../sandbox/podman.js';
import { LABEL_VARIANT_BASE } from '../sandbox/spec.js';
import { extractPack, packDenials, packStoreOf, recordPack, withInstallLock } from './install.js';
import { parsePackSpec } from './manifest.js';
import { openPackRegistry } from './registry-config.js';
import { resolvePacks } from './resolve.js';
import { cleanStaging, ensureCacheDirs, placePack, readInstalled, removePackDir, TOOLPACKS, writeInstalled, type Installed } from './sandbox-store.js';

/**
 * Pre-built images: the base image with tool packs baked into /opt/toolpacks, from
 * the same signed artifacts, checks and extraction as `aibox install`, recorded in
 * the same installed.json (source: image). A sandbox from a variant starts with
 * them; `aibox status` lists them beside installed ones.
 */
export const VARIANTS = {
  java: { tag: 'localhost/aibox-java:21-bookworm', packs: ['java@21'], hint: ['pom.xml', 'build.gradle', 'build.gradle.kts'] },
  node: { tag: 'localhost/aibox-node:20-bookworm', packs: ['node@20'], hint: ['package.json'] },
  full: { tag: 'localhost/aibox-full:bookworm', packs: ['java@21', 'gradle@8', 'node@20', 'python@3.12', 'bazel@7', 'scala@3', 'angular@18', 'ai-tools'], hint: [] },
} as const satisfies Record<string, { tag: string; packs: string[]; hint: string[] }>;

export type VariantName = keyof typeof VARIANTS;
const LABEL_VARIANT = 'dev.aibox.variant';
const LABEL_INPUTS = 'dev.aibox.variant.inputs';

export function parseVariant(value: string): VariantName {
  if (value in VARIANTS) return value as VariantName;
  throw new AiboxError('USAGE', `unknown image variant "${value}"`, `use one of: ${Object.keys(VARIANTS).join(', ')}`);
}

/** The tip for a sandbox made from the base image in a project folder that suggests a variant (pom.xml → java, package.json → node). */
export function variantTip(dir: string, instance: Pick<Instance, 'name'>): string | undefined {
  for (const [name, variant] of Object.entries(VARIANTS)) {
    const file = variant.hint.find((hint) => existsSync(join(dir, hint)));
    if (file) return `tip: this folder has ${file}; the ${name} image variant comes with ${variant.packs.join(', ')}: ${aiboxCommand(instance, 'rm')} && ${aiboxCommand(instance, `start --image ${name}`)} (volumes are kept)`;
  }
  return undefined;
}

export interface VariantBuild {
  variant: VariantName;
  image: string;
  built: boolean;
  packs: { name: string; version: string; digest: string }[];
}

/**
 * Builds (or finds up to date) a variant: resolves and verifies its packs against
 * the registry and the policy, extracts them through the same archive gate into a
 * build context, and builds `FROM` the current base image. Its label records the
 * base and the packs' digests, so a new base or a new pack version rebuilds it.
 */
export async function buildVariant(ctx: Context, config: Config, policy: EffectivePolicy, name: VariantName, force = false): Promise<VariantBuild> {
  const variant = VARIANTS[name];
  const podman = new Podman(ctx.run);
  const plan = await planCurrentImage(config);
  await ensureImage(ctx, plan);
  const registry = await openPackRegistry(ctx, config);
  ctx.out.progress(`resolving ${variant.packs.join(', ')}…`);
  const packs = await resolvePacks(registry, policy, variant.packs.map(parsePackSpec), { version: 1, packs: {} }, false);
  const denials = packs.flatMap((pack) => packDenials(policy, pack));
  if (denials.length > 0) throw new AiboxError('POLICY_DENIED', denials.join('; '), 'change the policy file named above, or ask its owner');
  const unbakeable = packs.filter((pack) => pack.manifest.install.method !== 'docker-layer');
  if (unbakeable.length > 0) {
    throw new AiboxError('USAGE', `${unbakeable.map((pack) => `${pack.name}@${pack.version}`).join(', ')} cannot be baked into an image: its install.method runs in a sandbox`, 'install it at run time instead: aibox install');
  }
  const report = { variant: name, image: variant.tag, packs: packs.map(({ name: pack, version, digest }) => ({ name: pack, version, digest })) };
  const inputs = createHash('sha256').update(JSON.stringify({ base: plan.tag, packs: report.packs })).digest('hex').slice(0, 16);
  if (!force && (await podman.imageLabel(variant.tag, LABEL_INPUTS)) === inputs) return { ...report, built: false };

  await mkdir(ctx.paths.cacheDir, { recursive: true, mode: 0o700 });
  const context = await mkdtemp(join(ctx.paths.cacheDir, 'variant-'));
  try {
    const folder = { container: variant.tag, dir: join(context, 'toolpacks') };
    await mkdir(folder.dir, { mode: 0o755 });
    const installed: Installed = { version: 1, packs: {} };
    for (const pack of packs) {
      ctx.out.progress(`baking ${pack.name}@${pack.version} into ${variant.tag}…`);
      await placePack(folder, pack.name, pack.version, async (stage) => void (await extractPack(ctx, registry, pack, stage)));
      recordPack(installed, pack, registry.location, config, 'image');
    }
    await rm(join(folder.dir, '.staging'), { recursive: true, force: true });
    await writeInstalled(folder, installed);
    await writeFile(join(context, 'Containerfile'), `FROM ${plan.tag}\nCOPY toolpacks/ ${TOOLPACKS}/\n`);
    ctx.out.progress(`building ${variant.tag} FROM ${plan.tag}…`);
    const labels = { [LABEL_VARIANT]: name, [LABEL_INPUTS]: inputs, [LABEL_VARIANT_BASE]: plan.tag };
    await ctx.run('podman', ['build', '--quiet', ...Object.entries(labels).flatMap(([key, value]) => ['--label', `${key}=${value}`]), '--tag', variant.tag, '--file', join(context, 'Containerfile'), context]);
  } finally {
    await rm(context, { recursive: true, force: true });
  }
  return { ...report, built: true };
}

/**
 * Puts an image's baked packs into the sandbox's packs volume where they are
 * missing: an empty volume got them from the image already (podman copies an
 * image's folder into an empty volume), one that holds packs did not.
 * A pack installed at run time stays; an older baked one is replaced. Returns what it added.
 */
export async function adoptImagePacks(ctx: Context, instance: Instance, image: string): Promise<string[]> {
  const store = await packStoreOf(instance);
  const mounted = (await ctx.run('podman', ['image', 'mount', image])).stdout.trim();
  try {
    const baked = await readInstalled({ container: image, dir: join(mounted, TOOLPACKS) });
    return await withInstallLock(ctx, instance.name, async () => {
      const installed = await readInstalled(store);
      const adopt = Object.entries(baked.packs).filter(([name, pack]) => {
        const present = installed.packs[name];
        return !present || (present.source === 'image' && present.digest !== pack.digest);
      });
      if (adopt.length === 0) return [];
      await cleanStaging(store);
      for (const [name, pack] of adopt) {
        await placePack(store, name, pack.version, (stage) => ctx.run('cp', ['-a', '--', `${join(mounted, TOOLPACKS, name, pack.version)}/.`, stage]).then(() => undefined));
        const previous = installed.packs[name];
        installed.packs[name] = pack;
        if (previous && previous.version !== pack.version) await removePackDir(store, name, previous.version);
      }
      await writeInstalled(store, installed);
      await ensureCacheDirs(ctx.run, store, adopt.flatMap(([, pack]) => pack.caches.map((cache) => cache.path)));
      return adopt.map(([name, pack]) => `${name}@${pack.version}`);
    });
  } finally {
    await ctx.run('podman', ['image', 'unmount', image], { allowFailure: true });
  }
}
