/**
 * The proxy environment file every shell in the sandbox sources last
 * (`/opt/toolpacks/.aibox/proxy.sh`, root's, written from the host): both cases,
 * since curl reads only lower-case http_proxy and other tools only upper-case.
 * git, npm, yarn 1 and pip read these variables themselves; the JVM build tools do not,
 * so each gets the proxy as Java system properties in a variable of its own (docs/shell.md).
 */

const NO_PROXY = ['localhost', '127.0.0.1', '::1'];

/**
 * The proxy as Java system properties. http.nonProxyHosts is NO_PROXY `|`-separated,
 * without the IPv6 entry: its `[::1]` would be a glob in the unquoted expansions of mvn's
 * and sbt's start scripts.
 */
export function javaProxyOptions(proxyUrl: string): string {
  const { hostname, port } = new URL(proxyUrl);
  const nonProxyHosts = NO_PROXY.filter((host) => !host.includes(':')).join('|');
  return [`-Dhttp.proxyHost=${hostname}`, `-Dhttp.proxyPort=${port || '80'}`, `-Dhttps.proxyHost=${hostname}`, `-Dhttps.proxyPort=${port || '80'}`, `-Dhttp.nonProxyHosts=${nonProxyHosts}`].join(' ');
}

/** Each JVM build tool's own options variable, and what aibox adds to it. */
export function toolProxyOptions(proxyUrl: string): Record<string, string> {
  const java = javaProxyOptions(proxyUrl);
  return {
    // Maven 3.9's resolver reads the JVM's proxy properties only when told to, and then warns
    // about it on every connection: that one logger is quietened. Its -D are system properties
    // too; MAVEN_ARGS rather than MAVEN_OPTS, which a ~/.mavenrc may overwrite; and neither
    // settings.xml is replaced (-gs would drop the installation's, -s the user's).
    MAVEN_ARGS: `${java} -Daether.connector.http.useSystemProperties=true -Dorg.slf4j.simpleLogger.log.org.eclipse.aether.transport.http.HttpTransporter=error`,
    // The client's JVM: it downloads the wrapper's distribution and hands its system properties to the daemon's build.
    GRADLE_OPTS: java,
    // sbt's start script; unlike JAVA_OPTS, setting it drops no default.
    SBT_OPTS: java,
  };
}

/** The shell file: the proxy variables, and `__aibox_proxy_tools`, which adds the tools' options once to what is there. */
export function proxyEnvFile(proxyUrl: string): string {
  const pairs: [string, string][] = [
    ['HTTP_PROXY', proxyUrl],
    ['HTTPS_PROXY', proxyUrl],
    ['NO_PROXY', NO_PROXY.join(',')],
  ];
  const lines = pairs.flatMap(([name, value]) => [`${name}='${value}'`, `${name.toLowerCase()}='${value}'`]);
  // Sourced again (nested shells, aibox's last pass after the startup files): a variable that holds the options already is left alone.
  const tools = Object.entries(toolProxyOptions(proxyUrl)).map(([name, value]) => `  case " \${${name}-} " in *' ${value} '*) ;; *) export ${name}="\${${name}:+$${name} }"'${value}' ;; esac`);
  return [
    '# Written by aibox from the host: the egress proxy of this sandbox.',
    ...lines,
    `export ${pairs.flatMap(([name]) => [name, name.toLowerCase()]).join(' ')}`,
    '# Maven, Gradle and sbt ignore the variables above: they get the proxy as Java system',
    '# properties, added once to your own options (aibox-env.sh calls this again after your dotfiles).',
    '__aibox_proxy_tools() {',
    ...tools,
    '}',
    '__aibox_proxy_tools_set=1',
    '__aibox_proxy_tools',
    '',
  ].join('\n');
}
