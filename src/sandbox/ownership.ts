import { AiboxError } from '../core/errors.js';
import type { Instance } from './instance.js';
import type { ContainerInfo, Podman } from './podman.js';
import { LABEL_INSTANCE, type VolumeMount } from './spec.js';

/** The label every build cache carried when all sandboxes shared them (before caches were per instance). */
const LEGACY_SHARED_CACHE_LABEL = 'dev.aibox.cache';

/**
 * The instance's container, or undefined when there is none. aibox acts only on
 * what it made: a container with the name but without aibox's instance label is refused.
 */
export async function ownContainer(podman: Podman, instance: Instance): Promise<ContainerInfo | undefined> {
  return requireOwn(instance, await podman.inspectContainer(instance.name));
}

/** The instance's container as inspected, refused when aibox did not make it. */
export function requireOwn(instance: Instance, info: ContainerInfo | undefined): ContainerInfo | undefined {
  if (info && info.Config.Labels?.[LABEL_INSTANCE] !== instance.name) {
    throw new AiboxError(
      'CONFLICT',
      `container ${instance.name} was not made by aibox (it lacks the label ${LABEL_INSTANCE}=${instance.name}); aibox leaves it alone`,
      `use another sandbox name (--name NAME), or remove that container yourself if it is yours: podman rm ${instance.name}`,
    );
  }
  return info;
}

/** The volumes of the list that exist; refuses (before any change) a volume with the name that aibox did not make for this purpose. */
export async function existingOwnVolumes(podman: Podman, volumes: readonly VolumeMount[]): Promise<(VolumeMount & { mountpoint: string })[]> {
  const existing: (VolumeMount & { mountpoint: string })[] = [];
  for (const volume of volumes) {
    const found = await podman.inspectVolume(volume.name);
    if (!found) continue;
    const { labels, mountpoint } = found;
    const mismatch = Object.entries(volume.labels).find(([key, value]) => labels[key] !== value);
    if (mismatch) {
      const legacy = labels[LEGACY_SHARED_CACHE_LABEL] === 'true';
      throw new AiboxError(
        'CONFLICT',
        legacy
          ? `volume ${volume.name} is a build cache that every sandbox shared in an older aibox, so another sandbox may have planted files in it`
          : `volume ${volume.name} was not made by aibox for this use (it lacks the label ${mismatch[0]}=${mismatch[1]}); aibox leaves it alone`,
        legacy
          ? `remove it (builds fill it again): podman volume rm ${volume.name}; or let the org policy share it (caches.shared)`
          : `use another sandbox name (--name NAME), or remove that volume yourself if it is yours: podman volume rm ${volume.name}`,
      );
    }
    existing.push({ ...volume, mountpoint });
  }
  return existing;
}
