// dist/aibox.mjs, the `aibox` command on the host: see launch().
import { fileURLToPath } from 'node:url';
import { launch } from './host-client.js';

await launch(fileURLToPath(new URL('./aibox-cli.mjs', import.meta.url)));
