import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { AiboxError } from '../../core/errors.js';
import { writeFileAtomic } from '../../core/files.js';

/**
 * The git URL each request is promoted on. The store's model records the
 * canonical repository (host/path), which names a repository but is not a URL
 * git can push to; the service keeps the URL the push came from beside it,
 * one JSON file written atomically (id -> URL).
 */
export interface RequestUrls {
  get(id: string): Promise<string | undefined>;
  set(id: string, url: string): Promise<void>;
}

const UrlFile = z.record(z.string(), z.string());

export function requestUrlsFile(path: string): RequestUrls {
  let queue: Promise<unknown> = Promise.resolve();
  const load = async (): Promise<Record<string, string>> => {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw error;
    }
    const parsed = UrlFile.safeParse(JSON.parse(text));
    if (!parsed.success) throw new AiboxError('INVALID_FILE', `${path}: not a map of request ids to URLs`, 'restore it from a backup, or delete it and re-register the pending requests');
    return parsed.data;
  };
  return {
    get: async (id) => (await load())[id],
    set(id, url) {
      // Writes are serialised so that two requests never lose each other's entry.
      const next = queue.then(async () => {
        const all = await load();
        all[id] = url;
        await writeFileAtomic(path, `${JSON.stringify(all, null, 2)}\n`);
      });
      queue = next.catch(() => undefined);
      return next;
    },
  };
}
