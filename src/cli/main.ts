import { Command, CommanderError, Option } from 'commander';
import { AiboxError, exitCodeOf, ERROR_CODES } from '../core/errors.js';
import { DEFAULT_INSTANCE } from '../sandbox/instance.js';
import { registerApprovals } from './commands/approvals.js';
import { registerConfig } from './commands/config.js';
import { registerConnect } from './commands/connect.js';
import { registerDoctor } from './commands/doctor.js';
import { registerEgress } from './commands/egress.js';
import { registerImage } from './commands/image.js';
import { registerPolicy } from './commands/policy.js';
import { registerPortForward } from './commands/port-forward.js';
import { registerBroker, registerInstall } from './commands/install.js';
import { registerList } from './commands/list.js';
import { registerLs } from './commands/ls.js';
import { registerMcp } from './commands/mcp.js';
import { registerPack } from './commands/pack.js';
import { registerPush } from './commands/push.js';
import { registerRm } from './commands/rm.js';
import { registerRotateHostKey } from './commands/rotate-host-key.js';
import { registerSetup } from './commands/setup.js';
import { registerStart } from './commands/start.js';
import { registerStatus } from './commands/status.js';
import { registerStop } from './commands/stop.js';
import { registerUpgrade } from './commands/upgrade.js';
import { registerVscode } from './commands/vscode.js';
import { bindIo, processIo, type CliIo } from './app.js';
import { registerCliServer } from './server.js';

declare const AIBOX_VERSION: string | undefined;

type Register = (program: Command) => void;
const ALL_COMMANDS: Register[] = [registerSetup, registerStart, registerStop, registerStatus, registerLs, registerConnect, registerPortForward, registerInstall, registerList, registerMcp, registerPack, registerPush, registerApprovals, registerRm, registerUpgrade, registerRotateHostKey, registerDoctor, registerConfig, registerPolicy, registerEgress, registerImage, registerBroker, registerVscode];

function buildProgram(io: CliIo, commands: readonly Register[]): Command {
  const program = new Command('aibox');
  // Before any subcommand exists: each copies its parent's output settings when made.
  bindIo(program, io);
  program
    .description('A hardened sandbox for AI coding agents, reachable over SSH from your IDE')
    .version(typeof AIBOX_VERSION === 'string' ? AIBOX_VERSION : 'dev')
    .addOption(
      new Option('--name <name>', 'sandbox instance: prefixes its container, volumes and SSH host alias')
        .env('AIBOX_INSTANCE')
        .default(DEFAULT_INSTANCE),
    )
    .option('--json', 'print the result as one JSON document on stdout')
    .addHelpText(
      'after',
      [
        '',
        'Quick start:  aibox setup && aibox start, then: ssh aibox',
        'Exit codes:   0 ok, 2 usage, 3 invalid file, 4 missing prerequisite, 5 conflict,',
        '              6 external program failed, 7 not found, 8 denied by policy',
      ].join('\n'),
    )
    .showSuggestionAfterError()
    .configureHelp({ showGlobalOptions: true })
    .exitOverride();
  for (const register of commands) register(program);
  // It serves `aibox install` and `aibox mcp …` inside, install and uninstall on the host (servedByServer): it builds only those per request.
  registerCliServer(program, (args, requestIo, side) => runCli(args, requestIo, side === 'host' ? [registerInstall] : [registerInstall, registerMcp]));
  program.commands.forEach(function exitOverrideAll(command: Command) {
    command.exitOverride();
    command.commands.forEach(exitOverrideAll);
  });
  return program;
}

/** The only place that turns errors into messages and exit codes. */
function report(error: unknown, json: boolean, io: CliIo): number {
  if (error instanceof CommanderError) {
    // commander already printed its message (or the help/version text)
    return error.exitCode === 0 ? 0 : ERROR_CODES.USAGE;
  }
  const known = error instanceof AiboxError;
  const code = known ? error.code : 'INTERNAL';
  const message = error instanceof Error ? error.message : String(error);
  const hint = known ? error.hint : 'this is a bug in aibox; please report it with the command you ran';
  io.stderr.write(`error: ${message}\n${hint ? `hint: ${hint}\n` : ''}`);
  if (!known && io.env.AIBOX_DEBUG && error instanceof Error) io.stderr.write(`${error.stack}\n`);
  if (json) io.stdout.write(`${JSON.stringify({ ok: false, error: { code, message, hint } }, null, 2)}\n`);
  return exitCodeOf(error);
}

/** Runs one command line (`argv` as in process.argv); resolves to its exit code when it failed. */
async function runCli(argv: string[], io: CliIo, commands: readonly Register[] = ALL_COMMANDS): Promise<number | undefined> {
  try {
    await buildProgram(io, commands).parseAsync(argv);
    return undefined;
  } catch (error) {
    return report(error, argv.includes('--json'), io);
  }
}

async function main(): Promise<void> {
  const code = await runCli(process.argv, processIo());
  if (code !== undefined) process.exitCode = code;
}

void main();
