// Bundles the CLI: dist/aibox-cli.mjs, all of it in one file (also
// /opt/aibox/lib/aibox.mjs inside the sandbox image), and dist/aibox.mjs, the `aibox`
// command on the host: the launcher (src/cli/launcher.ts), a few KB that hand
// `aibox install` to the host's command server and import aibox-cli.mjs for the rest.
import { build } from 'esbuild';
import { chmod, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * zod's classic entry re-exports every locale (~390 KB, a fifth of the bundle, parsed
 * at every start); aibox's messages are English, so its locales module becomes `en` only.
 */
const englishOnlyZod = {
  name: 'english-only-zod',
  setup(pluginBuild) {
    pluginBuild.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) =>
      args.importer.includes('/node_modules/zod/') ? { path: args.importer, namespace: 'zod-locales' } : undefined);
    pluginBuild.onLoad({ filter: /.*/, namespace: 'zod-locales' }, (args) => ({
      contents: "export { default as en } from '../locales/en.js';",
      resolveDir: dirname(args.path),
      loader: 'js',
    }));
  },
};

const { version } = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8'));
await build({
  entryPoints: ['src/cli/main.ts'],
  outfile: 'dist/aibox-cli.mjs',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // jsonc-parser's default entry is a UMD build esbuild cannot follow; its ESM build bundles.
  mainFields: ['module', 'main'],
  // --liftoff-only: fetch's HTTP parser (undici's llhttp) is WebAssembly, which V8 recompiles
  // with TurboFan in the background, and a process waits for that at exit: ~0.1 s of every
  // command that used fetch (docs/performance.md). Liftoff's code is plenty for HTTP headers.
  banner: {
    js: "#!/usr/bin/env node\nimport { createRequire as __aiboxRequire } from 'node:module';\nimport { setFlagsFromString as __aiboxV8Flags } from 'node:v8';\n__aiboxV8Flags('--liftoff-only');\nconst require = __aiboxRequire(import.meta.url);",
  },
  define: { AIBOX_VERSION: JSON.stringify(version) },
  // Loaded from node_modules only by the approval service, on the host, when it sends mail (like better-sqlite3).
  external: ['nodemailer'],
  plugins: [englishOnlyZod],
  logLevel: 'warning',
});
await build({
  entryPoints: ['src/cli/launcher.ts'],
  outfile: 'dist/aibox.mjs',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  banner: { js: '#!/usr/bin/env node' },
  logLevel: 'warning',
});
await chmod('dist/aibox.mjs', 0o755);
