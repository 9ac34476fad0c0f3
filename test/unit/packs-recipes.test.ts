/**
 * The CI check of the initial tool packs in packs/: each folder is a pack whose manifest
 * validates, whose recipe takes every download from a mirror build argument and checks a
 * pinned checksum right after it, names no public registry, and which has a README and a
 * smoke test. Building them for real is test/e2e/initial-packs.test.ts.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { DEBIAN_SUITE, packageSources } from '../../src/config/package-sources.js';
import { runProcess } from '../../src/core/runner.js';
import { readPackManifest } from '../../src/packs/manifest.js';
import { unknownSettingRefs } from '../../src/packs/pack-env.js';

const PACKS = 'packs';

/** Public package registries' hosts: recipes reach them only through an org's mirror. */
/** The registry hosts this machine is configured with (apt sources, npm): no pack file may name one. */
async function machineRegistryHosts(): Promise<string[]> {
  const sources = await packageSources(runProcess, DEBIAN_SUITE);
  return [sources.debianMirror, sources.npmRegistry].flatMap((url) => (url ? [new URL(url).hostname] : []));
}

/** Where a recipe may download from: the build arguments aibox pack build passes, or an org mirror's. */
const SOURCE_ARG = /^(NPM_REGISTRY|DEBIAN_MIRROR|[A-Z]+_MIRROR)$/;

async function packFolders(): Promise<string[]> {
  const entries = await readdir(PACKS, { withFileTypes: true });
  return entries.filter((entry) => entry.isDirectory()).map((entry) => entry.name).sort();
}

/** The Containerfile's instructions, continuation lines joined, comments dropped. */
function instructions(containerfile: string): string[] {
  const lines = containerfile.split('\n').filter((line) => !/^\s*#/.test(line));
  return lines.join('\n').replace(/\\\n/g, ' ').split('\n').map((line) => line.trim()).filter(Boolean);
}

/**
 * What is wrong with a recipe's downloads: every curl or wget writes a file (-o FILE) from
 * "${ARG}/…" where ARG is a mirror build argument guarded with ${ARG:?…}, and a later
 * `echo "<sha256 or sha512 hex>  FILE" | sha256sum/sha512sum -c -` in the same RUN checks it;
 * npm installs only from a lock file (npm ci), pip only with --require-hashes, apt from
 * another suite (and apt-get download) only exact versions; no URL is written into the recipe.
 */
function recipeProblems(containerfile: string): string[] {
  const problems: string[] = [];
  for (const instruction of instructions(containerfile)) {
    if (!instruction.startsWith('RUN ')) continue;
    const url = /\bhttps?:\/\/[^\s"']+/.exec(instruction);
    if (url) problems.push(`a URL written into the recipe: ${url[0]} (take it from a mirror build argument)`);
    const commands = instruction.slice(4).split(/;|&&|\|\|/).map((command) => command.trim());
    commands.forEach((command, index) => {
      if (/^(curl|wget)\b/.test(command)) {
        const file = /\s(?:-o|-O|--output|--output-document)[ =](\S+)/.exec(command)?.[1] ?? /\s-\w*o\s+(\S+)/.exec(command)?.[1];
        const source = /"\$\{([A-Z_]+)\}\//.exec(command)?.[1];
        if (!file) problems.push(`a download that is not written to a file: ${command}`);
        if (!source || !SOURCE_ARG.test(source)) problems.push(`a download not from a mirror build argument ("\${NAME_MIRROR}/…"): ${command}`);
        else if (!instruction.includes(`"\${${source}:?`)) problems.push(`${source} is used without a guard : "\${${source}:?message}"`);
        const checked = commands.slice(index + 1).some((later) => {
          const check = /^echo "([a-f0-9]+) {2}(\S+)" \| sha(256|512)sum -c -$/.exec(later);
          return check !== null && check[2] === file && check[1]?.length === (check[3] === '256' ? 64 : 128);
        });
        if (file && !checked) problems.push(`no pinned checksum check of ${file} after: ${command}`);
      }
      if (/(^|\s)(npm|npm-cli\.js)\s+(install|i|add)\b/.test(command)) problems.push(`npm install without a lock file (use npm ci): ${command}`);
      if (/\bpip3?\b.*\binstall\b|-m pip install/.test(command) && !command.includes('--require-hashes')) problems.push(`pip install without --require-hashes: ${command}`);
      const suite = /apt-get install .*-t (\S+) (.*)$/.exec(command) ?? /apt-get (download) (.*)$/.exec(command);
      if (suite) {
        const unpinned = (suite[2] ?? '').split(/\s+/).filter((word) => word && !word.startsWith('-') && !word.includes('='));
        if (unpinned.length > 0) problems.push(`packages from ${suite[1]} without an exact version: ${unpinned.join(', ')}`);
      }
    });
  }
  return problems;
}

describe('the initial tool packs (packs/)', async () => {
  const folders = await packFolders();

  it("are the seven packs of the plan (python@3.11 built here, 3.12 recipe-only), gradle (java@21's), the MCP packs' servers and code-server", () => {
    assert.deepEqual(folders, ['ai-tools', 'angular-18', 'bazel-7', 'code-server', 'gradle-8', 'java-21', 'mcp-filesystem', 'mcp-git', 'node-20', 'python-3.11', 'python-3.12', 'scala-3']);
  });

  for (const folder of folders) {
    const dir = join(PACKS, folder);
    describe(folder, () => {
      it('has a valid manifest named for its folder, whose settings exist', async () => {
        const manifest = await readPackManifest(dir);
        const suffix = folder.slice(manifest.name.length + 1);
        assert.ok(folder === manifest.name || (folder.startsWith(`${manifest.name}-`) && manifest.version.startsWith(`${suffix}.`)), `${folder} holds ${manifest.name}@${manifest.version}`);
        assert.deepEqual(unknownSettingRefs(manifest.env.vars), []);
        assert.equal(manifest.install.method, 'docker-layer');
      });

      it('has a recipe with only pinned downloads from mirrors', async () => {
        const containerfile = await readFile(join(dir, 'Containerfile'), 'utf8');
        assert.deepEqual(recipeProblems(containerfile), []);
        assert.match(containerfile, /^FROM \$\{BASE\}/m, 'the recipe builds FROM the aibox image (BASE)');
        assert.match(containerfile, new RegExp(`/opt/toolpacks/${(await readPackManifest(dir)).name}\\b`), 'the recipe fills /opt/toolpacks/NAME');
        if (containerfile.includes(' ci ')) assert.ok(existsSync(join(dir, 'package-lock.json')), 'npm ci needs the lock file beside the recipe');
      });

      it("names none of the machine's registry hosts in any file", async () => {
        const hosts = await machineRegistryHosts();
        for (const file of await readdir(dir, { recursive: true })) {
          if (file.startsWith('.pack') || !(await stat(join(dir, file))).isFile()) continue;
          const text = await readFile(join(dir, file), 'utf8');
          for (const host of hosts) assert.ok(!text.includes(host), `${join(dir, file)} names the registry host ${host}`);
        }
      });

      it('has a README saying what was built and tested, and a smoke test', async () => {
        const readme = await readFile(join(dir, 'README.md'), 'utf8');
        assert.match(readme, /^## Built and tested here$/m, `${dir}/README.md says what was built and tested here`);
        const smoke = join(dir, 'smoke.sh');
        assert.match(await readFile(smoke, 'utf8'), /^#!\/bin\/sh\n/);
        assert.ok(((await stat(smoke)).mode & 0o111) !== 0, `${smoke} is executable`);
        const syntax = spawnSync('sh', ['-n', smoke], { encoding: 'utf8' });
        assert.equal(syntax.status, 0, syntax.stderr);
      });
    });
  }
});

describe('the recipe check', () => {
  const guard = 'RUN set -eu; : "${NPM_REGISTRY:?x}"; ';
  const sha256 = 'a'.repeat(64);
  it('accepts a download from a mirror followed by its pinned checksum', () => {
    assert.deepEqual(recipeProblems(`FROM \${BASE}\n${guard}curl -fsSL -o a.tgz "\${NPM_REGISTRY}/a/-/a-1.0.0.tgz"; echo "${sha256}  a.tgz" | sha256sum -c -\n`), []);
  });
  it('refuses unchecked, piped, misnamed, hard-coded, unguarded and unlocked downloads', () => {
    const cases: [string, RegExp][] = [
      [`${guard}curl -fsSL -o a.tgz "\${NPM_REGISTRY}/a.tgz"; tar -xzf a.tgz`, /no pinned checksum check of a\.tgz/],
      [`${guard}curl -fsSL -o a.tgz "\${NPM_REGISTRY}/a.tgz"; echo "${sha256}  b.tgz" | sha256sum -c -`, /no pinned checksum check of a\.tgz/],
      [`${guard}curl -fsSL -o a.tgz "\${NPM_REGISTRY}/a.tgz"; echo "${sha256}  a.tgz" | sha512sum -c -`, /no pinned checksum check/],
      [`${guard}curl -fsSL "\${NPM_REGISTRY}/a.tgz" | tar -xz`, /not written to a file/],
      ['RUN curl -fsSL -o a.tgz https://example.com/a.tgz', /a URL written into the recipe/],
      [`RUN curl -fsSL -o a.tgz "\${NPM_REGISTRY}/a.tgz"; echo "${sha256}  a.tgz" | sha256sum -c -`, /without a guard/],
      [`RUN curl -fsSL -o a.tgz "\${SOMEWHERE}/a.tgz"; echo "${sha256}  a.tgz" | sha256sum -c -`, /not from a mirror build argument/],
      ['RUN npm install left-pad', /npm install without a lock file/],
      ['RUN python3 -m pip install requests', /--require-hashes/],
      ['RUN apt-get install -y -t trixie maven', /without an exact version: maven/],
      ['RUN apt-get download openjdk-21-jdk-headless', /without an exact version: openjdk-21-jdk-headless/],
    ];
    for (const [recipe, problem] of cases) assert.match(recipeProblems(recipe).join('\n'), problem, recipe);
  });
});
