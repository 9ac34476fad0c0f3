import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { AiboxError } from '../../src/core/errors.js';
import { findCredentials, HttpRegistry } from '../../src/packs/oci-http.js';
import { LayoutRegistry } from '../../src/packs/oci-layout.js';
import { openRegistry } from '../../src/packs/registries.js';
import { sha256Digest } from '../../src/packs/registry.js';
import { failsWith as fails } from '../helpers/errors.js';

const MANIFEST_TYPE = 'application/vnd.oci.image.manifest.v1+json';

async function scratch(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'aibox-oci-'));
}

/** A manifest whose config is `config`, as a publisher would push it. */
function manifestOf(config: Buffer): Buffer {
  const descriptor = { mediaType: 'application/vnd.oci.empty.v1+json', digest: sha256Digest(config), size: config.length };
  return Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MANIFEST_TYPE, config: descriptor, layers: [] }));
}

async function authFile(path: string, host: string, user: string, password: string): Promise<void> {
  await mkdir(join(path, '..'), { recursive: true });
  await writeFile(path, JSON.stringify({ auths: { [host]: { auth: Buffer.from(`${user}:${password}`).toString('base64') } } }));
}

describe('OCI layout registry', () => {
  it('round trip: blobs, manifests and tags, read back verified', async () => {
    const root = await scratch();
    const registry = new LayoutRegistry(root);
    const config = Buffer.from('{"pack":"java"}');
    const layer = join(root, 'layer.tar');
    await writeFile(layer, 'layer bytes');
    const layerDigest = sha256Digest(Buffer.from('layer bytes'));
    await registry.putBlob('java', sha256Digest(config), config);
    await registry.putBlob('java', layerDigest, { path: layer, size: 11 });
    const manifest = manifestOf(config);
    const digest = await registry.putManifest('java', '17', manifest, MANIFEST_TYPE);
    await registry.putManifest('java', 'latest', manifest, MANIFEST_TYPE);

    assert.equal(digest, sha256Digest(manifest));
    assert.deepEqual(await registry.listRepositories(), ['java']);
    assert.deepEqual(await registry.listTags('java'), ['17', 'latest']);
    assert.deepEqual(await registry.getManifest('java', '17'), { bytes: manifest, digest, mediaType: MANIFEST_TYPE });
    assert.equal((await registry.getManifest('java', digest))?.digest, digest);
    assert.deepEqual(await registry.getBlob('java', sha256Digest(config)), config);
    assert.equal(await registry.hasBlob('java', layerDigest), true);
    const copy = join(await scratch(), 'layer');
    await registry.downloadBlob('java', layerDigest, 11, copy);
    assert.equal(await readFile(copy, 'utf8'), 'layer bytes');
    assert.deepEqual(JSON.parse(await readFile(join(root, 'java', 'oci-layout'), 'utf8')), { imageLayoutVersion: '1.0.0' });
  });

  it('a missing root or repository has no tags, manifests or blobs', async () => {
    const registry = new LayoutRegistry(join(await scratch(), 'absent'));
    assert.deepEqual(await registry.listRepositories(), []);
    assert.deepEqual(await registry.listTags('java'), []);
    assert.equal(await registry.getManifest('java', '17'), undefined);
    assert.equal(await registry.getManifest('java', sha256Digest(Buffer.from('x'))), undefined);
    assert.equal(await registry.hasBlob('java', sha256Digest(Buffer.from('x'))), false);
    await assert.rejects(registry.getBlob('java', sha256Digest(Buffer.from('x'))), fails('NOT_FOUND', /blob sha256:\w+ of java does not exist/));
  });

  it('refuses content that does not match its digest, and leaves nothing behind', async () => {
    const root = await scratch();
    const registry = new LayoutRegistry(root);
    const wrong = sha256Digest(Buffer.from('other'));
    await assert.rejects(registry.putManifest('java', wrong, manifestOf(Buffer.from('{}')), MANIFEST_TYPE), fails('INVALID_FILE', /manifest java@sha256:\w+ does not match its digest/));
    await assert.rejects(registry.putBlob('java', wrong, Buffer.from('content')), fails('INVALID_FILE', /does not match its digest/));
    assert.deepEqual(await readdir(join(root, 'java', 'blobs', 'sha256')), []);
  });

  it('refuses a blob altered on disk, on every read', async () => {
    const root = await scratch();
    const registry = new LayoutRegistry(root);
    const config = Buffer.from('{}');
    await registry.putBlob('java', sha256Digest(config), config);
    const digest = await registry.putManifest('java', '17', manifestOf(config), MANIFEST_TYPE);
    for (const altered of [sha256Digest(config), digest]) await writeFile(join(root, 'java', 'blobs', 'sha256', altered.slice(7)), '{"evil":1}');

    await assert.rejects(registry.getBlob('java', sha256Digest(config)), fails('INVALID_FILE', /blob sha256:\w+ of java does not match its digest/));
    await assert.rejects(registry.getManifest('java', '17'), fails('INVALID_FILE', /manifest java:17 does not match/));
    await assert.rejects(registry.getManifest('java', digest), fails('INVALID_FILE', /does not match/));
    // A copy is only checked for its size here: its reader hashes it (extractLayer).
    await assert.rejects(registry.downloadBlob('java', sha256Digest(config), config.length, join(root, 'copy')), fails('INVALID_FILE', /blob sha256:\w+ of java has over 2 bytes; expected 2/));
  });

  it('concurrent publishers of different tags keep every tag', async () => {
    const root = await scratch();
    const config = Buffer.from('{}');
    const tags = ['1', '2', '3', '4', '5', '6', '7', '8'];
    // One registry object per publisher, as separate aibox processes would have.
    await Promise.all(tags.map((tag) => new LayoutRegistry(root).putManifest('java', tag, manifestOf(Buffer.from(`{"v":${tag}}`)), MANIFEST_TYPE)));
    await new LayoutRegistry(root).putBlob('java', sha256Digest(config), config);
    assert.deepEqual(await new LayoutRegistry(root).listTags('java'), tags);
    assert.equal((await readdir(join(root, 'java'))).filter((name) => name.includes('.lock') || name.endsWith('.tmp')).length, 0);
  });

  it('refuses names that would leave the repository folder', async () => {
    const registry = new LayoutRegistry(await scratch());
    await assert.rejects(registry.listTags('../etc'), fails('USAGE', /"..\/etc" is not a repository name/));
    await assert.rejects(registry.getManifest('java', '../../x'), fails('USAGE', /is neither a tag nor a digest/));
    await assert.rejects(registry.getBlob('java', 'sha256:../../x'), fails('USAGE', /is not a digest/));
  });

  it('names a damaged index.json', async () => {
    const root = await scratch();
    await mkdir(join(root, 'java'));
    await writeFile(join(root, 'java', 'index.json'), '{"schemaVersion":2,"manifests":[{"digest":"md5:x"}]}');
    await assert.rejects(new LayoutRegistry(root).listTags('java'), fails('INVALID_FILE', /java\/index.json: manifests.0.mediaType/));
  });
});

describe('registry credentials', () => {
  it('come from the first auth file that names the host, in the order podman searches', async () => {
    const home = await scratch();
    const runtime = join(home, 'run');
    const explicit = join(home, 'explicit.json');
    const env = { REGISTRY_AUTH_FILE: explicit, XDG_RUNTIME_DIR: runtime };
    const host = 'registry.example.com:5000';
    const docker = join(home, '.docker', 'config.json');
    const containers = join(home, '.config', 'containers', 'auth.json');
    await authFile(docker, `https://${host}/v1/`, 'docker', 'd');
    assert.deepEqual(await findCredentials(host, env, home), { basic: Buffer.from('docker:d').toString('base64'), file: docker });
    await authFile(containers, host, 'containers', 'c');
    assert.equal((await findCredentials(host, env, home))?.file, containers);
    await authFile(join(runtime, 'containers', 'auth.json'), 'other.example.com', 'other', 'o');
    assert.equal((await findCredentials(host, env, home))?.file, containers, 'a file without the host is skipped');
    await authFile(explicit, host, 'explicit', 'e');
    assert.equal((await findCredentials(host, env, home))?.file, explicit);
    assert.equal(await findCredentials('registry.example.com', env, home), undefined, 'the port is part of the name');
  });

  it('a garbage auth file is one clear error naming it', async () => {
    const home = await scratch();
    const file = join(home, 'auth.json');
    await writeFile(file, 'not json');
    await assert.rejects(findCredentials('registry.example.com', { REGISTRY_AUTH_FILE: file }, home), fails('INVALID_FILE', new RegExp(`^${file} is not valid JSON`)));
    await writeFile(file, '{"auths":{"registry.example.com":{"auth":42}}}');
    await assert.rejects(findCredentials('registry.example.com', { REGISTRY_AUTH_FILE: file }, home), fails('INVALID_FILE', new RegExp(`^${file}: auths.registry.example.com.auth`)));
    await writeFile(file, '{"auths":{"registry.example.com":{"auth":"bm9jb2xvbg=="}}}');
    await assert.rejects(findCredentials('registry.example.com', { REGISTRY_AUTH_FILE: file }, home), fails('INVALID_FILE', /is not base64 of user:password/));
  });
});

type Handler = (request: IncomingMessage, response: ServerResponse, url: URL) => void;

/** An HTTP server on 127.0.0.1 for one test; `routes` maps a path to its handler. */
async function fakeServer(routes: Record<string, Handler>): Promise<{ host: string; close(): Promise<void> }> {
  const server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://127.0.0.1');
    const handler = routes[url.pathname];
    if (handler) handler(request, response, url);
    else response.writeHead(404).end('{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry"}]}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return { host: `127.0.0.1:${port}`, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

describe('HTTP registry', () => {
  it('Basic auth: credentials from auth.json; without them, one clear error', async () => {
    const manifest = manifestOf(Buffer.from('{}'));
    const server = await fakeServer({
      '/v2/packs/java/manifests/17': (request, response) => {
        if (request.headers.authorization !== basic('alice', 's3cret')) response.writeHead(401, { 'www-authenticate': 'Basic realm="fake"' }).end();
        else response.writeHead(200, { 'content-type': MANIFEST_TYPE }).end(manifest);
      },
    });
    try {
      const home = await scratch();
      const anonymous = new HttpRegistry(`${server.host}/packs`, { env: {}, home });
      await assert.rejects(anonymous.getManifest('java', '17'), (error) => {
        assert.ok(error instanceof AiboxError);
        assert.equal(error.message, `registry ${server.host}/packs: manifest java:17 failed: HTTP 401`);
        assert.match(error.hint ?? '', new RegExp(`podman login ${server.host}`));
        return true;
      });

      await authFile(join(home, '.config', 'containers', 'auth.json'), server.host, 'alice', 's3cret');
      const registry = new HttpRegistry(`${server.host}/packs`, { env: {}, home });
      assert.deepEqual(await registry.getManifest('java', '17'), { bytes: manifest, digest: sha256Digest(manifest), mediaType: MANIFEST_TYPE });

      await authFile(join(home, '.config', 'containers', 'auth.json'), server.host, 'alice', 'wrong');
      await assert.rejects(new HttpRegistry(`${server.host}/packs`, { env: {}, home }).getManifest('java', '17'), (error) => {
        assert.ok(error instanceof AiboxError);
        assert.match(error.hint ?? '', /refused the credentials .* in .*auth.json/);
        assert.ok(!`${error.message} ${error.hint}`.includes('wrong') && !`${error.message} ${error.hint}`.includes('YWxpY2U6'), 'no credentials in the message');
        return true;
      });
    } finally {
      await server.close();
    }
  });

  it('Bearer auth: one token per scope, fetched with Basic credentials; tag pages followed', async () => {
    const scopes: string[] = [];
    const server = await fakeServer({
      '/token': (request, response, url) => {
        scopes.push(`${url.searchParams.get('service')} ${url.searchParams.get('scope')}`);
        if (request.headers.authorization !== basic('bob', 'pw')) response.writeHead(401).end();
        else response.writeHead(200).end(JSON.stringify({ access_token: `token-for-${url.searchParams.get('scope')}` }));
      },
      '/v2/java/tags/list': (request, response, url) => {
        if (request.headers.authorization !== 'Bearer token-for-repository:java:pull') {
          const realm = `http://${request.headers.host}/token`;
          response.writeHead(401, { 'www-authenticate': `Bearer realm="${realm}",service="fake",scope="repository:java:pull"` }).end();
        } else if (url.searchParams.get('last') === 'a') {
          response.writeHead(200).end('{"name":"java","tags":["b"]}');
        } else {
          response.writeHead(200, { link: '</v2/java/tags/list?last=a&n=1>; rel="next"' }).end('{"name":"java","tags":["a"]}');
        }
      },
    });
    try {
      const home = await scratch();
      await authFile(join(home, '.docker', 'config.json'), `http://${server.host}`, 'bob', 'pw');
      const registry = new HttpRegistry(server.host, { env: {}, home });
      assert.deepEqual(await registry.listTags('java'), ['a', 'b']);
      assert.deepEqual(await registry.listTags('java'), ['a', 'b']);
      assert.deepEqual(scopes, ['fake repository:java:pull'], 'the token is fetched once and reused');
      assert.deepEqual(await registry.listTags('python'), [], 'a missing repository has no tags');
    } finally {
      await server.close();
    }
  });

  it('refuses a manifest whose bytes do not match the digest, and names the OCI error of a failed call', async () => {
    const digest = sha256Digest(Buffer.from('expected'));
    const server = await fakeServer({
      [`/v2/java/manifests/${digest}`]: (_request, response) => response.writeHead(200, { 'content-type': MANIFEST_TYPE }).end('tampered'),
      '/v2/java/tags/list': (_request, response) => response.writeHead(500).end('{"errors":[{"code":"UNKNOWN","message":"disk full"}]}'),
    });
    try {
      const registry = new HttpRegistry(server.host, { env: {}, home: await scratch() });
      await assert.rejects(registry.getManifest('java', digest), fails('INVALID_FILE', /manifest java@sha256:\w+ does not match its digest/));
      await assert.rejects(registry.listTags('java'), fails('PROCESS_FAILED', new RegExp(`^registry ${server.host}: tags of java failed: HTTP 500 disk full$`)));
    } finally {
      await server.close();
    }
  });

  it('downloads a blob with curl: the scope\'s token, and to no other origin on a redirect; at most its size; failures named', async () => {
    const blob = Buffer.from('layer bytes');
    const digest = sha256Digest(blob);
    const [chunked, long, forbidden, absent] = ['chunked', 'long', 'forbidden', 'absent'].map((text) => sha256Digest(Buffer.from(text))) as [string, string, string, string];
    const seen: string[] = [];
    const storage = await fakeServer({
      '/blob': (request, response) => {
        seen.push(`storage ${request.method} ${request.headers.authorization ?? 'no authorization'}${request.headers['x-curlrc'] ? ' curlrc' : ''}`);
        response.writeHead(200).end(blob);
      },
    });
    const blobRoute = (serve: Handler): Handler => (request, response, url) => {
      seen.push(`registry ${request.method} ${request.headers.authorization ?? 'no authorization'}${request.headers['x-curlrc'] ? ' curlrc' : ''}`);
      if (request.headers.authorization !== 'Bearer t-repository:java:pull') {
        response.writeHead(401, { 'www-authenticate': `Bearer realm="http://${request.headers.host}/token",service="fake"` }).end();
      } else if (request.method === 'HEAD') response.writeHead(200).end();
      else serve(request, response, url);
    };
    const server = await fakeServer({
      '/token': (_request, response, url) => response.writeHead(200).end(JSON.stringify({ token: `t-${url.searchParams.get('scope')}` })),
      [`/v2/java/blobs/${digest}`]: blobRoute((_request, response) => response.writeHead(307, { location: `http://${storage.host}/blob` }).end()),
      [`/v2/java/blobs/${chunked}`]: blobRoute((_request, response) => {
        response.writeHead(200); // no length: chunked, and longer than the descriptor says
        for (let i = 0; i < 64; i++) response.write(Buffer.alloc(1024, 'x'));
        response.end();
      }),
      [`/v2/java/blobs/${long}`]: blobRoute((_request, response) => response.writeHead(200, { 'content-length': 4096 }).end(Buffer.alloc(4096))),
      [`/v2/java/blobs/${forbidden}`]: blobRoute((_request, response) => response.writeHead(403).end()),
    });
    try {
      const dir = await scratch();
      const registry = new HttpRegistry(server.host, { env: {}, home: dir });
      // The user's ~/.curlrc does not apply (the routes record a header it would add).
      await writeFile(join(dir, '.curlrc'), 'header = "X-Curlrc: read"\n');
      const home = process.env.HOME;
      process.env.HOME = dir;
      try {
        await registry.downloadBlob('java', digest, blob.length, join(dir, 'blob'));
      } finally {
        process.env.HOME = home;
      }
      assert.deepEqual(await readFile(join(dir, 'blob')), blob);
      assert.deepEqual(seen, ['registry HEAD no authorization', 'registry HEAD Bearer t-repository:java:pull', 'registry GET Bearer t-repository:java:pull', 'storage GET no authorization']);
      await assert.rejects(registry.downloadBlob('java', chunked, 1000, join(dir, 'chunked')), fails('INVALID_FILE', /^registry \S+: blob sha256:\w+ of java has over 1000 bytes; expected 1000$/));
      await assert.rejects(registry.downloadBlob('java', long, 1000, join(dir, 'long')), fails('INVALID_FILE', /has over 1000 bytes; expected 1000/));
      await assert.rejects(registry.downloadBlob('java', forbidden, 10, join(dir, 'forbidden')), fails('PROCESS_FAILED', /^registry \S+: blob sha256:\w+ of java failed: HTTP 403$/));
      await assert.rejects(registry.downloadBlob('java', absent, 10, join(dir, 'absent')), fails('NOT_FOUND', /^registry \S+: blob sha256:\w+ of java does not exist$/));
    } finally {
      await Promise.all([server.close(), storage.close()]);
    }
  });

  it('names a registry that does not answer', async () => {
    const server = await fakeServer({});
    await server.close();
    await assert.rejects(new HttpRegistry(server.host, { env: {}, home: '/nonexistent' }).listTags('java'), fails('PROCESS_FAILED', /tags of java failed: ECONNREFUSED/));
  });
});

describe('openRegistry', () => {
  const options = { env: {}, home: '/home/u' };

  it('opens a layout folder for an absolute path or oci:PATH, a registry for host[:port][/path]', () => {
    assert.ok(openRegistry('/srv/packs', options) instanceof LayoutRegistry);
    assert.equal(openRegistry('oci:/srv/packs/', options).location, '/srv/packs');
    assert.equal(openRegistry('oci-layout:/srv/packs', options).location, '/srv/packs');
    const http = openRegistry('registry.example.com:5000/team/packs', options);
    assert.ok(http instanceof HttpRegistry);
    assert.equal(http.location, 'registry.example.com:5000/team/packs');
  });

  it('refuses garbage with one clear usage error', () => {
    for (const ref of ['http://x y', 'ftp://registry.example.com/packs', 'https://registry.example.com']) {
      assert.throws(() => openRegistry(ref, options), fails('USAGE', /without a URL scheme/));
    }
    for (const ref of ['x y', 'registry.example.com:99999', 'registry.example.com/Packs', '-bad.example.com', '']) {
      assert.throws(() => openRegistry(ref, options), fails('USAGE', /is not host\[:port\]\[\/path\]/));
    }
    assert.throws(() => openRegistry('oci:packs', options), fails('USAGE', /must be an absolute path/));
  });
});
