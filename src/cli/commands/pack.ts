import { resolve } from 'node:path';
import type { Command } from 'commander';
import { loadConfig } from '../../config/store.js';
import { writeFileAtomic } from '../../core/files.js';
import { AiboxError } from '../../core/errors.js';
import { ensureImage, planCurrentImage } from '../../image/build.js';
import { buildPack, publishPack, signPack } from '../../packs/author.js';
import { generateKeyPair } from '../../packs/cosign-keys.js';
import { manifestJsonSchema, parsePackSpec } from '../../packs/manifest.js';
import { parseBuildArgs, recipeMirrors } from '../../packs/recipe-args.js';
import { openPackRegistry } from '../../packs/registry-config.js';
import { contextFor } from '../app.js';
import { keyPassword } from '../prompt.js';

export function registerPack(program: Command): void {
  const pack = program.command('pack').description('Author tool packs: keygen, build, sign, publish (docs/packs.md)');
  pack
    .command('keygen')
    .description('Create a cosign-compatible signing key pair: PREFIX.key (encrypted with $COSIGN_PASSWORD) and PREFIX.pub')
    .option('--output-prefix <prefix>', 'file name prefix', 'cosign')
    .action(async (options: { outputPrefix: string }, command: Command) => {
      const { ctx } = contextFor(command);
      const password = await keyPassword(ctx.env, 'Password for the new key: ');
      const pair = await generateKeyPair(password);
      const keyFile = resolve(ctx.cwd, `${options.outputPrefix}.key`);
      const pubFile = resolve(ctx.cwd, `${options.outputPrefix}.pub`);
      await writeFileAtomic(keyFile, pair.privatePem, 0o600);
      await writeFileAtomic(pubFile, pair.publicPem, 0o644);
      ctx.out.result({ privateKey: keyFile, publicKey: pubFile }, `Private key: ${keyFile}\nPublic key:  ${pubFile} (add it to packs.trusted_keys of the policy)`);
    });
  pack
    .command('build')
    .description('Validate DIR/manifest.yaml and build the pack layer from DIR/Containerfile or DIR/files into DIR/.pack')
    .argument('<dir>', 'the pack folder')
    .option('--gzip', 'compress the layer with gzip instead of zstd')
    .option('--build-arg <KEY=VALUE>', "a build argument for the recipe, e.g. GRADLE_MIRROR=https://repo.example.com/gradle (repeatable); BASE, NPM_REGISTRY and DEBIAN_MIRROR come from this machine's image, npm and apt configuration", (value: string, previous: string[]) => [...previous, value], [])
    .action(async (dir: string, options: { gzip?: boolean; buildArg: string[] }, command: Command) => {
      const { ctx } = contextFor(command);
      const buildArgs = parseBuildArgs(options.buildArg);
      const config = await loadConfig(ctx.paths);
      // Recipes build FROM the image's system stage (no aibox bundle), built here if missing.
      const baseImage = async () => {
        const plan = await planCurrentImage(config);
        await ensureImage(ctx, plan);
        return plan.systemTag;
      };
      const mirrors = await recipeMirrors(ctx.run, config);
      const { manifest, built } = await buildPack(ctx, resolve(ctx.cwd, dir), { baseImage, compression: options.gzip ? 'gzip' : 'zstd', mirrors, buildArgs });
      ctx.out.result({ name: manifest.name, version: manifest.version, layer: built.layer }, `Built ${manifest.name}@${manifest.version}: ${built.layer.digest} (${(built.layer.size / 1e6).toFixed(1)} MB)`);
    });
  pack
    .command('publish')
    .description('Publish a built pack (immutable version; moves MAJOR.MINOR, MAJOR and latest forward); --key also signs it')
    .argument('<dir>', 'the pack folder (built with aibox pack build)')
    .option('--registry <ref>', 'registry (registry.example.com/aibox-packs) or OCI layout folder; default setting packs.registry')
    .option('--key <file>', 'cosign private key to sign with')
    .action(async (dir: string, options: { registry?: string; key?: string }, command: Command) => {
      const { ctx } = contextFor(command);
      const registry = await openPackRegistry(ctx, await loadConfig(ctx.paths), options.registry);
      const signWith = options.key ? { keyFile: resolve(ctx.cwd, options.key), password: await keyPassword(ctx.env, 'Key password: ') } : undefined;
      const result = await publishPack(ctx, registry, resolve(ctx.cwd, dir), signWith);
      ctx.out.result(result, `Published ${result.reference} (${result.digest})\nTags: ${result.tags.join(', ')}${result.signed ? '\nSigned.' : `\nNot signed: aibox pack sign ${result.reference.split('/').pop()?.replace(':', '@')} --key KEY`}`);
    });
  pack
    .command('sign')
    .description('Sign a published pack version with a cosign key (stored as cosign stores signatures)')
    .argument('<pack>', 'NAME@VERSION')
    .requiredOption('--key <file>', 'cosign private key')
    .option('--registry <ref>', 'registry or OCI layout folder; default setting packs.registry')
    .action(async (spec: string, options: { key: string; registry?: string }, command: Command) => {
      const { ctx } = contextFor(command);
      const request = parsePackSpec(spec);
      if (!request.version || request.version.split('.').length !== 3) throw new AiboxError('USAGE', `sign needs an exact version, not "${spec}"`, 'e.g. aibox pack sign java@21.0.2 --key cosign.key');
      const registry = await openPackRegistry(ctx, await loadConfig(ctx.paths), options.registry);
      const result = await signPack(registry, request.name, request.version, resolve(ctx.cwd, options.key), await keyPassword(ctx.env, 'Key password: '));
      ctx.out.result(result, `Signed ${result.reference} (${result.digest})`);
    });
  pack
    .command('schema')
    .description('Print the JSON Schema of manifest.yaml (for editors)')
    .action(() => {
      process.stdout.write(manifestJsonSchema());
    });
}
