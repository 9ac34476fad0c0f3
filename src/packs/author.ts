import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import type { PackageSources } from '../config/package-sources.js';
import type { Context } from '../core/context.js';
import { AiboxError } from '../core/errors.js';
import { readRegularFile } from '../core/files.js';
import { createLayer, MEDIA_TYPES, type LayerCompression } from './layer.js';
import { MANIFEST_FILE, packManifestSchema, readPackManifest, type PackManifest } from './manifest.js';
import { unknownSettingRefs } from './pack-env.js';
import { sha256Digest, sha256File, type Registry } from './registry.js';
import { recipeBuildArgs } from './recipe-args.js';
import { packReference } from './resolve.js';
import { readPrivateKey } from './cosign-keys.js';
import { attachSignature, signPayload, simpleSigningPayload } from './signing.js';
import { floatingTags } from './versions.js';

/** What `aibox pack build DIR` leaves in DIR/.pack for `publish`. */
const BUILD_DIR = '.pack';

const builtSchema = z.object({ layer: z.object({ file: z.string(), digest: z.string(), size: z.number(), mediaType: z.string() }), config: z.string() }).strict();
type Built = z.infer<typeof builtSchema>;

export interface BuildOptions {
  /** The image a recipe builds FROM unless its manifest names one (install.base_image); built on demand. */
  baseImage: () => Promise<string>;
  compression?: LayerCompression;
  /** Where the recipe downloads from: passed as NPM_REGISTRY and DEBIAN_MIRROR. */
  mirrors?: PackageSources;
  /** More build arguments (other mirrors, e.g. GRADLE_MIRROR); they win over the mirrors. */
  buildArgs?: Record<string, string>;
}

/**
 * Builds a pack's layer: from DIR/Containerfile (run by podman; its
 * /opt/toolpacks/NAME becomes the layer) or from the prepared folder DIR/files.
 * Writes DIR/.pack/{layer.tar.zst, config.json, build.json}.
 */
export async function buildPack(ctx: Context, dir: string, options: BuildOptions): Promise<{ manifest: PackManifest; built: Built }> {
  const manifest = await readPackManifest(dir);
  const unknown = unknownSettingRefs(manifest.env.vars);
  if (unknown.length > 0) {
    throw new AiboxError('INVALID_FILE', `${join(dir, MANIFEST_FILE)}: env.vars refers to ${unknown.map((key) => `\${setting:${key}}`).join(', ')}, and there is no such setting`, 'the settings are listed by: aibox config list');
  }
  const compression = options.compression ?? 'zstd';
  const out = join(dir, BUILD_DIR);
  await mkdir(out, { recursive: true });
  const containerfile = join(dir, 'Containerfile');
  let contents = join(dir, 'files');
  let scratch: string | undefined;
  if (existsSync(containerfile)) {
    scratch = await mkdtemp(join(tmpdir(), 'aibox-pack-'));
    contents = join(scratch, 'contents');
    const buildArgs = recipeBuildArgs(manifest.install.base_image ?? (await options.baseImage()), options.mirrors ?? {}, options.buildArgs);
    await buildFromRecipe(ctx, dir, manifest, buildArgs, contents);
  } else if (!existsSync(contents)) {
    throw new AiboxError('NOT_FOUND', `${dir} has neither a Containerfile nor a files/ folder`, 'a pack is built from DIR/Containerfile (its /opt/toolpacks/NAME becomes the layer) or from the prepared folder DIR/files');
  }
  try {
    const layerFile = `layer.tar.${compression === 'zstd' ? 'zst' : 'gz'}`;
    ctx.out.progress(`packing ${manifest.name}@${manifest.version} (${compression})…`);
    await createLayer(ctx.run, contents, join(out, layerFile), compression);
    const { digest, size } = await sha256File(join(out, layerFile));
    const config = JSON.stringify({ ...manifest, security: { ...manifest.security, checksum: digest } });
    const built: Built = { layer: { file: layerFile, digest, size, mediaType: compression === 'zstd' ? MEDIA_TYPES.layerZstd : MEDIA_TYPES.layerGzip }, config };
    await writeFile(join(out, 'build.json'), `${JSON.stringify(built, null, 2)}\n`);
    return { manifest, built };
  } finally {
    if (scratch) await rm(scratch, { recursive: true, force: true });
  }
}

async function buildFromRecipe(ctx: Context, dir: string, manifest: PackManifest, buildArgs: readonly string[], contents: string): Promise<void> {
  const tag = `localhost/aibox-pack-build/${manifest.name}:${manifest.version}`;
  const container = `aibox-pack-build-${randomBytes(4).toString('hex')}`;
  ctx.out.progress(`building ${manifest.name}@${manifest.version} from its Containerfile…`);
  await ctx.run(
    'podman',
    ['build', '--runtime', 'runc', '--ulimit', 'nofile=4096:4096', '--ulimit', 'nproc=8192:8192', ...buildArgs, '--tag', tag, '--file', join(dir, 'Containerfile'), dir],
    { onLine: (line) => (line.startsWith('STEP ') ? ctx.out.progress(line) : undefined) },
  );
  await ctx.run('podman', ['create', '--name', container, tag, 'true']);
  try {
    await mkdir(contents, { recursive: true });
    await ctx.run('podman', ['cp', `${container}:/opt/toolpacks/${manifest.name}/.`, contents]);
  } catch (error) {
    throw new AiboxError('PROCESS_FAILED', `the recipe of ${manifest.name} left nothing at /opt/toolpacks/${manifest.name} in its image`, 'the Containerfile must install the tool into /opt/toolpacks/NAME', { cause: error });
  } finally {
    await ctx.run('podman', ['rm', '--force', container], { allowFailure: true });
  }
}

async function readKeyFile(path: string): Promise<string> {
  const text = await readRegularFile(path);
  if (text === undefined) throw new AiboxError('NOT_FOUND', `the cosign key ${path} does not exist`, 'make one with aibox pack keygen, or pass the right file to --key');
  return text;
}

async function readBuilt(dir: string): Promise<Built> {
  const path = join(dir, BUILD_DIR, 'build.json');
  const text = await readRegularFile(path);
  if (text === undefined) throw new AiboxError('NOT_FOUND', `${dir} is not built yet`, `build it first: aibox pack build ${dir}`);
  const parsed = builtSchema.safeParse(JSON.parse(text));
  if (!parsed.success) throw new AiboxError('INVALID_FILE', `${path} is corrupted`, `build again: aibox pack build ${dir}`);
  return parsed.data;
}

/**
 * Publishes a built pack: layer and config blobs, the OCI manifest under its
 * exact version (refused when that version exists: published versions are
 * immutable), then the floating tags MAJOR.MINOR, MAJOR and latest, each only
 * forward. Signs it when a key is given.
 */
export async function publishPack(ctx: Context, registry: Registry, dir: string, signWith?: { keyFile: string; password: string }): Promise<{ reference: string; digest: string; tags: string[]; signed: boolean }> {
  const manifest = await readPackManifest(dir);
  const built = await readBuilt(dir);
  const config = packManifestSchema.parse(JSON.parse(built.config));
  if (config.name !== manifest.name || config.version !== manifest.version) {
    throw new AiboxError('CONFLICT', `${dir}/${BUILD_DIR} holds a build of ${config.name}@${config.version}, not ${manifest.name}@${manifest.version}`, `build again: aibox pack build ${dir}`);
  }
  const { name, version } = manifest;
  const reference = packReference(registry, name, version);
  const key = signWith && (await readPrivateKey(await readKeyFile(signWith.keyFile), signWith.password, signWith.keyFile));
  if (await registry.getManifest(name, version)) {
    throw new AiboxError('CONFLICT', `${reference} is already published, and published versions are immutable`, `publish a new version: raise version in ${join(dir, 'manifest.yaml')}`);
  }
  const layerPath = join(dir, BUILD_DIR, built.layer.file);
  if ((await sha256File(layerPath)).digest !== built.layer.digest) throw new AiboxError('CONFLICT', `${layerPath} changed since it was built`, `build again: aibox pack build ${dir}`);
  const configBytes = Buffer.from(built.config);
  const configDigest = sha256Digest(configBytes);
  ctx.out.progress(`uploading ${name}@${version} (${(built.layer.size / 1e6).toFixed(1)} MB)…`);
  await registry.putBlob(name, built.layer.digest, { path: layerPath, size: built.layer.size });
  await registry.putBlob(name, configDigest, configBytes);
  const oci = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.manifest,
      artifactType: MEDIA_TYPES.artifact,
      config: { mediaType: MEDIA_TYPES.config, digest: configDigest, size: configBytes.length },
      layers: [{ mediaType: built.layer.mediaType, digest: built.layer.digest, size: built.layer.size, annotations: { 'org.opencontainers.image.title': `${name}-${version}.tar` } }],
      annotations: { 'org.opencontainers.image.version': version, 'org.opencontainers.image.description': manifest.description },
    }),
  );
  const existing = await registry.listTags(name);
  const digest = await registry.putManifest(name, version, oci, MEDIA_TYPES.manifest);
  const tags = floatingTags(version, existing);
  for (const tag of tags) await registry.putManifest(name, tag, oci, MEDIA_TYPES.manifest);
  if (key) await signPublished(registry, name, reference, digest, key);
  return { reference, digest, tags: [version, ...tags], signed: Boolean(key) };
}

async function signPublished(registry: Registry, name: string, reference: string, digest: string, key: Awaited<ReturnType<typeof readPrivateKey>>): Promise<void> {
  const payload = simpleSigningPayload(reference, digest);
  await attachSignature(registry, name, digest, payload, signPayload(payload, key));
}

/** Signs a published pack version (cosign-compatible: tag sha256-<digest>.sig). */
export async function signPack(registry: Registry, name: string, version: string, keyFile: string, password: string): Promise<{ reference: string; digest: string }> {
  const key = await readPrivateKey(await readKeyFile(keyFile), password, keyFile);
  const fetched = await registry.getManifest(name, version);
  const reference = packReference(registry, name, version);
  if (!fetched) throw new AiboxError('NOT_FOUND', `${reference} is not published`, 'publish it first: aibox pack publish DIR');
  await signPublished(registry, name, reference, fetched.digest, key);
  return { reference, digest: fetched.digest };
}
