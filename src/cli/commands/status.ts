import type { Command } from 'commander';
import { describeEgress, egressStatus } from '../../egress/index.js';
import { aiboxCommand } from '../../sandbox/instance.js';
import { packStoreOf } from '../../packs/install.js';
import { readInstalled } from '../../packs/sandbox-store.js';
import { sandboxStatus } from '../../sandbox/lifecycle.js';
import { contextFor } from '../app.js';

export function registerStatus(program: Command): void {
  program
    .command('status')
    .description('Show the sandbox: state, runtime, profile, ports, egress proxy, volumes and image')
    .action(async (_options: object, command: Command) => {
      const { ctx, instance } = contextFor(command);
      const status = await sandboxStatus(ctx, instance);
      const installed = status.state === 'absent' ? undefined : await packStoreOf(instance).then(readInstalled, () => undefined);
      const packs = Object.entries(installed?.packs ?? {}).map(([name, pack]) => ({ name, version: pack.version, digest: pack.digest, source: pack.source }));
      if (status.state === 'absent') {
        ctx.out.result({ status }, `${instance.name}: absent (create it: ${aiboxCommand(instance, 'start')})`);
        return;
      }
      const egress = await egressStatus(ctx, instance.name);
      const lines = [
        `${status.instance}: ${status.state}`,
        `  runtime   ${status.runtime} (${status.ociRuntime})${status.runtime === 'runc' ? '  warning: runc shares the host kernel, a weaker isolation than gVisor' : ''}`,
        `  profile   ${status.profile} (${status.resources?.cpus} CPUs, ${status.resources?.memoryGiB} GB)`,
        `  image     ${status.image?.ref}${status.image?.current ? '' : ' (outdated: aibox upgrade re-creates it; volumes, packs and keys are kept)'}`,
        `  ssh       ${status.ssh?.command}  (${status.ssh?.address}:${status.ssh?.port})`,
        `  egress    ${describeEgress(egress, aiboxCommand(instance, 'start'))}`,
        ...status.volumes.map((volume) => `  volume    ${volume.name} -> ${volume.mount}${volume.readOnly ? ' (read-only)' : ''}`),
        ...packs.map((pack) => `  pack      ${pack.name}@${pack.version}${pack.source === 'image' ? ' (in the image)' : ''}`),
      ];
      ctx.out.result({ status: { ...status, packs, egress } }, lines.join('\n'));
    });
}
