import type { Command } from 'commander';
import { AiboxError } from '../../core/errors.js';
import { applyMachineSettings } from '../../ide/index.js';
import { contextFor } from '../app.js';

export function registerVscode(program: Command): void {
  program
    .command('vscode-machine-settings', { hidden: true })
    .description("Inside the sandbox (run by aibox start's shell setup): telemetry off in ~/.vscode-server/data/Machine/settings.json")
    .action(async (_options: object, command: Command) => {
      const { ctx } = contextFor(command);
      if (ctx.env.AIBOX_SANDBOX !== '1') throw new AiboxError('USAGE', 'aibox vscode-machine-settings runs inside the sandbox only', 'aibox start runs it');
      const changed = await applyMachineSettings(ctx.paths.home);
      ctx.out.result({ changed }, changed ? 'telemetry off merged into the VS Code machine settings' : 'the VS Code machine settings already have telemetry off');
    });
}
