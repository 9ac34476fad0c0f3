import type { Command } from 'commander';
import { egressLog, followEgressLog, formatEntry, parseSince, proxyName } from '../../egress/index.js';
import { aiboxCommand } from '../../sandbox/instance.js';
import { contextFor } from '../app.js';

interface LogFlags {
  all?: boolean;
  since?: string;
  follow?: boolean;
}

export function registerEgress(program: Command): void {
  const egress = program.command('egress').description("The sandbox's egress proxy: what it refused, and how to allow it");
  egress
    .command('log')
    .description('List the requests the egress proxy denied, each with the policy change that would allow it')
    .option('--all', 'include the allowed requests')
    .option('--since <duration>', 'only requests of the last DURATION: 30s, 10m, 48h, 7d')
    .option('-f, --follow', 'print requests as the proxy logs them (from now, or from --since) until Ctrl-C')
    .addHelpText(
      'after',
      [
        '',
        'Requests alike (verdict, method, host:port) are shown once, with a count; --follow shows each.',
        'With --json: {"ok": true, "proxy", "requests": [...]}; with --follow, one request per line.',
        '',
        'Example:',
        '  $ aibox egress log --since 1h',
        '  2026-01-05 14:02:11  denied   CONNECT registry.example.com:443  (3 times since 2026-01-05 13:58:40)',
        '      fix: add {host: registry.example.com, ports: [443]} to network.egress in /src/app/.aibox/policy.yaml — the project layer may only tighten; ask for it in the org policy /etc/aibox/policy.yaml',
        '  After changing a policy file: aibox policy apply',
        '  $ aibox egress log --follow --json     # one JSON object per request, until Ctrl-C',
      ].join('\n'),
    )
    .action(async (flags: LogFlags, command: Command) => {
      const { ctx, instance } = contextFor(command);
      const options = { all: Boolean(flags.all), sinceMs: flags.since === undefined ? undefined : parseSince(flags.since) };
      const apply = aiboxCommand(instance, 'policy apply');
      if (flags.follow) {
        ctx.out.info(`Following ${proxyName(instance.name)} (Ctrl-C to stop); after changing a policy file: ${apply}`);
        await followEgressLog(ctx, instance.name, options, (entry) => ctx.out.record(entry, formatEntry(entry)));
        return;
      }
      const { proxy, requests } = await egressLog(ctx, instance.name, options);
      const what = `${options.all ? '' : 'denied '}requests in ${proxy}'s log${flags.since ? ` of the last ${flags.since}` : ''}`;
      const human = requests.length === 0 ? `No ${what}.` : [...requests.map(formatEntry), ...(requests.some((entry) => entry.fix) ? [`After changing a policy file: ${apply}`] : [])].join('\n');
      ctx.out.result({ proxy, requests }, human);
    });
}
