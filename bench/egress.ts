/**
 * Egress proxy benchmark (not a test): what the proxy costs a developer.
 *
 * - `npm ci` of bench/fixtures/npm-project from a registry mirror, inside a gVisor
 *   sandbox, through the sandbox's squid versus straight to the mirror (a `direct`
 *   policy rule), interleaved, with a cold npm cache each run: the ratio.
 * - Connection set-up (curl's time to the first byte of a small file) through the
 *   proxy versus direct.
 * - `aibox policy apply`: how long until a newly allowed host:port answers (target < 1 s).
 *
 * The mirror is a container on podman's bridge serving packuments and tarballs that
 * the host packs from its npm cache once (nothing outside this machine is reached
 * after that). It prints a Markdown report for docs/performance.md.
 *
 *   npm run bench:egress
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, cp, mkdir, mkdtemp, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { stringify } from 'yaml';
import { aibox, freePort, host, sshTo, testUser, type TestUser } from '../test/helpers/cli.js';
import { load, machine, median, must, seconds } from './common.js';

const BUILDS = 3;
const CONNECTS = 20;
const APPLIES = 5;
const FIXTURE = resolve('bench/fixtures/npm-project');
const ORG_POLICY = '/etc/aibox/policy.yaml';
const IN_SANDBOX = '/workspace/bench-egress';

/** The mirror: GET /NAME (scoped names with %2f or /) answers the packument, GET /-/FILE the tarball. */
const MIRROR = `
const http = require('http'), fs = require('fs'), path = require('path');
const root = '/mirror';
http.createServer((req, res) => {
  const url = decodeURIComponent(new URL(req.url, 'http://x').pathname).slice(1);
  const file = url.startsWith('-/') ? path.join(root, 'tarballs', path.basename(url)) : path.join(root, 'packuments', url.replace('/', '%2f') + '.json');
  fs.readFile(file, (error, body) => error ? res.writeHead(404).end() : res.writeHead(200, { 'content-type': url.startsWith('-/') ? 'application/octet-stream' : 'application/json' }).end(body));
}).listen(8080);
`;

interface Locked {
  name: string;
  version: string;
  integrity: string;
}

/** The fixture's locked packages (name, version, integrity). */
async function lockedPackages(): Promise<Locked[]> {
  const lock = JSON.parse(await readFile(join(FIXTURE, 'package-lock.json'), 'utf8')) as { packages: Record<string, { version?: string; integrity?: string; name?: string }> };
  return Object.entries(lock.packages).flatMap(([key, entry]) => {
    if (!key || !entry.version || !entry.integrity) return [];
    const name = entry.name ?? key.slice(key.lastIndexOf('node_modules/') + 'node_modules/'.length);
    return [{ name, version: entry.version, integrity: entry.integrity }];
  });
}

/** Packs every locked package from the host's npm cache (filled once from the host's own registry) and writes minimal packuments. */
async function buildMirror(work: string, mirrorUrl: (file: string) => string): Promise<void> {
  const cache = join(work, 'cache');
  const project = join(work, 'fill');
  await cp(FIXTURE, project, { recursive: true });
  must(host('npm', ['--prefix', project, 'ci', '--cache', cache, '--ignore-scripts', '--no-audit', '--no-fund']), 'host npm ci (fills the cache)');
  const packages = await lockedPackages();
  const tarballs = join(work, 'mirror', 'tarballs');
  await mkdir(tarballs, { recursive: true });
  const specs = [...new Set(packages.map((pkg) => `${pkg.name}@${pkg.version}`))];
  execFileSync('npm', ['pack', '--prefer-offline', '--cache', cache, '--pack-destination', tarballs, '--silent', ...specs], { cwd: work, stdio: ['ignore', 'ignore', 'inherit'] });
  const packuments = new Map<string, { name: string; versions: Record<string, unknown>; 'dist-tags': Record<string, string> }>();
  for (const pkg of packages) {
    const file = `${pkg.name.replace('@', '').replace('/', '-')}-${pkg.version}.tgz`;
    if (!existsSync(join(tarballs, file))) throw new Error(`npm pack made no ${file}`);
    const packument = packuments.get(pkg.name) ?? { name: pkg.name, versions: {}, 'dist-tags': { latest: pkg.version } };
    packument.versions[pkg.version] = { name: pkg.name, version: pkg.version, dist: { tarball: mirrorUrl(file), integrity: pkg.integrity } };
    packuments.set(pkg.name, packument);
  }
  await mkdir(join(work, 'mirror', 'packuments'), { recursive: true });
  for (const [name, packument] of packuments) await writeFile(join(work, 'mirror', 'packuments', `${name.replace('/', '%2f')}.json`), JSON.stringify(packument));
}

async function npmDir(): Promise<string> {
  const npm = execFileSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' }).trim();
  return dirname(dirname(await realpath(npm)));
}

/** Unpacks a tar stream into IN_SANDBOX. */
function copyIn(user: TestUser, tar: Buffer): void {
  const result = spawnSync('ssh', ['-F', join(user.home, '.ssh', 'config'), user.name, `mkdir -p ${IN_SANDBOX} && tar -x -C ${IN_SANDBOX}`], { input: tar, maxBuffer: 1 << 30 });
  if (result.status !== 0) throw new Error(`copy into the sandbox failed: ${result.stderr}`);
}

function inside(user: TestUser, command: string): string {
  const result = sshTo(user, command);
  if (result.code !== 0) throw new Error(`${command}: ${result.stderr}`);
  return result.stdout;
}

async function main(): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'aibox-bench-egress-'));
  await chmod(work, 0o755); // the mirror container reads it as uid 1000
  const user = await testUser('bench-egress');
  const mirrorName = `aibox-bench-mirror-${process.pid}`;
  const saved = existsSync(ORG_POLICY) ? await readFile(ORG_POLICY, 'utf8') : undefined;
  try {
    // The mirror container first: its address goes into the packuments and the policy.
    const image = JSON.parse((await aibox(user, ['image', 'build', '--json'])).stdout).image as string;
    await mkdir(join(work, 'mirror'), { recursive: true });
    must(host('podman', ['run', '--detach', '--name', mirrorName, '--runtime', 'runc', '--ulimit', 'nofile=4096:4096', '--ulimit', 'nproc=8192:8192', '--user', '1000:1000', '--volume', `${join(work, 'mirror')}:/mirror:ro`, '--entrypoint', '/opt/aibox/node/bin/node', image, '-e', MIRROR]), 'mirror container');
    const address = host('podman', ['inspect', '--format', '{{.NetworkSettings.IPAddress}}', mirrorName]).stdout.trim();
    const registry = `http://${address}:8080/`;
    await buildMirror(work, (file) => `${registry}-/${file}`);
    await mkdir('/etc/aibox', { recursive: true });
    // The mirror's address both ways: through the proxy by default, and direct for the comparison.
    const policy = (ports: number[]) => writeFile(ORG_POLICY, stringify({ version: 1, network: { egress: [{ host: address, ports, direct: true }] } }));
    await policy([8080]);
    must(await aibox(user, ['start', '--port', String(await freePort())]), 'aibox start');

    copyIn(user, execFileSync('tar', ['-C', dirname(await npmDir()), '-c', 'npm'], { maxBuffer: 1 << 30 }));
    copyIn(user, execFileSync('tar', ['-C', resolve('bench/fixtures'), '-c', 'npm-project']));

    const npmCi = (proxy: boolean, run: number) =>
      `cd ${IN_SANDBOX}/npm-project && rm -rf node_modules && ${proxy ? '' : 'env -u HTTP_PROXY -u HTTPS_PROXY -u http_proxy -u https_proxy -u npm_config_proxy -u npm_config_https_proxy '}/opt/aibox/node/bin/node ${IN_SANDBOX}/npm/bin/npm-cli.js ci --registry ${registry} --cache /tmp/npm-cache-${proxy ? 'p' : 'd'}${run} --ignore-scripts --no-audit --no-fund >/dev/null && rm -rf /tmp/npm-cache-${proxy ? 'p' : 'd'}${run}`;
    const viaProxy: number[] = [];
    const direct: number[] = [];
    for (let run = 0; run < BUILDS; run++) {
      for (const [proxy, times] of [[true, viaProxy], [false, direct]] as const) {
        const start = performance.now();
        inside(user, npmCi(proxy, run));
        times.push((performance.now() - start) / 1000);
      }
    }

    // Connection set-up: time to first byte of a small packument, as curl measures it inside the sandbox.
    const curl = (proxy: boolean) => inside(user, `for i in $(seq ${CONNECTS}); do curl -s -o /dev/null ${proxy ? '' : "--noproxy '*' "}-w '%{time_starttransfer}\\n' ${registry}mocha; done`).trim().split('\n').map(Number);
    const connectProxy = median(curl(true));
    const connectDirect = median(curl(false));

    // policy apply: a port opens; time until it answers through the proxy (mirror on 8080 only; open 8081 needs a listener).
    must(host('podman', ['exec', '--detach', mirrorName, '/opt/aibox/node/bin/node', '-e', "require('http').createServer((q, s) => s.end('ok')).listen(8081)"]), 'second listener');
    const applies: number[] = [];
    const commands: number[] = [];
    for (let run = 0; run < APPLIES; run++) {
      await policy([8080]);
      must(await aibox(user, ['policy', 'apply']), 'policy apply (close)');
      await policy([8080, 8081]);
      const start = performance.now();
      must(await aibox(user, ['policy', 'apply']), 'policy apply (open)');
      commands.push((performance.now() - start) / 1000);
      // The ssh connection is multiplexed: each probe costs ~20 ms.
      inside(user, `until [ "$(curl -s -m 2 ${registry.replace('8080', '8081')})" = ok ]; do sleep 0.02; done`);
      applies.push((performance.now() - start) / 1000);
    }

    const report = [
      `Machine: ${await machine()}, load ${load()}`,
      `Date: ${new Date().toISOString().slice(0, 10)}`,
      '',
      `| measure | through the proxy | direct | proxy / direct |`,
      '|---|---|---|---|',
      `| npm ci of the bench fixture from a mirror, cold cache (median of ${BUILDS}, interleaved) | ${seconds(median(viaProxy))} | ${seconds(median(direct))} | **${(median(viaProxy) / median(direct)).toFixed(2)}×** |`,
      `| connection set-up + first byte, curl (median of ${CONNECTS}) | ${seconds(connectProxy)} | ${seconds(connectDirect)} | ${(connectProxy / connectDirect).toFixed(2)}× |`,
      '',
      `| aibox policy apply (median of ${APPLIES}) | time |`,
      '|---|---|',
      `| the command (host) | ${seconds(median(commands))} |`,
      `| until the newly allowed port answers inside (target < 1 s) | **${seconds(median(applies))}** |`,
    ].join('\n');
    console.log(report);
    await mkdir('bench/results', { recursive: true });
    await writeFile('bench/results/egress-latest.json', `${JSON.stringify({ machine: await machine(), date: new Date().toISOString(), npmCi: { viaProxy, direct }, connectProxy, connectDirect, applies, commands }, null, 2)}\n`);
  } finally {
    await aibox(user, ['rm', '--volumes']);
    host('podman', ['rm', '--force', '--time', '0', mirrorName]);
    if (saved === undefined) await rm(ORG_POLICY, { force: true });
    else await writeFile(ORG_POLICY, saved);
    await rm(work, { recursive: true, force: true });
  }
}

await main();
