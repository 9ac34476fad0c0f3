import type { Context } from '../core/context.js';
import type { ContainerInfo } from '../sandbox/podman.js';
import { Podman } from '../sandbox/podman.js';
import { NFT_TABLE } from './nft-rules.js';
import { PROXY_PORT } from './squid-config.js';
import { ownProxy, proxyName } from './proxy.js';

/** What `aibox doctor` says about a running sandbox's egress: its proxy runs and its netns holds the drop-by-default table. */
export async function egressCheck(ctx: Context, instance: string, sandbox: ContainerInfo | undefined): Promise<{ status: 'ok' | 'fail'; detail: string; fix?: string }> {
  if (!sandbox?.State.Running || !sandbox.State.Pid) return { status: 'ok', detail: `${instance} is not running (its egress rules are applied at start)` };
  const fix = `apply them again: aibox start${instance === 'aibox' ? '' : ` --name ${instance}`}`;
  const proxy = await ownProxy(new Podman(ctx.run), instance);
  if (!proxy?.State.Running) return { status: 'fail', detail: `the egress proxy ${proxyName(instance)} is not running: ${instance} reaches nothing outside`, fix };
  const table = await ctx.run('nsenter', ['--target', String(sandbox.State.Pid), '--net', 'nft', 'list', 'table', 'inet', NFT_TABLE], { allowFailure: true });
  const drops = table.stdout.match(/policy drop;/g)?.length ?? 0;
  if (table.exitCode !== 0 || drops < 2) return { status: 'fail', detail: `${instance}'s network namespace lacks aibox's drop-by-default rules (table inet ${NFT_TABLE}): egress bypasses the proxy`, fix };
  return { status: 'ok', detail: `proxy ${proxyName(instance)} at ${proxy.NetworkSettings?.IPAddress ?? '?'}:${PROXY_PORT}; table inet ${NFT_TABLE} drops everything else` };
}
