import type { Command } from 'commander';
import { listInstances } from '../../sandbox/instances.js';
import { contextFor } from '../app.js';

export function registerLs(program: Command): void {
  program
    .command('ls')
    .description('List every sandbox on this host: state, runtime, SSH port and alias (a removed one whose volumes are kept shows as absent)')
    .action(async (_options: object, command: Command) => {
      const { ctx } = contextFor(command);
      const instances = await listInstances(ctx);
      const rows = instances.map((one) => [one.name, one.state, one.runtime ?? '-', one.port ? `127.0.0.1:${one.port}` : '-', one.ssh]);
      const widths = [0, 1, 2, 3].map((column) => Math.max(...[['NAME', 'STATE', 'RUNTIME', 'SSH PORT'], ...rows].map((row) => row[column]?.length ?? 0)));
      const line = (row: string[]) => row.map((cell, column) => (column < 4 ? cell.padEnd(widths[column] ?? 0) : cell)).join('  ');
      ctx.out.result({ instances }, instances.length === 0 ? 'No sandboxes yet: aibox start' : [line(['NAME', 'STATE', 'RUNTIME', 'SSH PORT', 'CONNECT']), ...rows.map(line)].join('\n'));
    });
}
