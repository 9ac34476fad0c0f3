import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { javaProxyOptions, proxyEnvFile, toolProxyOptions } from '../../src/egress/index.js';

const PROXY = 'http://10.88.0.5:3128';
const JAVA = '-Dhttp.proxyHost=10.88.0.5 -Dhttp.proxyPort=3128 -Dhttps.proxyHost=10.88.0.5 -Dhttps.proxyPort=3128 -Dhttp.nonProxyHosts=localhost|127.0.0.1';
const MAVEN = `${JAVA} -Daether.connector.http.useSystemProperties=true -Dorg.slf4j.simpleLogger.log.org.eclipse.aether.transport.http.HttpTransporter=error`;

describe('the JVM build tools get the proxy as Java system properties', () => {
  it('http(s).proxyHost/Port, and NO_PROXY in Java syntax (`|`, no IPv6 entry: no glob characters for the start scripts)', () => {
    assert.equal(javaProxyOptions(PROXY), JAVA);
    assert.doesNotMatch(JAVA, /[*?[\]'"$`\\]/);
  });

  it('Maven 3.9 also told to let its resolver read them (with that warning quietened); Gradle and sbt the properties alone', () => {
    assert.deepEqual(toolProxyOptions(PROXY), { MAVEN_ARGS: MAVEN, GRADLE_OPTS: JAVA, SBT_OPTS: JAVA });
  });
});

// proxy.sh runs here as in the sandbox, in sh (dash) and bash, with nothing but PATH in the environment.
describe('proxy.sh in sh and bash', () => {
  let file = '';
  const print = 'printf "%s\\n" "$MAVEN_ARGS" "$GRADLE_OPTS" "$SBT_OPTS"';
  const run = (shell: string, script: string, env: Record<string, string> = {}) => {
    const result = spawnSync(shell, ['-c', script], { env: { PATH: process.env.PATH, FILE: file, ...env }, encoding: 'utf8' });
    assert.equal(result.status, 0, result.stderr);
    return result.stdout;
  };

  before(async () => {
    file = join(await mkdtemp(join(tmpdir(), 'aibox-proxy-env-')), 'proxy.sh');
    await writeFile(file, proxyEnvFile(PROXY));
  });

  for (const shell of ['sh', 'bash']) {
    it(`${shell}: exports the proxy variables and each tool's options`, () => {
      assert.equal(run(shell, `. "$FILE"; env | grep -E '^(HTTPS?_PROXY|NO_PROXY|MAVEN_ARGS|GRADLE_OPTS|SBT_OPTS)=' | sort`), [`GRADLE_OPTS=${JAVA}`, `HTTPS_PROXY=${PROXY}`, `HTTP_PROXY=${PROXY}`, `MAVEN_ARGS=${MAVEN}`, 'NO_PROXY=localhost,127.0.0.1,::1', `SBT_OPTS=${JAVA}`, ''].join('\n'));
    });

    it(`${shell}: sourced again and in a nested shell, the options are there once`, () => {
      assert.equal(run(shell, `. "$FILE"; . "$FILE"; ${shell} -c '. "$FILE"; ${print}'`), `${MAVEN}\n${JAVA}\n${JAVA}\n`);
    });

    it(`${shell}: keeps the user's own options in front, also when a dotfile sets them after it (the last pass calls the function again)`, () => {
      assert.equal(run(shell, `. "$FILE"; ${print}`, { MAVEN_ARGS: '-B -ntp', GRADLE_OPTS: '-Xmx1g', SBT_OPTS: '-Xss4m' }), `-B -ntp ${MAVEN}\n-Xmx1g ${JAVA}\n-Xss4m ${JAVA}\n`);
      assert.equal(run(shell, `. "$FILE"; MAVEN_ARGS=-q; unset GRADLE_OPTS; __aibox_proxy_tools; ${print}`), `-q ${MAVEN}\n${JAVA}\n${JAVA}\n`);
    });

    it(`${shell}: a user's own proxy properties come first, so aibox's (the only way out) win: Java takes the last -D`, () => {
      assert.equal(run(shell, `. "$FILE"; printf '%s\\n' "$GRADLE_OPTS"`, { GRADLE_OPTS: '-Dhttp.proxyHost=proxy.example.com' }), `-Dhttp.proxyHost=proxy.example.com ${JAVA}\n`);
    });

    it(`${shell}: works under set -u and marks itself for the last pass`, () => {
      assert.equal(run(shell, `set -u; . "$FILE"; echo "$__aibox_proxy_tools_set"`), '1\n');
    });
  }
});
