import type { Command } from 'commander';
import { text } from 'node:stream/consumers';
import type { Context } from '../core/context.js';
import { createOutput, type TextSink } from '../core/output.js';
import { resolvePaths } from '../core/paths.js';
import { runProcess } from '../core/runner.js';
import { aiboxCommand, resolveInstance, type Instance } from '../sandbox/instance.js';

export interface GlobalOptions {
  name: string;
  json: boolean;
}

/**
 * What one command line reads and writes: this process's own, or one request to the
 * in-sandbox command server (server.ts), which runs several at once.
 */
export interface CliIo {
  stdout: TextSink;
  stderr: TextSink;
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** All of stdin; only commands that take input call it. */
  readStdin(): Promise<string>;
}

export const processIo = (): CliIo => ({ stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd(), readStdin: () => text(process.stdin) });

const ioOfProgram = new WeakMap<Command, CliIo>();

/** Gives a program (built per command line) its I/O; commander's own help and errors go there too. */
export function bindIo(program: Command, io: CliIo): void {
  ioOfProgram.set(program, io);
  const width = (sink: TextSink) => (sink.isTTY && sink.columns) || 80;
  program.configureOutput({
    writeOut: (str) => io.stdout.write(str),
    writeErr: (str) => io.stderr.write(str),
    getOutHelpWidth: () => width(io.stdout),
    getErrHelpWidth: () => width(io.stderr),
    getOutHasColors: () => false,
    getErrHasColors: () => false,
  });
}

export function ioOf(command: Command): CliIo {
  let root = command;
  while (root.parent) root = root.parent;
  const io = ioOfProgram.get(root);
  if (!io) throw new Error('aibox: a command ran without I/O bound to its program');
  return io;
}

/** Builds the dependencies of one command run from its global flags. */
export function contextFor(command: Command): { ctx: Context; instance: Instance } {
  const globals = command.optsWithGlobals<GlobalOptions>();
  const io = ioOf(command);
  const paths = resolvePaths(io.env);
  const ctx: Context = { run: runProcess, paths, out: createOutput(Boolean(globals.json), io.stdout, io.stderr), env: io.env, cwd: io.cwd };
  return { ctx, instance: resolveInstance(paths, globals.name) };
}

export function connectHint(instance: Instance): string {
  return [`Connect:  ssh ${instance.name}`, `          (or ${aiboxCommand(instance, 'shell')}; VS Code: Remote-SSH: Connect to Host… → ${instance.name})`].join('\n');
}
