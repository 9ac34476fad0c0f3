import { isAbsolute, normalize } from 'node:path';
import { AiboxError } from '../core/errors.js';
import { HttpRegistry, type HttpRegistryOptions } from './oci-http.js';
import { LayoutRegistry } from './oci-layout.js';
import type { Registry } from './registry.js';

export type RegistryOptions = HttpRegistryOptions;

const REF_FORMS = 'host[:port][/path] (e.g. registry.example.com/packs), an absolute folder, or oci:/folder';

/**
 * The registry a reference names: an OCI layout folder for an absolute path or
 * `oci:PATH` / `oci-layout:PATH`, an OCI distribution registry for `host[:port][/path]`.
 */
export function openRegistry(ref: string, options: RegistryOptions): Registry {
  const layout = /^oci(?:-layout)?:(?!\/\/)(.*)$/.exec(ref);
  const path = layout ? (layout[1] ?? '') : ref.startsWith('/') ? ref : undefined;
  if (path !== undefined) {
    if (!isAbsolute(path)) throw new AiboxError('USAGE', `registry "${ref}": a layout folder must be an absolute path`, `write it as oci:/full/path, e.g. oci:${options.home}/packs`);
    return new LayoutRegistry(normalize(path).replace(/(.)\/+$/, '$1'));
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(ref)) {
    throw new AiboxError('USAGE', `registry "${ref}": aibox names a registry without a URL scheme`, `use ${REF_FORMS}; aibox speaks https, and plain http to loopback hosts`);
  }
  return new HttpRegistry(ref, options);
}
