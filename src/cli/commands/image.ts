import type { Command } from 'commander';
import { loadConfig } from '../../config/store.js';
import { ensureImage, planCurrentImage } from '../../image/build.js';
import { checkPrerequisites, requirePrerequisites } from '../../setup/prereqs.js';
import { contextFor } from '../app.js';

export function registerImage(program: Command): void {
  const image = program.command('image').description('The sandbox base image (sources in images/base)');
  image
    .command('build')
    .description('Build the image if its inputs changed (Debian bookworm via debootstrap, or FROM setting image.from)')
    .option('--force', 'rebuild even when an image with the same inputs exists')
    .action(async (options: { force?: boolean }, command: Command) => {
      const { ctx } = contextFor(command);
      const config = await loadConfig(ctx.paths);
      requirePrerequisites((await checkPrerequisites(config, ctx.env)).filter((report) => report.program !== 'runsc'));
      const plan = await planCurrentImage(config);
      const built = await ensureImage(ctx, plan, Boolean(options.force));
      ctx.out.result({ image: plan.tag, built, base: plan.base }, built ? `Built ${plan.tag}` : `${plan.tag} is up to date`);
    });
}
