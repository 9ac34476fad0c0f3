import type { Command } from 'commander';
import { loadConfig } from '../../config/store.js';
import { ensureImage, planCurrentImage } from '../../image/build.js';
import { buildVariant, parseVariant, VARIANTS } from '../../packs/variants.js';
import { loadPolicyFor } from '../../policy/load.js';
import { checkPrerequisites, requirePrerequisites } from '../../setup/prereqs.js';
import { contextFor } from '../app.js';

export function registerImage(program: Command): void {
  const image = program.command('image').description('The sandbox base image (sources in images/base) and its variants with tool packs baked in');
  image
    .command('build')
    .description('Build the image if its inputs changed (Debian bookworm via debootstrap, or FROM setting image.from)')
    .option('--force', 'rebuild even when an image with the same inputs exists')
    .option('--variant <name>', `build an image variant: the base image with tool packs baked in from the pack registry (${Object.entries(VARIANTS).map(([name, variant]) => `${name}: ${variant.packs.join(' ')}`).join('; ')})`)
    .action(async (options: { force?: boolean; variant?: string }, command: Command) => {
      const { ctx } = contextFor(command);
      const variant = options.variant === undefined ? undefined : parseVariant(options.variant);
      const config = await loadConfig(ctx.paths);
      requirePrerequisites((await checkPrerequisites(config, ctx.env)).filter((report) => report.program !== 'runsc'));
      if (variant) {
        const result = await buildVariant(ctx, config, await loadPolicyFor(ctx, config), variant, Boolean(options.force));
        const packs = result.packs.map((pack) => `${pack.name}@${pack.version}`).join(', ');
        ctx.out.result(result, `${result.built ? 'Built' : 'Up to date:'} ${result.image} with ${packs}; start a sandbox from it: aibox start --image ${variant}`);
        return;
      }
      const plan = await planCurrentImage(config);
      const built = await ensureImage(ctx, plan, Boolean(options.force));
      ctx.out.result({ image: plan.tag, built, base: plan.base }, built ? `Built ${plan.tag}` : `${plan.tag} is up to date`);
    });
}
