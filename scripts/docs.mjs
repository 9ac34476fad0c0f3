// Regenerates docs/config.md from the settings table and docs/opa/glob_test.rego
// from the glob case table (build first: npm run build).
import { readFile, writeFile } from 'node:fs/promises';
import { renderSettingsDoc } from '../build/src/config/store.js';
import { parseGlobCases, renderGlobTests } from '../build/src/policy/opa.js';

await writeFile(new URL('../docs/config.md', import.meta.url), renderSettingsDoc());
const cases = parseGlobCases(await readFile(new URL('../test/fixtures/glob-cases.json', import.meta.url), 'utf8'));
await writeFile(new URL('../docs/opa/glob_test.rego', import.meta.url), renderGlobTests(cases));
