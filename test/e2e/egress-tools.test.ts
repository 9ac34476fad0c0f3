/**
 * The tools themselves behind the sandbox's egress proxy, with real podman, squid, nftables and
 * gVisor. The test host is a container on podman's bridge serving one npm package (port 8081,
 * which the org policy allows, and 8082, which it does not) and one Maven parent POM; nothing
 * outside this machine is touched. npm and yarn are the node@20 pack's,
 * installed in the sandbox (its build is shared with the other tests: helpers/packs.ts). Maven is
 * the java pack's own Maven 3.9.9 (the recipe's `maven` stage, with its JRE), run in a container
 * on the same bridge with the sandbox's own proxy.sh and proxy: the java pack's JDK cannot be
 * downloaded here, and neither can Gradle, whose settings only the unit test checks.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { configSchema } from '../../src/config/settings.js';
import { toolProxyOptions } from '../../src/egress/index.js';
import { planImage } from '../../src/image/build.js';
import { AIBOX, aibox, aiboxOk, cleanup, freePort, host, sshTo, testUser, type TestUser } from '../helpers/cli.js';
import { publishInitialPacks } from '../helpers/packs.js';

const ORG_POLICY = '/etc/aibox/policy.yaml';
const PACKAGE = 'aibox-demo';
const PARENT = 'maven/com/example/aibox-parent/1.0/aibox-parent-1.0.pom';
const SERVER = `
const http = require('http');
const crypto = require('crypto');
const packument = { name: '${PACKAGE}', 'dist-tags': { latest: '1.2.3' }, versions: { '1.2.3': { name: '${PACKAGE}', version: '1.2.3', dist: { tarball: 'http://registry.example.com/${PACKAGE}/-/${PACKAGE}-1.2.3.tgz' } } } };
// A parent POM (Maven reads it when it loads the project: no plugin to download) and its sha1.
const pom = Buffer.from('<project><modelVersion>4.0.0</modelVersion><groupId>com.example</groupId><artifactId>aibox-parent</artifactId><version>1.0</version><packaging>pom</packaging></project>');
const files = { '/${PARENT}': pom, '/${PARENT}.sha1': Buffer.from(crypto.createHash('sha1').update(pom).digest('hex')) };
const serve = (req, res) => {
  const path = req.url.split('?')[0];
  if (path === '/${PACKAGE}') { res.setHeader('content-type', 'application/json'); return res.end(JSON.stringify(packument)); }
  if (files[path]) return res.end(files[path]);
  res.statusCode = 404;
  res.end();
};
http.createServer(serve).listen(8081);
http.createServer(serve).listen(8082);
`;
const ULIMITS = ['--ulimit', 'nofile=4096:4096', '--ulimit', 'nproc=8192:8192'];

/** An address as a regular expression's text. */
const dots = (address: string) => address.replace(/\./g, '\\.');

function inspect(name: string, format: string): string {
  return host('podman', ['inspect', '--format', format, name]).stdout.trim();
}

describe('npm, yarn and Maven reach what the policy allows through the proxy, and are told why not otherwise', { timeout: 20 * 60_000 }, () => {
  let user: TestUser;
  let savedOrgPolicy: string | undefined;
  let web = '';
  let proxyUrl = '';
  const webName = `egress-tools-web-${process.pid}`;
  const mavenImage = 'localhost/aibox-e2e-maven:3.9.9';
  const inside = (command: string) => sshTo(user, command);
  const proxyLog = () => host('podman', ['logs', `${user.name}-egress`]).stdout;

  before(async () => {
    user = await testUser('e2e-egress-tools');
    user.env.COSIGN_PASSWORD = 'e2e egress tools';
    savedOrgPolicy = existsSync(ORG_POLICY) ? await readFile(ORG_POLICY, 'utf8') : undefined;
    await aiboxOk(user, ['pack', 'keygen', '--output-prefix', join(user.home, 'platform')]);
    await aiboxOk(user, ['config', 'set', 'packs.registry', join(user.home, 'layout')]);
    const image = JSON.parse((await aiboxOk(user, ['image', 'build', '--json'])).stdout).image as string;
    const started = host('podman', ['run', '--detach', '--name', webName, '--runtime', 'runc', ...ULIMITS, '--user', '1000:1000', '--entrypoint', '/opt/aibox/node/bin/node', image, '-e', SERVER]);
    assert.equal(started.code, 0, started.stderr);
    web = inspect(webName, '{{.NetworkSettings.IPAddress}}');
    await publishInitialPacks(user, ['node-20'], join(user.home, 'platform.key'));
    await mkdir('/etc/aibox', { recursive: true });
    const key = await readFile(join(user.home, 'platform.pub'), 'utf8');
    await writeFile(ORG_POLICY, stringify({ version: 1, network: { egress: [{ host: web, ports: [8081] }] }, packs: { trusted_keys: [{ name: 'e2e', key }], allowed: ['*'] } }));
    const start = await aibox(user, ['start', '--port', String(await freePort())]);
    assert.equal(start.code, 0, start.stderr);
    await aiboxOk(user, ['install', 'node@20']);
    proxyUrl = `http://${inspect(`${user.name}-egress`, '{{.NetworkSettings.IPAddress}}')}:3128`;
  });

  after(async () => {
    host('podman', ['rm', '--force', '--time', '0', webName]);
    await cleanup(user);
    await rm(user.home, { recursive: true, force: true });
    if (savedOrgPolicy === undefined) await rm(ORG_POLICY, { force: true });
    else await writeFile(ORG_POLICY, savedOrgPolicy);
  });

  it('npm view and yarn info of a package on an allowed registry answer, through the proxy', () => {
    const npm = inside(`npm view ${PACKAGE} version --registry http://${web}:8081/ 2>&1`);
    assert.equal(npm.code, 0, npm.stdout + npm.stderr);
    assert.equal(npm.stdout, '1.2.3\n');
    const yarn = inside(`yarn info ${PACKAGE} version --registry http://${web}:8081/ 2>&1`);
    assert.equal(yarn.code, 0, yarn.stdout + yarn.stderr);
    assert.match(yarn.stdout, /^1\.2\.3$/m);
    // The proxy's log shows they asked it.
    assert.equal(proxyLog().match(new RegExp(`TCP_MISS/200 GET http://${dots(web)}:8081/${PACKAGE} `, 'g'))?.length, 2, proxyLog());
  });

  it('a registry the policy does not allow: npm fails with the 403 and the URL; aibox egress log and policy check explain it', async () => {
    const npm = inside(`npm view ${PACKAGE} version --registry http://${web}:8082/ 2>&1`);
    assert.notEqual(npm.code, 0);
    console.log(`# npm, denied:\n${npm.stdout.split('\n').filter((line) => line.includes('403')).join('\n').replace(/^/gm, '#   ')}`);
    assert.match(npm.stdout, /npm error code E403/);
    assert.match(npm.stdout, new RegExp(`403 Forbidden - GET http://${dots(web)}:8082/${PACKAGE}`));
    // yarn 1 hides the status (and `info` exits 0): --verbose shows it.
    const yarn = inside(`yarn info ${PACKAGE} version --verbose --registry http://${web}:8082/ 2>&1`);
    assert.match(yarn.stdout, /^error Received invalid response from npm\.$/m);
    assert.match(yarn.stdout, new RegExp(`Request "http://${dots(web)}:8082/${PACKAGE}" finished with status code 403\\.`));
    let log = '';
    for (let i = 0; i < 20 && !log.includes(':8082'); i++) log = (await aiboxOk(user, ['egress', 'log'])).stdout;
    assert.match(log, new RegExp(`denied {3}GET {5}${dots(web)}:8082 {2}\\(2 times since [^)]*\\)\\n {4}fix: add \\{host: ${dots(web)}, ports: \\[8082\\]\\} to network\\.egress in /etc/aibox/policy\\.yaml\\n`));
    const check = await aibox(user, ['policy', 'check', 'egress', `${web}:8082`]);
    assert.notEqual(check.code, 0);
    assert.match(check.stdout + check.stderr, new RegExp(`egress to ${dots(web)}:8082 is denied: no network\\.egress entry in /etc/aibox/policy\\.yaml allows it; to allow it add \\{host: ${dots(web)}, ports: \\[8082\\]\\}`));
  });

  it('Maven, Gradle and sbt get the proxy as Java options, once, in every shell, after the user\'s own', () => {
    const expected = toolProxyOptions(proxyUrl);
    // At the top of ~/.bashrc, which returns early unless interactive: every bash reads it.
    assert.equal(inside(`{ echo 'MAVEN_ARGS=-B'; cat ~/.bashrc; } > /tmp/bashrc && cat /tmp/bashrc > ~/.bashrc`).code, 0);
    const print = 'printf "%s\\n" "$MAVEN_ARGS" "$GRADLE_OPTS" "$SBT_OPTS"';
    const want = `-B ${expected.MAVEN_ARGS}\n${expected.GRADLE_OPTS}\n${expected.SBT_OPTS}\n`;
    assert.equal(inside(print).stdout, want, 'ssh command: the last pass adds them to what ~/.bashrc set');
    assert.equal(inside(`bash -c '${print}'`).stdout, want, 'a nested shell: no second copy');
    assert.equal(inside(`zsh -c '${print}'`).stdout, want, 'zsh');
    assert.equal(inside(`env -u MAVEN_ARGS -u GRADLE_OPTS -u SBT_OPTS zsh -c '${print}'`).stdout, `${expected.MAVEN_ARGS}\n${expected.GRADLE_OPTS}\n${expected.SBT_OPTS}\n`, 'zsh on its own');
    assert.equal(inside(`bash -ic '${print}' 2>/dev/null`).stdout, want, 'an interactive bash');
  });

  it("the java pack's Maven 3.9.9 reads a parent POM through the proxy, with proxy.sh and the user's own settings.xml; refused with the 403 when the policy does not allow", async () => {
    const { systemTag, mirror } = await planImage(configSchema.parse({}), resolve('.'), AIBOX);
    const built = spawnSync('podman', ['build', '--runtime', 'runc', ...ULIMITS, '--target', 'maven', '--build-arg', `BASE=${systemTag}`, '--build-arg', `DEBIAN_MIRROR=${mirror}`, '--tag', mavenImage, '--file', 'packs/java-21/Containerfile', 'packs/java-21'], { encoding: 'utf8', timeout: 15 * 60_000 });
    assert.equal(built.status, 0, built.stderr);
    const work = join(user.home, 'maven');
    await mkdir(work, { recursive: true });
    await writeFile(join(work, 'pom.xml'), '<project><modelVersion>4.0.0</modelVersion><parent><groupId>com.example</groupId><artifactId>aibox-parent</artifactId><version>1.0</version><relativePath/></parent><artifactId>demo</artifactId><packaging>pom</packaging></project>\n');
    // The user's own ~/.m2/settings.xml: the org's repository as a mirror of everything. Maven's global settings stay the pack's.
    const mvn = async (port: number) => {
      const m2 = join(work, `m2-${port}`);
      await mkdir(m2, { recursive: true });
      await writeFile(join(m2, 'settings.xml'), `<settings><mirrors><mirror><id>org</id><mirrorOf>*</mirrorOf><url>http://${web}:${port}/maven</url></mirror></mirrors></settings>\n`);
      const script = '. /opt/toolpacks/.aibox/proxy.sh && /tmp/maven/bin/mvn -B validate';
      return spawnSync('podman', ['run', '--rm', '--runtime', 'runc', ...ULIMITS, '--volume', `${user.name}-toolpacks:/opt/toolpacks:ro`, '--volume', `${work}:/work`, '--volume', `${m2}:/root/.m2`, '--workdir', '/work', mavenImage, 'sh', '-c', script], { encoding: 'utf8', timeout: 180_000 });
    };
    const direct = host('podman', ['run', '--rm', '--runtime', 'runc', ...ULIMITS, mavenImage, 'curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', `http://${web}:8082/${PARENT}`]);
    assert.equal(direct.stdout, '200', 'from this container the test host answers directly on both ports: only the proxy can refuse');
    const url = (port: number) => `http://${dots(web)}:${port}/${PARENT}`;

    const allowed = await mvn(8081);
    assert.equal(allowed.status, 0, allowed.stdout + allowed.stderr);
    assert.match(allowed.stdout, /BUILD SUCCESS/);
    assert.doesNotMatch(allowed.stdout, /WARNING.*system properties/, "the resolver's warning about system properties is quiet");
    assert.match(proxyLog(), new RegExp(`TCP_MISS/200 GET ${url(8081)} `));

    const denied = await mvn(8082);
    assert.notEqual(denied.status, 0);
    const error = denied.stdout.split('\n').find((line) => line.includes('Non-resolvable parent POM')) ?? '';
    console.log(`# mvn, denied:\n#   ${error}`);
    assert.match(error, new RegExp(`Could not transfer artifact com\\.example:aibox-parent:pom:1\\.0 from/to org \\(http://[\\d.]+:8082/maven\\): status code: 403, reason phrase: Forbidden \\(403\\)`));
    assert.match(proxyLog(), new RegExp(`TCP_DENIED/403 GET ${url(8082)} `));
  });
});
