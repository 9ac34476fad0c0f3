// Regenerates docs/config.md from the settings table, docs/opa/glob_test.rego
// from the glob case table, the manifest field table of docs/packs.md and
// schemas/pack-manifest.schema.json from the pack manifest schema (build first: npm run build).
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { renderSettingsDoc } from '../build/src/config/store.js';
import { manifestJsonSchema } from '../build/src/packs/manifest.js';
import { withManifestFields } from '../build/src/packs/manifest-doc.js';
import { parseGlobCases, renderGlobTests } from '../build/src/policy/opa.js';

await writeFile(new URL('../docs/config.md', import.meta.url), renderSettingsDoc());
const cases = parseGlobCases(await readFile(new URL('../test/fixtures/glob-cases.json', import.meta.url), 'utf8'));
await writeFile(new URL('../docs/opa/glob_test.rego', import.meta.url), renderGlobTests(cases));
const packsDoc = new URL('../docs/packs.md', import.meta.url);
await writeFile(packsDoc, withManifestFields(await readFile(packsDoc, 'utf8')));
await mkdir(new URL('../schemas/', import.meta.url), { recursive: true });
await writeFile(new URL('../schemas/pack-manifest.schema.json', import.meta.url), manifestJsonSchema());
