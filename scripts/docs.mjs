// Regenerates docs/config.md from the settings table (build first: npm run build).
import { writeFile } from 'node:fs/promises';
import { renderSettingsDoc } from '../build/src/config/store.js';

await writeFile(new URL('../docs/config.md', import.meta.url), renderSettingsDoc());
