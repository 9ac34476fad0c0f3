import { z } from 'zod';
import { AiboxError } from '../core/errors.js';
import type { EffectivePolicy } from '../policy/effective.js';
import { compressionOf, MEDIA_TYPES } from './layer.js';
import type { PackLock } from './lockfile.js';
import { formatSpec, packManifestSchema, parsePackSpec, type PackManifest, type PackRequest } from './manifest.js';
import type { Descriptor, Registry } from './registry.js';
import { verifyPackSignature } from './signing.js';
import { exactVersions, newestMatching, satisfies } from './versions.js';

const descriptorSchema = z.object({
  mediaType: z.string(),
  digest: z.string().regex(/^sha256:[a-f0-9]{64}$/),
  size: z.number().int().nonnegative(),
  annotations: z.record(z.string(), z.string()).optional(),
});

const ociManifestSchema = z.object({
  schemaVersion: z.literal(2),
  artifactType: z.string().optional(),
  config: descriptorSchema,
  layers: z.array(descriptorSchema),
});

/** A pack version found in the registry, its signature verified. */
export interface ResolvedPack {
  name: string;
  version: string;
  /** registry/name:version, for messages and the signature's docker-reference. */
  reference: string;
  /** Digest of the OCI manifest (what the signature covers). */
  digest: string;
  manifest: PackManifest;
  layer: Descriptor;
  signedBy: string;
}

function parseJson<T extends z.ZodType>(schema: T, bytes: Buffer, what: string): z.infer<T> {
  let data: unknown;
  try {
    data = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new AiboxError('INVALID_FILE', `${what} is not JSON`, 'the registry holds something that is not an aibox pack; republish it');
  }
  const parsed = schema.safeParse(data);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new AiboxError('INVALID_FILE', `${what} is not a valid aibox pack: ${issue?.path.join('.') || 'top level'}: ${issue?.message}`, 'republish it with aibox pack publish');
  }
  return parsed.data;
}

/** The pack's reference as the signature names it. */
export function packReference(registry: Registry, name: string, version: string): string {
  return `${registry.location}/${name}:${version}`;
}

/**
 * Fetches one exact version: manifest, then its signature (verified against the
 * policy's trusted keys before anything else is read), then its pack manifest.
 */
export async function fetchPack(registry: Registry, policy: EffectivePolicy, name: string, version: string, expectedDigest?: string): Promise<ResolvedPack> {
  const reference = packReference(registry, name, version);
  const fetched = await registry.getManifest(name, expectedDigest ?? version);
  if (!fetched) throw new AiboxError('NOT_FOUND', `pack ${name}@${version} is not in ${registry.location}`, `see what is there: aibox list packs`);
  const signedBy = (await verifyPackSignature(registry, name, reference, fetched.digest, policy.trustedKeys.value)).keyName;
  const oci = parseJson(ociManifestSchema, fetched.bytes, `${reference} (manifest)`);
  if (oci.config.mediaType !== MEDIA_TYPES.config) {
    throw new AiboxError('INVALID_FILE', `${reference} is not an aibox pack (config media type ${oci.config.mediaType})`, `aibox packs have config ${MEDIA_TYPES.config}`);
  }
  const manifest = parseJson(packManifestSchema, await registry.getBlob(name, oci.config.digest), `${reference} (pack manifest)`);
  const [layer, ...extra] = oci.layers;
  if (!layer || extra.length > 0) throw new AiboxError('INVALID_FILE', `${reference} has ${oci.layers.length} layers; a pack has exactly one`, 'republish it with aibox pack publish');
  compressionOf(layer.mediaType);
  if (manifest.name !== name || manifest.version !== version) {
    throw new AiboxError('INVALID_FILE', `${reference} holds the pack ${manifest.name}@${manifest.version}`, 'the registry tag and the pack disagree: republish it');
  }
  if (manifest.security.checksum && manifest.security.checksum !== layer.digest) {
    throw new AiboxError('INVALID_FILE', `${reference}: its layer ${layer.digest} is not the one its manifest names (${manifest.security.checksum})`, 'republish it with aibox pack publish');
  }
  return { name, version, reference, digest: fetched.digest, manifest, layer, signedBy };
}

interface Wanted {
  request: PackRequest;
  /** Who asked: "the command line" or "angular@18.2.0". */
  by: string;
}

/**
 * Resolves the requested packs and their dependencies to exact, signed versions:
 * a locked version when it satisfies the request, else the newest that does.
 * Returns them dependencies first. `frozen` refuses anything the lock does not name.
 */
export async function resolvePacks(registry: Registry, policy: EffectivePolicy, requests: readonly PackRequest[], lock: PackLock, frozen: boolean): Promise<ResolvedPack[]> {
  const chosen = new Map<string, { pack: ResolvedPack; by: string; spec: string }>();
  const queue: Wanted[] = requests.map((request) => ({ request, by: 'the command line' }));
  for (let wanted = queue.shift(); wanted; wanted = queue.shift()) {
    const { request, by } = wanted;
    const spec = formatSpec(request);
    const existing = chosen.get(request.name);
    if (existing) {
      if (satisfies(existing.pack.version, request.version)) continue;
      throw new AiboxError('CONFLICT', `version conflict: ${by} needs ${spec}, but ${existing.by} needs ${existing.spec} (${existing.pack.version})`, 'ask for versions that agree, e.g. install the dependency explicitly');
    }
    const locked = lock.packs[request.name];
    let version: string | undefined;
    let digest: string | undefined;
    if (locked && satisfies(locked.version, request.version)) {
      ({ version, digest } = locked);
    } else if (frozen) {
      throw new AiboxError('CONFLICT', `${spec} is not in the lock file${locked ? ` (it locks ${request.name}@${locked.version})` : ''}, and --frozen forbids resolving anew`, 'install without --frozen to update the lock file');
    } else {
      const tags = await registry.listTags(request.name);
      version = newestMatching(tags, request.version);
      if (!version) {
        const available = exactVersions(tags).slice(0, 8);
        throw new AiboxError('NOT_FOUND', `no version of ${spec} in ${registry.location}${available.length ? ` (there: ${available.join(', ')})` : ''}`, available.length ? `install one of those, e.g. aibox install ${request.name}@${available[0]}` : 'publish it first: aibox pack publish DIR');
      }
    }
    const pack = await fetchPack(registry, policy, request.name, version, digest);
    chosen.set(request.name, { pack, by, spec });
    for (const dependency of pack.manifest.depends) {
      queue.push({ request: parsePackSpec(dependency), by: `${pack.name}@${pack.version}` });
    }
  }
  return installOrder([...chosen.values()].map((entry) => entry.pack));
}

/** Dependencies before the packs that need them; a loop in the depends lists is an error. */
function installOrder(packs: readonly ResolvedPack[]): ResolvedPack[] {
  const byName = new Map(packs.map((pack) => [pack.name, pack]));
  const ordered: ResolvedPack[] = [];
  const visit = (pack: ResolvedPack, path: readonly string[]) => {
    const label = `${pack.name}@${pack.version}`;
    if (path.includes(label)) {
      throw new AiboxError('CONFLICT', `dependency cycle: ${[...path.slice(path.indexOf(label)), label].join(' → ')}`, "the packs' depends lists form a loop; tell their maintainers");
    }
    if (ordered.includes(pack)) return;
    for (const dependency of pack.manifest.depends) {
      const found = byName.get(parsePackSpec(dependency).name);
      if (found) visit(found, [...path, label]);
    }
    ordered.push(pack);
  };
  packs.forEach((pack) => visit(pack, []));
  return ordered;
}
