/**
 * The proxy environment file every shell in the sandbox sources last
 * (`/opt/toolpacks/.aibox/proxy.sh`, root's, written from the host): both cases,
 * since curl reads only lower-case http_proxy and other tools only upper-case.
 */
export function proxyEnvFile(proxyUrl: string): string {
  const noProxy = 'localhost,127.0.0.1,::1';
  const pairs: [string, string][] = [
    ['HTTP_PROXY', proxyUrl],
    ['HTTPS_PROXY', proxyUrl],
    ['NO_PROXY', noProxy],
  ];
  const lines = pairs.flatMap(([name, value]) => [`${name}='${value}'`, `${name.toLowerCase()}='${value}'`]);
  return `# Written by aibox from the host: the egress proxy of this sandbox.\n${lines.join('\n')}\nexport ${pairs.flatMap(([name]) => [name, name.toLowerCase()]).join(' ')}\n`;
}
