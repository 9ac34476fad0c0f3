import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { manifestJsonSchema } from '../../src/packs/manifest.js';
import { manifestFields, withManifestFields } from '../../src/packs/manifest-doc.js';
import { docBlocks, isOutput, isTested, SHELL_LANGS } from '../helpers/doc-blocks.js';

describe('docs/packs.md and schemas/pack-manifest.schema.json', () => {
  it('the manifest field table is generated from the manifest schema (run `npm run docs` after changing it)', async () => {
    const doc = await readFile('docs/packs.md', 'utf8');
    assert.equal(doc, withManifestFields(doc));
  });

  it('the JSON Schema for editors is the one `aibox pack schema` prints', async () => {
    assert.equal(await readFile('schemas/pack-manifest.schema.json', 'utf8'), manifestJsonSchema());
  });

  it('every manifest field has a meaning, and name and version are required strings with their format', () => {
    const fields = manifestFields();
    assert.deepEqual(fields.filter((field) => !field.description).map((field) => field.field), []);
    const version = fields.find((field) => field.field === 'version');
    assert.deepEqual([version?.required, version?.type], [true, 'string `^\\d+\\.\\d+\\.\\d+$`']);
    assert.ok(fields.some((field) => field.field === 'filesystem.caches[].path'));
  });

  it('every shell block of the guide is run by test/e2e/packs-guide.test.ts, and every output block follows one', async () => {
    const blocks = docBlocks(await readFile('docs/packs.md', 'utf8'));
    const untested = blocks.filter((block) => SHELL_LANGS.includes(block.lang) && !isTested(block));
    assert.deepEqual(untested.map((block) => `line ${block.line}`), [], 'mark each shell block ```sh title="tested" (and make it pass)');
    blocks.forEach((block, index) => {
      const previous = blocks[index - 1];
      if (isOutput(block)) assert.ok(previous && isTested(previous), `the output block at line ${block.line} follows no tested shell block`);
    });
    assert.ok(blocks.filter(isTested).length >= 10);
  });
});
