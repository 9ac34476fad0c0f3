import type { Command } from 'commander';
import { AiboxError } from '../../core/errors.js';
import { installThroughHost } from '../../packs/install-from-sandbox.js';
import { serveBroker } from '../../broker/server.js';
import { installIntoSandbox, packStoreOf, uninstallPacks, type InstallReport } from '../../packs/install.js';
import { parsePackSpec } from '../../packs/manifest.js';
import { requireRunningQuick } from '../../sandbox/lifecycle.js';
import { contextFor } from '../app.js';

export function describeInstall(report: InstallReport, inSandbox = false): string {
  const lines = report.packs.map((pack) =>
    pack.outcome === 'installed'
      ? `Installed ${pack.name}@${pack.version} (signed by ${pack.signedBy}${pack.downloaded ? '' : ', layer already downloaded'})`
      : `${pack.name}@${pack.version} is already installed`,
  );
  if (report.lockFile) lines.push(`Locked in ${report.lockFile}`);
  if (inSandbox && report.packs.some((pack) => pack.outcome === 'installed')) lines.push('New shells have it; in this one: . /etc/aibox/env.sh');
  return lines.join('\n');
}

export function registerInstall(program: Command): void {
  program
    .command('install')
    .description('Install tool packs into the running sandbox, no restart: aibox install java@21 node@20 (signatures and policy checked first)')
    .argument('<packs...>', 'NAME, NAME@MAJOR, NAME@MAJOR.MINOR or NAME@VERSION (newest match; dependencies too)')
    .option('--frozen', 'install exactly what .aibox/packs.lock names; refuse to resolve anew')
    .option('--lock <file>', 'the lock file (default: .aibox/packs.lock of the project around the current folder)')
    .action(async (specs: string[], options: { frozen?: boolean; lock?: string }, command: Command) => {
      const { ctx, instance } = contextFor(command);
      // Inside the sandbox, the host side installs (same checks); see src/broker/.
      const inSandbox = ctx.env.AIBOX_SANDBOX === '1';
      const report = inSandbox ? await installThroughHost(ctx, specs, options) : await installIntoSandbox(ctx, instance, specs, options);
      ctx.out.result({ instance: instance.name, ...report }, describeInstall(report, inSandbox));
    });
  program
    .command('uninstall')
    .description('Remove tool packs from the running sandbox')
    .argument('<packs...>', 'pack names')
    .action(async (names: string[], _options: object, command: Command) => {
      const { ctx, instance } = contextFor(command);
      if (ctx.env.AIBOX_SANDBOX === '1') throw new AiboxError('USAGE', 'uninstall runs on the host, not inside the sandbox', `on the host: aibox uninstall ${names.join(' ')}`);
      await requireRunningQuick(ctx, instance);
      const removed = await uninstallPacks(ctx, await packStoreOf(instance), names.map((name) => parsePackSpec(name).name));
      ctx.out.result({ instance: instance.name, removed }, `Removed ${removed.join(', ')}`);
    });
}

export function registerBroker(program: Command): void {
  program
    .command('broker', { hidden: true })
    .description('The host side of `aibox install` run inside the sandbox (started by aibox start; ends when the sandbox stops)')
    .action(async (_options: object, command: Command) => {
      const { ctx, instance } = contextFor(command);
      await serveBroker(ctx, instance);
    });
}
