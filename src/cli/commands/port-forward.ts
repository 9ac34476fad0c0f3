import type { Command } from 'commander';
import { AiboxError } from '../../core/errors.js';
import { formatForward, isLoopback, listForwards, parseForwardSpecs, startForwards, stopForwards, type ActiveForward } from '../../forward/index.js';
import { aiboxCommand } from '../../sandbox/instance.js';
import { contextFor } from '../app.js';

interface Flags {
  list?: boolean;
  stop?: boolean;
  stopAll?: boolean;
  allowNonLoopback?: boolean;
}

function describe(forward: ActiveForward): string {
  return `${forward.bind}:${forward.local} -> sandbox port ${forward.remote}`;
}

function table(forwards: readonly ActiveForward[], empty: string): string {
  return forwards.length === 0 ? empty : forwards.map((forward) => `${formatForward(forward).padEnd(12)}  ${describe(forward)}  (since ${forward.since})`).join('\n');
}

export function registerPortForward(program: Command): void {
  program
    .command('port-forward')
    .description("Forward host ports to ports in the sandbox over its shared SSH connection (debuggers, dev servers); loopback only unless --allow-non-loopback")
    .argument('[spec...]', 'PORT, LOCAL:REMOTE, FIRST-LAST, BIND:LOCAL:REMOTE, or comma-separated lists of these')
    .option('--list', 'show the active forwards')
    .option('--stop', 'cancel the forwards of the given local ports')
    .option('--stop-all', 'cancel every forward')
    .option('--allow-non-loopback', 'allow a bind address other machines can reach (0.0.0.0, a LAN address): they could then use the sandbox\'s services')
    .addHelpText(
      'after',
      [
        '',
        'The forwards live in the shared SSH connection (ControlMaster) and return at once;',
        'they end when the sandbox stops (or that connection is closed: --list then shows none,',
        'and running port-forward again sets them up again).',
        '',
        'Examples:',
        '  $ aibox port-forward 9229                 # Node --inspect: host 127.0.0.1:9229 -> sandbox 9229',
        '  $ aibox port-forward 5005,5678            # Java JDWP and Python debugpy',
        '  $ aibox port-forward 8888:8080            # host 8888 -> sandbox 8080',
        '  $ aibox port-forward 3000-3002 [::1]:4000:4000',
        '  $ aibox port-forward --list --json',
        '  $ aibox port-forward --stop 8888          # by local port',
        '  $ aibox port-forward --stop-all',
      ].join('\n'),
    )
    .action(async (specs: string[], flags: Flags, command: Command) => {
      const { ctx, instance } = contextFor(command);
      const modes = [flags.list, flags.stop, flags.stopAll].filter(Boolean).length;
      if (modes > 1) throw new AiboxError('USAGE', 'give only one of --list, --stop and --stop-all', aiboxCommand(instance, 'port-forward --help'));
      if ((flags.list || flags.stopAll) && specs.length > 0) throw new AiboxError('USAGE', `--${flags.list ? 'list' : 'stop-all'} takes no port spec (got ${specs.join(' ')})`, 'to cancel some forwards: aibox port-forward --stop SPEC');
      if (flags.list) {
        const { master, forwards } = await listForwards(ctx, instance);
        ctx.out.result({ instance: instance.name, master: master ?? null, forwards }, table(forwards, `No active port forwards for ${instance.name}.`));
        return;
      }
      if (flags.stop || flags.stopAll) {
        const which = flags.stopAll ? undefined : parseForwardSpecs(specs, { allowNonLoopback: true });
        const { stopped, forwards } = await stopForwards(ctx, instance, which);
        ctx.out.result({ instance: instance.name, stopped, forwards }, stopped.length === 0 ? 'No active port forwards.' : `Stopped ${stopped.map(formatForward).join(', ')}.`);
        return;
      }
      const wanted = parseForwardSpecs(specs, { allowNonLoopback: Boolean(flags.allowNonLoopback) });
      for (const bind of new Set(wanted.map((forward) => forward.bind).filter((bind) => !isLoopback(bind)))) {
        ctx.out.warn(`listening on ${bind}: other machines that reach it can use these sandbox ports`);
      }
      const { forwards, added } = await startForwards(ctx, instance, wanted);
      const kept = wanted.length - added.length;
      const human = [...added.map((forward) => `Forwarding ${describe(forward)}`), ...(kept > 0 ? [`${kept} already active.`] : []), `Stop: ${aiboxCommand(instance, `port-forward --stop ${wanted.map(formatForward).join(',')}`)}`];
      ctx.out.result({ instance: instance.name, added, forwards }, human.join('\n'));
    });
}
