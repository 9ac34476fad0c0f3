/**
 * docs/packs.md, run as a reader would run it, so the guide cannot drift from aibox.
 *
 * Conventions of the guide (test/unit/packs-docs.test.ts checks the marks):
 * - Every shell block is marked ```sh title="tested"; this test runs them in document
 *   order, each with `bash -e -o pipefail`, in one working folder. A `cd` carries over
 *   to the next block, as in a terminal; variables do not.
 * - `exit=N` in the info string: the block must fail with exit code N.
 * - A ```text title="output" block right after a shell block: each of its lines
 *   must appear in what that block printed (stdout and stderr).
 * - Placeholder: `registry.example.com` in a shell block stands for the test's
 *   registry, a real docker-registry on 127.0.0.1 that wants a login (user
 *   `publisher`, password in $REGISTRY_PASSWORD).
 * - The environment: a fresh HOME (ssh.port set to a free port), AIBOX_INSTANCE,
 *   `aibox` on PATH (dist/aibox.mjs), COSIGN_PASSWORD (read by keygen and signing,
 *   as cosign reads it), and for podman's own login to a plain-http loopback registry
 *   CONTAINERS_REGISTRIES_CONF (that registry marked insecure) and REGISTRY_AUTH_FILE
 *   (a file in HOME, which aibox reads first too).
 * - The guide writes the org policy /etc/aibox/policy.yaml (as root); the test puts
 *   the machine's own back afterwards. One sandbox, removed at the end.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { z } from 'zod';
import { HttpRegistry } from '../../src/packs/oci-http.js';
import { signatureTag } from '../../src/packs/signing.js';
import { ORG_POLICY_PATH } from '../../src/policy/load.js';
import { AIBOX, aibox, freePort, testUser, type TestUser } from '../helpers/cli.js';
import { runGuide } from '../helpers/doc-blocks.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';

const GUIDE = 'docs/packs.md';
const PLACEHOLDER = 'registry.example.com';
const BLOCK_TIMEOUT_MS = 10 * 60_000;

const descriptor = z.object({ mediaType: z.string(), annotations: z.record(z.string(), z.string()).default({}) });
const ociManifest = z.object({ mediaType: z.string(), artifactType: z.string().optional(), config: descriptor, layers: z.array(descriptor), annotations: z.record(z.string(), z.string()).default({}) });

describe(`${GUIDE}: every shell block, in order, against a real sandbox and registry`, { timeout: 30 * 60_000 }, () => {
  let user: TestUser;
  let registry: TestRegistry;
  let savedPolicy: string | undefined;
  let env: NodeJS.ProcessEnv;
  let work: string;
  const password = randomBytes(9).toString('base64url');

  before(async () => {
    savedPolicy = await readFile(ORG_POLICY_PATH, 'utf8').catch(() => undefined);
    user = await testUser('e2e-guide');
    registry = await startRegistry({ htpasswd: { user: 'publisher', password } });
    work = join(user.home, 'packs');
    const bin = join(user.home, 'bin');
    await mkdir(work);
    await mkdir(bin);
    await symlink(AIBOX, join(bin, 'aibox'));
    const registriesConf = join(user.home, 'registries.conf');
    await writeFile(registriesConf, `[[registry]]\nlocation = "${registry.ref}"\ninsecure = true\n`);
    env = {
      ...user.env,
      PATH: `${bin}:${process.env.PATH ?? ''}`,
      COSIGN_PASSWORD: randomBytes(9).toString('base64url'),
      REGISTRY_PASSWORD: password,
      CONTAINERS_REGISTRIES_CONF: registriesConf,
      REGISTRY_AUTH_FILE: join(user.home, 'auth.json'),
    };
    const port = await aibox(user, ['config', 'set', 'ssh.port', String(await freePort())]);
    assert.equal(port.code, 0, port.stderr);
  });

  after(async () => {
    await aibox(user, ['rm', '--volumes']);
    spawnSync('podman', ['rmi', 'localhost/aibox-pack-build/greet:0.1.0']); // what the Containerfile build left
    await rm(user.home, { recursive: true, force: true });
    await registry.stop();
    if (savedPolicy === undefined) await rm(ORG_POLICY_PATH, { force: true });
    else await writeFile(ORG_POLICY_PATH, savedPolicy);
  });

  it('runs as written', async (t) => {
    await runGuide(GUIDE, {
      work,
      env,
      cwdFile: join(user.home, '.guide-cwd'),
      rewrite: (text) => text.replaceAll(PLACEHOLDER, registry.ref),
      timeoutMs: BLOCK_TIMEOUT_MS,
      diagnostic: (message) => t.diagnostic(message),
    });
  });

  it('left in the registry the artifact that "The artifact format" describes', async () => {
    const doc = await readFile(GUIDE, 'utf8');
    const packs = new HttpRegistry(`${registry.ref}/aibox-packs`, { env, home: user.home });
    const fetched = await packs.getManifest('hello', '1.0.1');
    assert.ok(fetched, 'the guide published hello@1.0.1');
    const manifest = ociManifest.parse(JSON.parse(fetched.bytes.toString('utf8')));
    const [layer] = manifest.layers;
    assert.equal(manifest.layers.length, 1);
    const signature = await packs.getManifest('hello', signatureTag(fetched.digest));
    assert.ok(signature, `the signature tag ${signatureTag(fetched.digest)} exists`);
    const signatureLayers = ociManifest.parse(JSON.parse(signature.bytes.toString('utf8'))).layers;
    const named = [manifest.mediaType, manifest.artifactType, manifest.config.mediaType, layer?.mediaType, ...Object.keys(layer?.annotations ?? {}), ...Object.keys(manifest.annotations)];
    named.push(...signatureLayers.flatMap((each) => [each.mediaType, ...Object.keys(each.annotations)]));
    for (const name of named) assert.ok(name && doc.includes(`\`${name}\``), `${GUIDE} names \`${name}\``);
    assert.deepEqual((await packs.listTags('hello')).filter((tag) => !tag.endsWith('.sig')).sort(), ['1', '1.0', '1.0.0', '1.0.1', 'latest']);
  });
});
