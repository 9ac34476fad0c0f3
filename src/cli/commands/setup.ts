import type { Command } from 'commander';
import { loadConfig } from '../../config/store.js';
import { ensureImage, planCurrentImage } from '../../image/build.js';
import { loadPolicyFor } from '../../policy/load.js';
import { writeSshEntries } from '../../sandbox/lifecycle.js';
import { aiboxCommand } from '../../sandbox/instance.js';
import { readState } from '../../sandbox/state.js';
import { checkPrerequisites, requirePrerequisites } from '../../setup/prereqs.js';
import { ensureInstanceKeys } from '../../ssh/keys.js';
import { contextFor } from '../app.js';

export function registerSetup(program: Command): void {
  program
    .command('setup')
    .description('Check host prerequisites, create the sandbox SSH keys, build the image and write the SSH config')
    .option('--dry-run', 'only show what would change in ~/.ssh/config (a diff); change nothing')
    .action(async (options: { dryRun?: boolean }, command: Command) => {
      const { ctx, instance } = contextFor(command);
      const config = await loadConfig(ctx.paths);
      const policy = await loadPolicyFor(ctx, config);
      policy.warnings.forEach((warning) => ctx.out.warn(warning));
      const prerequisites = await checkPrerequisites(config, ctx.env);
      requirePrerequisites(prerequisites);
      const port = (await readState(instance.dir))?.port ?? config['ssh.port'];
      if (options.dryRun) {
        const change = await writeSshEntries(ctx, instance, port, true);
        ctx.out.result({ dryRun: true, sshConfig: change }, change.changed ? change.diff : `${change.path} is up to date`);
        return;
      }
      await ensureInstanceKeys(ctx.run, instance.dir, instance.name);
      const plan = await planCurrentImage(config);
      const built = await ensureImage(ctx, plan);
      const change = await writeSshEntries(ctx, instance, port);
      ctx.out.result(
        { instance: instance.name, image: plan.tag, imageBuilt: built, sshConfig: { path: change.path, changed: change.changed }, prerequisites },
        [
          `Image:      ${plan.tag}${built ? ' (built)' : ''}`,
          `SSH config: Host ${instance.name} in ${change.path}${change.changed ? ' (updated)' : ''}`,
          ...prerequisites.filter((report) => !report.path).map((report) => `Optional:   ${report.program} is not installed (${report.why}): sudo apt-get install -y ${report.aptPackage}`),
          `Next:       ${aiboxCommand(instance, 'start')}`,
        ].join('\n'),
      );
    });
}
