import { buffer } from 'node:stream/consumers';
import { pack, type Header } from 'tar-stream';

/** One archive entry: its header (name required) and, for a file, its content. */
export type Entry = [Partial<Header> & { name: string }, string?];

/** A tar archive (uncompressed) of these entries, in order: hostile ones included, for the archive checks. */
export async function tarball(entries: readonly Entry[]): Promise<Buffer> {
  const archive = pack();
  for (const [header, body] of entries) {
    if (body === undefined) archive.entry(header);
    else archive.entry(header, body);
  }
  archive.finalize();
  return buffer(archive);
}
