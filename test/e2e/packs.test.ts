import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes, type KeyObject } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { readPrivateKey } from '../../src/packs/cosign-keys.js';
import { MEDIA_TYPES } from '../../src/packs/layer.js';
import { HttpRegistry } from '../../src/packs/oci-http.js';
import { sha256Digest } from '../../src/packs/registry.js';
import { packReference } from '../../src/packs/resolve.js';
import { attachSignature, signatureTag, signPayload, simpleSigningPayload } from '../../src/packs/signing.js';
import { AIBOX, aibox, cleanup, freePort, host, sshTo, testUser, type CliResult, type TestUser } from '../helpers/cli.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { tarball, type Entry } from '../helpers/tarball.js';

const ORG_POLICY = '/etc/aibox/policy.yaml';
const INSTALLED = '/opt/toolpacks/.aibox/installed.json';
/** Big enough that installing it takes a while (random data: zstd cannot shrink it), so a kill lands midway. */
const BIG_PACK_MB = 160;

interface PackDef {
  name: string;
  version: string;
  depends?: string[];
  requires?: string[];
  vars?: Record<string, string>;
  method?: 'script' | 'nix';
  /** MB of random data files, for a layer that takes a while to extract. */
  megabytes?: number;
  /** The key before() publishes it with (null: unsigned); `false`: the case about publishing it does that. */
  signer?: 'signer' | 'stranger' | null | false;
}

const PACKS: PackDef[] = [
  { name: 'hello', version: '1.0.0', requires: ['mirror.example.com:443'], vars: { HELLO_HOME: '$PACK_DIR', HELLO_SHARE: '$PACK_DIR/share' } },
  { name: 'boot-a', version: '1.0.0' },
  { name: 'boot-b', version: '1.0.0' },
  ...['1.0.0', '1.2.0', '2.0.0', '1.1.5'].map((version) => ({ name: 'tool', version, signer: false as const })),
  { name: 'unsigned', version: '1.0.0', signer: null },
  { name: 'stranger', version: '1.0.0', signer: 'stranger' },
  { name: 'tamper', version: '1.0.0' },
  { name: 'ondisk', version: '1.0.0', signer: false },
  { name: 'served', version: '1.0.0', signer: false },
  { name: 'big', version: '1.0.0', megabytes: BIG_PACK_MB },
  { name: 'conc-a', version: '1.0.0' },
  { name: 'conc-b', version: '1.0.0' },
  { name: 'base', version: '1.4.0' },
  { name: 'base', version: '2.0.0' },
  { name: 'app', version: '1.0.0', depends: ['base@1'] },
  { name: 'cyc-a', version: '1.0.0', depends: ['cyc-b'] },
  { name: 'cyc-b', version: '1.0.0', depends: ['cyc-a'] },
  { name: 'needs-net', version: '1.0.0', requires: ['api.example.com:443'] },
  { name: 'lockme', version: '1.0.0' },
  { name: 'lockme', version: '1.1.0', signer: false },
  { name: 'scripted', version: '1.0.0', method: 'script' },
  { name: 'nixy', version: '1.0.0', method: 'nix' },
];

const PASSWORD = 'e2e password';
const INSTALL_SCRIPT = '#!/bin/sh\nset -eu\necho "set up as uid $(id -u)" > "$PACK_DIR/setup.txt"\n';

/** Runs fn over items, `limit` at a time (2 cores: more only slows the sandbox starting alongside). */
async function eachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  await Promise.all(Array.from({ length: limit }, async () => {
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) await fn(item);
  }));
}

/** A gzip tar archive of the entries, exactly as given (aibox pack build would never write most of them). */
async function gzippedTarball(entries: readonly Entry[]): Promise<Buffer> {
  return gzipSync(await tarball(entries));
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function firstLine(result: CliResult): string {
  return result.stderr.split('\n')[0] ?? '';
}

function manifestOf(def: PackDef): object {
  const install = def.method === 'script' ? { method: 'script', script: 'install.sh' } : def.method === 'nix' ? { method: 'nix', packages: ['hello'] } : { method: 'docker-layer' };
  return {
    name: def.name,
    version: def.version,
    description: `e2e pack ${def.name}`,
    maintainer: 'platform@example.com',
    install,
    network: { requires: def.requires ?? [] },
    env: { path: ['bin'], vars: def.vars ?? {} },
    depends: def.depends ?? [],
  };
}

/** The host command servers (`aibox cli-server --socket …`) whose HOME is `home`. */
function hostServers(home: string): number[] {
  return readdirSync('/proc').filter((entry) => /^\d+$/.test(entry)).map(Number).filter((pid) => {
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      return argv.includes('cli-server') && argv.includes('--socket') && readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(`HOME=${home}`);
    } catch {
      return false; // gone meanwhile
    }
  });
}

describe('tool packs: publish, verify and install into a running gVisor sandbox', { timeout: 10 * 60_000 }, () => {
  let user: TestUser;
  let server: TestRegistry;
  let registry: HttpRegistry;
  let port: number;
  let savedOrgPolicy: string | undefined;
  let publicKey: string;
  let signingKey: KeyObject;
  let approvedScripts: string[] = [];
  /** What `aibox start --toolpacks` reported when case 2 re-created the sandbox (case 12 checks it). */
  let recreated: { packs: { name: string; outcome: string }[] } | undefined;

  const packDir = (name: string, version: string) => join(user.home, 'packs', `${name}-${version}`);
  const keyFile = (signer: string) => join(user.home, `${signer}.key`);

  /**
   * Other runs on this machine (benches, e2e files) rewrite the org policy too, so
   * ours is written again right before each command that reads it.
   */
  async function writeOrgPolicy(): Promise<void> {
    const policy = {
      version: 1,
      network: { egress: [{ host: 'mirror.example.com', ports: [443] }] },
      packs: { trusted_keys: [{ name: 'e2e', key: publicKey }], allowed: ['*'], approved_scripts: approvedScripts },
    };
    await mkdir('/etc/aibox', { recursive: true });
    await writeFile(ORG_POLICY, stringify(policy));
  }

  async function writePack(def: PackDef): Promise<void> {
    const dir = packDir(def.name, def.version);
    await mkdir(join(dir, 'files', 'bin'), { recursive: true });
    await writeFile(join(dir, 'manifest.yaml'), stringify(manifestOf(def)));
    await writeFile(join(dir, 'files', 'bin', def.name), `#!/bin/sh\necho "${def.name} ${def.version}"\n`, { mode: 0o755 });
    if (def.method === 'script') await writeFile(join(dir, 'files', 'install.sh'), INSTALL_SCRIPT, { mode: 0o755 });
    if (def.megabytes) {
      await mkdir(join(dir, 'files', 'data'));
      for (let i = 0; i < def.megabytes; i++) await writeFile(join(dir, 'files', 'data', `part-${i}`), randomBytes(1 << 20));
    }
    const built = await aibox(user, ['pack', 'build', dir]);
    assert.equal(built.code, 0, built.stderr);
  }

  /** `aibox pack publish` of a built pack folder, signed by `signer` (none: unsigned). */
  async function publish(dir: string, signer: string | null = 'signer', extra: string[] = []): Promise<{ digest: string; tags: string[] }> {
    const result = await aibox(user, ['pack', 'publish', dir, '--json', ...(signer ? ['--key', keyFile(signer)] : []), ...extra]);
    assert.equal(result.code, 0, result.stderr);
    return JSON.parse(result.stdout);
  }

  /** Publishes a hand-made gzip layer as a pack, signed by the trusted key: what aibox refuses is the archive, not the signature. */
  async function publishSigned(def: PackDef, layer: Buffer): Promise<void> {
    const layerDigest = sha256Digest(layer);
    const config = Buffer.from(JSON.stringify({ ...manifestOf(def), security: { checksum: layerDigest, signature: 'cosign' } }));
    await registry.putBlob(def.name, layerDigest, layer);
    await registry.putBlob(def.name, sha256Digest(config), config);
    const manifest = {
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.manifest,
      artifactType: MEDIA_TYPES.artifact,
      config: { mediaType: MEDIA_TYPES.config, digest: sha256Digest(config), size: config.length },
      layers: [{ mediaType: MEDIA_TYPES.layerGzip, digest: layerDigest, size: layer.length }],
    };
    const digest = await registry.putManifest(def.name, def.version, Buffer.from(JSON.stringify(manifest)), MEDIA_TYPES.manifest);
    const payload = simpleSigningPayload(packReference(registry, def.name, def.version), digest);
    await attachSignature(registry, def.name, digest, payload, signPayload(payload, signingKey));
  }

  async function install(args: string[], cwd?: string): Promise<CliResult & { json: { packs: { name: string; version: string; outcome: string; downloaded: boolean }[] } }> {
    await writeOrgPolicy();
    const result = await aibox(user, ['install', ...args, '--json'], { cwd });
    return { ...result, json: JSON.parse(result.stdout || '{}') };
  }

  /** The same bytes with the middle one inverted. */
  function flipByte(bytes: Buffer): Buffer {
    const at = bytes.length >> 1;
    bytes.writeUInt8(bytes.readUInt8(at) ^ 0xff, at);
    return bytes;
  }

  /** The toolpacks volume's folder on the host, where aibox installs. */
  function toolpacksDir(): string {
    return host('podman', ['volume', 'inspect', '--format', '{{.Mountpoint}}', `${user.name}-toolpacks`]).stdout.trim();
  }

  function ssh(command: string): string {
    const result = sshTo(user, command);
    assert.equal(result.code, 0, `${command}: ${result.stderr}`);
    return result.stdout;
  }

  /** Every path under /opt/toolpacks with its type, mode, size and mtime, and installed.json. */
  function sandboxSnapshot(): string {
    // The staging folder is aibox's scratch space (0700 folders dev cannot read); a refused layer may pass through it.
    return ssh(`find /opt/toolpacks -path /opt/toolpacks/.staging -prune -o -printf '%p %y %m %s %T@\\n' | sort; cat ${INSTALLED} 2>/dev/null || true`);
  }

  /** An install that must fail before anything reaches the sandbox. */
  async function assertRefused(args: string[], code: number, line: RegExp, cwd?: string): Promise<void> {
    const before = sandboxSnapshot();
    const result = await install(args, cwd);
    assert.equal(result.code, code, result.stderr);
    assert.match(firstLine(result), line);
    assert.deepEqual(sandboxSnapshot(), before, `${args.join(' ')}: nothing is written into the sandbox`);
  }

  before(async () => {
    user = await testUser('e2e-packs');
    user.env.COSIGN_PASSWORD = PASSWORD;
    server = await startRegistry();
    registry = new HttpRegistry(`${server.ref}/packs`, { env: {}, home: user.home });
    port = await freePort();
    savedOrgPolicy = existsSync(ORG_POLICY) ? await readFile(ORG_POLICY, 'utf8') : undefined;
    for (const signer of ['signer', 'stranger']) {
      const made = await aibox(user, ['pack', 'keygen', '--output-prefix', join(user.home, signer)]);
      assert.equal(made.code, 0, made.stderr);
    }
    publicKey = await readFile(join(user.home, 'signer.pub'), 'utf8');
    signingKey = await readPrivateKey(await readFile(keyFile('signer'), 'utf8'), PASSWORD, keyFile('signer'));
    await writeOrgPolicy();
    assert.equal((await aibox(user, ['config', 'set', 'packs.registry', `${server.ref}/packs`])).code, 0);

    const started = aibox(user, ['start', '--port', String(port)]);
    await eachLimited(PACKS, 2, writePack);
    await eachLimited(PACKS, 2, async ({ name, version, signer = 'signer' }) => {
      if (signer !== false) await publish(packDir(name, version), signer);
    });
    const start = await started;
    assert.equal(start.code, 0, start.stderr);
  });

  after(async () => {
    await cleanup(user);
    await rm(user.home, { recursive: true, force: true }); // the big pack's data, three times over
    await server.stop();
    if (savedOrgPolicy === undefined) await rm(ORG_POLICY, { force: true });
    else await writeFile(ORG_POLICY, savedOrgPolicy);
  });

  it('1. an installed pack runs at once over ssh in bash, zsh and a login shell, with its variables', async () => {
    const startedAt = () => host('podman', ['inspect', '--format', '{{.State.StartedAt}}', user.name]).stdout;
    const running = startedAt();
    const result = await install(['hello']);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(startedAt(), running, 'the sandbox was not restarted');
    assert.deepEqual(result.json.packs.map(({ name, version, outcome, downloaded }) => ({ name, version, outcome, downloaded })), [{ name: 'hello', version: '1.0.0', outcome: 'installed', downloaded: true }]);
    const expected = 'hello 1.0.0\n/opt/toolpacks/hello/1.0.0 /opt/toolpacks/hello/1.0.0/share\n';
    const show = 'hello; echo $HELLO_HOME $HELLO_SHARE';
    assert.equal(ssh(show), expected, 'the command bash that sshd runs');
    // A clean environment: each shell must find the packs through its own startup files.
    const clean = 'env -i HOME=/home/dev PATH=/usr/bin:/bin';
    assert.equal(ssh(`${clean} zsh -c '${show}'`), expected, 'zsh');
    assert.equal(ssh(`${clean} bash -lc '${show}'`), expected, 'a login bash');
  });

  it('2. packs survive stop/start and re-creation; installing again downloads nothing', async () => {
    for (const args of [['stop'], ['start', '--port', String(port)], ['rm']]) {
      const result = await aibox(user, args);
      assert.equal(result.code, 0, `${args.join(' ')}: ${result.stderr}`);
      if (args[0] === 'start') assert.equal(ssh('hello'), 'hello 1.0.0\n', 'after stop and start');
      if (args[0] === 'stop') {
        // What is installed is read on the host, from the packs volume: no sandbox needed to say so.
        const already = await install(['hello']);
        assert.equal(already.code, 0, already.stderr);
        assert.equal(already.json.packs[0]?.outcome, 'already-installed');
        // Installing needs the sandbox running; stopped, the error says so and nothing is written.
        const stopped = await install(['boot-a']);
        assert.equal(stopped.code, 7, stopped.stderr);
        assert.match(stopped.stderr, new RegExp(`error: ${user.name} is not running\nhint: start it: aibox start`));
        assert.ok(!(await readdir(toolpacksDir())).includes('boot-a'));
      }
    }
    await writeOrgPolicy();
    const start = await aibox(user, ['start', '--port', String(port), '--toolpacks', 'boot-a,boot-b', '--json']);
    assert.equal(start.code, 0, start.stderr);
    recreated = JSON.parse(start.stdout);
    assert.equal(ssh('hello'), 'hello 1.0.0\n', 'after rm and start');

    const blobs = join(user.home, '.cache', 'aibox', 'blobs');
    const mtimes = async () => Promise.all((await readdir(blobs, { recursive: true })).sort().map(async (file) => `${file} ${(await stat(join(blobs, file))).mtimeMs}`));
    const cached = await mtimes();
    const again = await install(['hello']);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(again.json.packs.map(({ name, outcome, downloaded }) => ({ name, outcome, downloaded })), [{ name: 'hello', outcome: 'already-installed', downloaded: false }]);
    assert.deepEqual(await mtimes(), cached, 'the host layer cache is not rewritten');
  });

  it('3. floating tags move only forward; tool@1 resolves to the newest 1.x; versions are immutable', async () => {
    const digests: Record<string, string> = {};
    for (const version of ['1.0.0', '1.2.0', '2.0.0', '1.1.5']) {
      const published = await publish(packDir('tool', version));
      digests[version] = published.digest;
      if (version === '1.1.5') assert.deepEqual(published.tags, ['1.1.5', '1.1'], 'an older version moves only its own MAJOR.MINOR');
    }
    for (const [tag, version = ''] of Object.entries({ '1': '1.2.0', '1.1': '1.1.5', '1.2': '1.2.0', '2': '2.0.0', latest: '2.0.0' })) {
      assert.equal((await registry.getManifest('tool', tag))?.digest, digests[version], `tag ${tag} is ${version}`);
    }
    const listed = await aibox(user, ['list', 'packs', '--json']);
    assert.equal(listed.code, 0, listed.stderr);
    assert.deepEqual(JSON.parse(listed.stdout).packs.find((each: { name: string }) => each.name === 'tool').versions, ['2.0.0', '1.2.0', '1.1.5', '1.0.0']);

    const result = await install(['tool@1']);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.json.packs[0]?.version, '1.2.0');
    assert.equal(ssh('tool'), 'tool 1.2.0\n');

    const again = await aibox(user, ['pack', 'publish', packDir('tool', '1.2.0'), '--key', keyFile('signer')]);
    assert.equal(again.code, 5, again.stderr);
    assert.match(firstLine(again), /^error: \S+\/packs\/tool:1\.2\.0 is already published, and published versions are immutable$/);
  });

  it('4. unsigned, foreign-signed and tampered packs are refused before anything is written', async () => {
    await assertRefused(['unsigned'], 8, /^error: pack \S+\/unsigned:1\.0\.0 is not signed \(no signature at sha256-[a-f0-9]{64}\.sig\)$/);
    await assertRefused(['stranger'], 8, /^error: pack \S+\/stranger:1\.0\.0 is signed, but by no key in packs\.trusted_keys$/);

    // In the registry: the pack manifest changed (a variable added) and pushed under the same tag.
    const signed = await registry.getManifest('tamper', '1.0.0');
    assert.ok(signed);
    const oci = JSON.parse(signed.bytes.toString('utf8'));
    const config = JSON.parse((await registry.getBlob('tamper', oci.config.digest)).toString('utf8'));
    const evilConfig = Buffer.from(JSON.stringify({ ...config, env: { ...config.env, vars: { LD_PRELOAD: '/home/dev/evil.so' } } }));
    await registry.putBlob('tamper', sha256Digest(evilConfig), evilConfig);
    const evil = Buffer.from(JSON.stringify({ ...oci, config: { ...oci.config, digest: sha256Digest(evilConfig), size: evilConfig.length } }));
    const evilDigest = await registry.putManifest('tamper', '1.0.0', evil, signed.mediaType);
    await assertRefused(['tamper'], 8, /^error: pack \S+\/tamper:1\.0\.0 is not signed/);
    const signature = await registry.getManifest('tamper', signatureTag(signed.digest));
    assert.ok(signature);
    await registry.putManifest('tamper', signatureTag(evilDigest), signature.bytes, signature.mediaType);
    await assertRefused(['tamper'], 8, new RegExp(`^error: pack \\S+/tamper:1\\.0\\.0: the signature is for a different manifest \\(${signed.digest}\\)$`));

    // In the registry's storage: a layer whose bytes changed after it was published (curl downloads it, the hash finds it).
    const served = await publish(packDir('served', '1.0.0'));
    const servedLayer: string = JSON.parse((await registry.getManifest('served', served.digest))?.bytes.toString('utf8') ?? '{}').layers[0].digest;
    const stored = await readFile(server.blobFile(servedLayer));
    flipByte(stored);
    await writeFile(server.blobFile(servedLayer), stored);
    await assertRefused(['served'], 3, new RegExp(`^error: registry ${server.ref}/packs: blob ${servedLayer} of served does not match its digest`));
    const cache = await readdir(join(user.home, '.cache', 'aibox', 'blobs', 'sha256')).catch(() => [] as string[]);
    assert.ok(!cache.some((file) => file.startsWith(servedLayer.slice('sha256:'.length))), `the host layer cache keeps nothing of it: ${cache.join(', ')}`);

    // On disk: an OCI layout registry whose layer, then manifest, was edited in place.
    const layout = join(user.home, 'layout');
    const published = await publish(packDir('ondisk', '1.0.0'), 'signer', ['--registry', layout]);
    const blob = (digest: string) => join(layout, 'ondisk', 'blobs', 'sha256', digest.slice('sha256:'.length));
    const manifest = JSON.parse(await readFile(blob(published.digest), 'utf8'));
    const layerDigest: string = manifest.layers[0].digest;
    assert.equal((await aibox(user, ['config', 'set', 'packs.registry', layout])).code, 0);
    try {
      const layer = await readFile(blob(layerDigest));
      await writeFile(blob(layerDigest), Buffer.concat([layer, Buffer.from('tampered')]));
      await assertRefused(['ondisk'], 3, new RegExp(`^error: registry ${layout}: blob ${layerDigest} of ondisk has over ${layer.length} bytes; expected ${layer.length}`));
      await writeFile(blob(layerDigest), flipByte(Buffer.from(layer))); // same size, other bytes: found by the hash, read alongside the decompression
      await assertRefused(['ondisk'], 3, new RegExp(`^error: registry ${layout}: blob ${layerDigest} of ondisk does not match its digest`));
      await writeFile(blob(layerDigest), layer);
      await writeFile(blob(published.digest), JSON.stringify({ ...manifest, annotations: { ...manifest.annotations, 'org.opencontainers.image.description': 'tampered' } }));
      await assertRefused(['ondisk'], 3, new RegExp(`^error: registry ${layout}: manifest ondisk:1\\.0\\.0 does not match its digest ${published.digest}`));
    } finally {
      await aibox(user, ['config', 'set', 'packs.registry', `${server.ref}/packs`]);
    }
  });

  it('5. archives with "..", absolute paths, escaping links, devices or setuid files are refused', async () => {
    const cases: [string, Entry, string][] = [
      ['bad-dotdot', [{ name: '../x', type: 'file', mode: 0o644 }, 'x\n'], '../x: a path with ".."'],
      ['bad-absolute', [{ name: '/etc/x', type: 'file', mode: 0o644 }, 'x\n'], '/etc/x: an absolute path'],
      ['bad-symlink', [{ name: './etc', type: 'symlink', linkname: '../../etc', mode: 0o777 }], './etc: a link to ../../etc, outside the pack'],
      ['bad-device', [{ name: './null', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666 }], './null: a character-device entry'],
      ['bad-setuid', [{ name: './bin/su', type: 'file', mode: 0o4755 }, 'x\n'], './bin/su: a setuid or setgid file'],
    ];
    for (const [name, entry] of cases) {
      await publishSigned({ name, version: '1.0.0' }, await gzippedTarball([[{ name: `./bin/${name}`, type: 'file', mode: 0o755 }, `#!/bin/sh\necho ${name}\n`], entry]));
    }
    for (const [name, , problem] of cases) {
      await assertRefused([name], 3, new RegExp(`^error: pack \\S+/${name}:1\\.0\\.0 is refused: its archive holds ${escapeRegExp(problem)}`));
    }
  });

  it('6. dev can neither change /opt/toolpacks nor an installed pack, not even through aibox', async () => {
    for (const command of ['touch /opt/toolpacks/planted', 'rm -f /opt/toolpacks/hello/1.0.0/bin/hello', 'touch /opt/toolpacks/hello/1.0.0/bin/planted', `rm -f ${INSTALLED}`]) {
      const result = sshTo(user, command);
      assert.notEqual(result.code, 0, command);
      assert.match(result.stderr, /Permission denied/, command);
    }
    assert.equal(ssh('hello'), 'hello 1.0.0\n');

    // Every ssh command runs dev's ~/.bashrc: here it makes installed.json look empty.
    const installed = ssh(`cat ${INSTALLED}`);
    const config = join(user.home, '.ssh', 'config');
    const forge = host('ssh', ['-F', config, user.name, 'cp ~/.bashrc ~/.bashrc.orig && cat - ~/.bashrc.orig > ~/.bashrc'], `cat() { echo '{"version":1,"packs":{}}'; }\n`);
    assert.equal(forge.code, 0, forge.stderr);
    try {
      const result = await install(['hello']);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.json.packs[0]?.outcome, 'already-installed');
    } finally {
      ssh('mv ~/.bashrc.orig ~/.bashrc');
    }
    assert.equal(ssh(`cat ${INSTALLED}`), installed, 'what aibox writes as root does not come from what dev showed it');
  });

  it('7. kill -9 in the middle of an install leaves a consistent sandbox; a retry succeeds', async () => {
    // Its own process group, so the kill reaches aibox and its children together; the installing process
    // itself, so not through the host's command server (that would only drop the caller: case 15).
    const child = spawn(process.execPath, [AIBOX, 'install', 'big', '--json'], { cwd: user.home, env: { ...user.env, AIBOX_NO_SERVER: '1' }, detached: true, stdio: 'ignore' });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
    const staging = join(toolpacksDir(), '.staging');
    for (let tries = 0; !(await readdir(staging).catch(() => [])).some((entry) => entry.startsWith('big-')); tries++) {
      assert.ok(tries < 6000, 'the extraction never started');
      await sleep(10);
    }
    await sleep(50);
    assert.ok(child.pid);
    process.kill(-child.pid, 'SIGKILL');
    assert.equal(await exited, 'SIGKILL', 'killed while it was still installing');

    const installed = JSON.parse(ssh(`cat ${INSTALLED}`));
    if (installed.packs.big) assert.equal(ssh('big'), 'big 1.0.0\n', 'listed only when complete');
    const retry = await install(['big']);
    assert.equal(retry.code, 0, retry.stderr);
    assert.deepEqual(retry.json.packs.map(({ outcome }) => outcome), ['installed']);
    assert.equal(ssh('big; ls /opt/toolpacks/.staging | wc -l; ls /opt/toolpacks/big/1.0.0/data | wc -l'), `big 1.0.0\n0\n${BIG_PACK_MB}\n`);
  });

  it('8. two installs at once both succeed and both are recorded', async () => {
    const results = await Promise.all([install(['conc-a']), install(['conc-b'])]);
    for (const result of results) assert.equal(result.code, 0, result.stderr);
    const installed = JSON.parse(ssh(`cat ${INSTALLED}`));
    assert.ok(installed.packs['conc-a'] && installed.packs['conc-b'], JSON.stringify(installed));
    assert.equal(ssh('conc-a; conc-b'), 'conc-a 1.0.0\nconc-b 1.0.0\n');
  });

  it('9. dependencies come first; a cycle and a version conflict are refused', async () => {
    const result = await install(['app']);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(result.json.packs.map(({ name, version, outcome }) => `${name}@${version} ${outcome}`), ['base@1.4.0 installed', 'app@1.0.0 installed']);
    assert.equal(ssh('base; app'), 'base 1.4.0\napp 1.0.0\n');
    await assertRefused(['cyc-a'], 5, /^error: dependency cycle: cyc-a@1\.0\.0 → cyc-b@1\.0\.0 → cyc-a@1\.0\.0$/);
    await assertRefused(['app', 'base@2'], 5, /^error: version conflict: app@1\.0\.0 needs base@1, but the command line needs base@2 \(2\.0\.0\)$/);
  });

  it('10. the policy refuses a pack that needs an endpoint it does not allow, or that it does not allow at all', async () => {
    await assertRefused(['needs-net'], 8, /^error: needs-net@1\.0\.0 needs api\.example\.com:443: egress to api\.example\.com:443 is denied: no network\.egress entry in \/etc\/aibox\/policy\.yaml allows it/);
    const project = join(user.home, 'restricted');
    await mkdir(join(project, '.aibox'), { recursive: true });
    await writeFile(join(project, '.aibox', 'policy.yaml'), stringify({ packs: { allowed: ['hello@*'] } }));
    await assertRefused(['tool@2'], 8, new RegExp(`^error: pack tool@2\\.0\\.0 is not allowed: no packs\\.allowed pattern in ${project}/\\.aibox/policy\\.yaml matches it`), project);
  });

  it('11. the lock file pins versions; --frozen keeps them and refuses what it does not name', async () => {
    const project = join(user.home, 'project');
    await mkdir(join(project, '.git'), { recursive: true });
    const first = await install(['lockme'], project);
    assert.equal(first.code, 0, first.stderr);
    const lockFile = join(project, '.aibox', 'packs.lock');
    const lock = JSON.parse(await readFile(lockFile, 'utf8'));
    const locked = lock.packs.lockme;
    assert.equal(locked.version, '1.0.0');
    assert.match(locked.digest, /^sha256:[a-f0-9]{64}$/);

    await publish(packDir('lockme', '1.1.0'));
    const frozen = await install(['--frozen', 'lockme'], project);
    assert.equal(frozen.code, 0, frozen.stderr);
    assert.equal(frozen.json.packs[0]?.version, '1.0.0');
    assert.deepEqual(JSON.parse(await readFile(lockFile, 'utf8')), lock);
    assert.equal(ssh('lockme'), 'lockme 1.0.0\n');

    const missing = await install(['--frozen', 'base'], project);
    assert.equal(missing.code, 5, missing.stderr);
    assert.match(firstLine(missing), /^error: base is not in the lock file, and --frozen forbids resolving anew$/);
  });

  it('12. start --toolpacks installed both packs; status lists packs; uninstall takes a tool off PATH', async () => {
    assert.deepEqual(recreated?.packs.map(({ name, outcome }) => `${name} ${outcome}`), ['boot-a installed', 'boot-b installed']);
    assert.equal(ssh('boot-a; boot-b'), 'boot-a 1.0.0\nboot-b 1.0.0\n');
    const status = async () => {
      const result = await aibox(user, ['status', '--json']);
      assert.equal(result.code, 0, result.stderr);
      return JSON.parse(result.stdout).status.packs.map((each: { name: string; version: string }) => `${each.name}@${each.version}`);
    };
    assert.ok((await status()).includes('boot-a@1.0.0'));
    const removed = await aibox(user, ['uninstall', 'boot-a', '--json']);
    assert.equal(removed.code, 0, removed.stderr);
    assert.deepEqual(JSON.parse(removed.stdout).removed, ['boot-a@1.0.0']);
    assert.equal(sshTo(user, 'command -v boot-a').code, 1, 'boot-a is off PATH');
    assert.ok(!ssh('ls /opt/toolpacks').split('\n').includes('boot-a'), 'and its folder is gone');
    const after = await status();
    assert.ok(!after.includes('boot-a@1.0.0') && after.includes('boot-b@1.0.0'), after.join(' '));
  });

  it('13. an install script runs only when the policy approves its sha256', async () => {
    const digest = `sha256:${createHash('sha256').update(INSTALL_SCRIPT).digest('hex')}`;
    await assertRefused(['scripted'], 8, new RegExp(`^error: the install script of scripted@1\\.0\\.0 \\(${digest}\\) is not approved`));
    approvedScripts = [digest];
    try {
      const result = await install(['scripted']);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(ssh('cat /opt/toolpacks/scripted/1.0.0/setup.txt'), 'set up as uid 0\n');

      // The approved script first, then an entry that extraction would put in its place: refused, nothing runs.
      const approved: Entry = [{ name: './install.sh', type: 'file', mode: 0o755 }, INSTALL_SCRIPT];
      const evil = '#!/bin/sh\ntouch "$PACK_DIR/pwned"\n';
      const shadows: [string, Entry[], string][] = [
        ['shadowed', [[{ name: 'install.sh', type: 'file', mode: 0o755 }, evil]], 'install.sh: a second entry for the same path'],
        ['linked', [[{ name: './again', type: 'symlink', linkname: '.', mode: 0o777 }], [{ name: './again/install.sh', type: 'file', mode: 0o755 }, evil]], './again/install.sh: a path through the link again (of the archive)'],
      ];
      for (const [name, entries, problem] of shadows) {
        await publishSigned({ name, version: '1.0.0', method: 'script' }, await gzippedTarball([approved, ...entries]));
        await assertRefused([name], 3, new RegExp(`^error: pack \\S+/${name}:1\\.0\\.0 is refused: its archive holds ${escapeRegExp(problem)}`));
      }
    } finally {
      approvedScripts = [];
    }
  });

  it('14. a nix pack is refused in one line: the image has no nix', async () => {
    await assertRefused(['nixy'], 4, /^error: nixy@1\.0\.0 installs with nix \(install\.method nix\), and this sandbox's image has no nix$/);
  });

  it('15. from the host, install and uninstall run in its command server (one per user, aibox and environment), in the caller\'s folder', async () => {
    const servers = hostServers(user.home);
    assert.equal(servers.length, 1, `the first install started one server for this environment: ${servers.join(', ')}`);
    // What the server wrote (its answers go through its socket): it ran the command, not the caller's Node.
    const written = () => Number(/^wchar: (\d+)$/m.exec(readFileSync(`/proc/${servers[0]}/io`, 'utf8'))?.[1]);
    const project = join(user.home, 'served');
    await mkdir(join(project, 'app'), { recursive: true });
    let before = written();
    const served = await install(['lockme@1.1.0', '--lock', '../my.lock'], join(project, 'app'));
    assert.equal(served.code, 0, served.stderr);
    assert.ok(written() > before + served.stdout.length, 'the server answered');
    assert.equal(JSON.parse(await readFile(join(project, 'my.lock'), 'utf8')).packs.lockme.version, '1.1.0', '--lock is relative to the caller\'s folder, not the server\'s');
    assert.equal(ssh('lockme'), 'lockme 1.1.0\n');

    before = written();
    const removed = await aibox(user, ['uninstall', 'lockme']);
    assert.equal(removed.code, 0, removed.stderr);
    assert.equal(removed.stdout, 'Removed lockme@1.1.0\n');
    assert.ok(written() > before, 'uninstall is served too');
    const missing = await aibox(user, ['uninstall', 'lockme']);
    assert.equal(missing.code, 7, 'exit codes come back through the socket');
    assert.match(missing.stderr, /^error: not installed in \S+: lockme\n/);

    before = written();
    await writeOrgPolicy();
    const bypassed = await aibox(user, ['install', 'lockme@1.0.0'], { env: { ...user.env, AIBOX_NO_SERVER: '1' } });
    assert.equal(bypassed.code, 0, bypassed.stderr);
    assert.equal(written(), before, 'AIBOX_NO_SERVER=1: the caller\'s own Node installs');
    assert.deepEqual(hostServers(user.home), servers, 'and starts no server');
    assert.equal(ssh('lockme'), 'lockme 1.0.0\n');
  });
});
