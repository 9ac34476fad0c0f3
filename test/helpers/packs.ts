/**
 * The initial packs (packs/FOLDER), built from their recipes once per recipe content and
 * shared by every test file of a run (and the next run on the same machine): a build is
 * kept in $TMPDIR/aibox-test-packs/FOLDER-<hash of the recipe's files>. Podman also keeps
 * the recipes' layers (they build FROM the image's system stage), so a new aibox bundle
 * does not download anything again.
 */
import assert from 'node:assert/strict';
import { randomBytes, createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { cp, mkdir, readdir, readFile, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { aibox, type TestUser } from './cli.js';

const PACKS = resolve('packs');
const CACHE = join(tmpdir(), 'aibox-test-packs');

async function recipeHash(dir: string): Promise<string> {
  const hash = createHash('sha256');
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const files = entries.filter((entry) => entry.isFile() && !relative(dir, entry.parentPath).split('/').includes('.pack')).map((entry) => join(entry.parentPath, entry.name));
  for (const file of files.sort()) hash.update(`${relative(dir, file)}\0`).update(await readFile(file)).update('\0');
  return hash.digest('hex').slice(0, 16);
}

/** The folder of packs/FOLDER's build (its .pack/ holds the layer), built now if no earlier test did; ROOT holds FOLDER (e.g. a test fixture's). */
export async function builtPack(user: TestUser, folder: string, root = PACKS): Promise<string> {
  const dir = join(CACHE, `${folder}-${await recipeHash(join(root, folder))}`);
  if (existsSync(join(dir, '.pack', 'build.json'))) return dir;
  await mkdir(CACHE, { recursive: true });
  const scratch = `${dir}.tmp-${randomBytes(4).toString('hex')}`;
  await cp(join(root, folder), scratch, { recursive: true, filter: (source) => !relative(root, source).split('/').includes('.pack') });
  try {
    const result = await aibox(user, ['pack', 'build', scratch]);
    assert.equal(result.code, 0, `aibox pack build ${join(root, folder)}: ${result.stderr}`);
    await rename(scratch, dir).catch(async (error: NodeJS.ErrnoException) => {
      if (!existsSync(join(dir, '.pack', 'build.json'))) throw error; // another run finished first: keep its build
    });
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  return dir;
}

/** Builds (once) and publishes packs/FOLDER... to the user's registry (setting packs.registry), signed with KEY. */
export async function publishInitialPacks(user: TestUser, folders: readonly string[], key: string): Promise<void> {
  for (const folder of folders) {
    const dir = await builtPack(user, folder);
    const result = await aibox(user, ['pack', 'publish', dir, '--key', key]);
    assert.equal(result.code, 0, `aibox pack publish ${folder}: ${result.stderr}`);
  }
}
