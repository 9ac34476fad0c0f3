import { AiboxError } from '../core/errors.js';
import { isIpv4 } from '../policy/schema.js';

/**
 * The nftables ruleset aibox puts into a sandbox's network namespace from the host
 * (pure). Inbound: loopback, replies, and the SSH port from podman's gateway only
 * (the published 127.0.0.1 port arrives from there). Outbound: loopback, replies,
 * the sandbox's own proxy, and the IPv4 addresses the policy names (those ports only);
 * everything else is refused (ICMP admin-prohibited: a client fails at once with
 * "No route to host" instead of hanging), named explicitly where a reader looks for it: podman's
 * gateway (host services), link-local and cloud metadata, UDP (DNS included); both
 * chains' policy is drop. One `nft -f` transaction replaces
 * the table, so re-applying is atomic and idempotent.
 */

export const NFT_TABLE = 'aibox';

export interface NftInput {
  /** The proxy's address on podman's bridge. */
  proxy: { address: string; port: number };
  /** podman's gateway on the sandbox's network: where published ports arrive from. */
  gateway: string;
  sshPort: number;
  /**
   * The policy's `direct: true` egress rules (IPv4 addresses): reached without the
   * proxy, for protocols it does not carry (git://, ssh). Everything else only through it.
   */
  direct: { address: string; ports: number[] }[];
}

/** Refuses anything but a dotted IPv4 address: the ruleset is text, and these come from podman. */
function ipv4(what: string, value: string): string {
  if (!isIpv4(value)) {
    throw new AiboxError('PROCESS_FAILED', `${what} from podman is not an IPv4 address: "${value}"`, 'aibox needs podman\'s default IPv4 bridge network: check podman network inspect podman');
  }
  return value;
}

export function nftRuleset(input: NftInput): string {
  const proxy = ipv4('the proxy address', input.proxy.address);
  const gateway = ipv4('the gateway address', input.gateway);
  const direct = input.direct.map(({ address, ports }) => {
    const valid = ports.filter((port) => Number.isInteger(port) && port > 0 && port < 65536);
    return `    ip daddr ${ipv4('a network.egress address', address)} tcp dport { ${valid.join(', ')} } accept comment "network.egress: ${address}"`;
  });
  return [
    // Declaring then deleting makes the first apply and every later one the same transaction.
    `table inet ${NFT_TABLE}`,
    `delete table inet ${NFT_TABLE}`,
    `table inet ${NFT_TABLE} {`,
    '  chain input {',
    '    type filter hook input priority filter; policy drop;',
    '    iif "lo" accept',
    '    ct state established,related accept',
    `    ip saddr ${gateway} tcp dport ${input.sshPort} accept comment "ssh from the published loopback port"`,
    '  }',
    '  chain output {',
    '    type filter hook output priority filter; policy drop;',
    '    oif "lo" accept',
    '    ip daddr 169.254.0.0/16 reject with icmpx type admin-prohibited comment "link-local, cloud metadata"',
    '    ct state established,related accept',
    `    ip daddr ${proxy} tcp dport ${input.proxy.port} accept comment "the egress proxy"`,
    ...direct,
    `    ip daddr ${gateway} reject with icmpx type admin-prohibited comment "host services"`,
    '    meta l4proto udp reject with icmpx type admin-prohibited comment "UDP, DNS included: the proxy resolves"',
    // Refused at once rather than silently dropped: a client bypassing the proxy fails
    // in milliseconds ("No route to host") instead of hanging until its timeout.
    '    meta l4proto tcp reject with icmpx type admin-prohibited comment "everything else: only through the proxy"',
    '  }',
    '}',
    '',
  ].join('\n');
}
