import type { Command } from 'commander';
import type { Context } from '../core/context.js';
import { createOutput } from '../core/output.js';
import { resolvePaths } from '../core/paths.js';
import { runProcess } from '../core/runner.js';
import { aiboxCommand, resolveInstance, type Instance } from '../sandbox/instance.js';

export interface GlobalOptions {
  name: string;
  json: boolean;
}

/** Builds the dependencies of one command run from its global flags. */
export function contextFor(command: Command): { ctx: Context; instance: Instance } {
  const globals = command.optsWithGlobals<GlobalOptions>();
  const paths = resolvePaths(process.env);
  const ctx: Context = { run: runProcess, paths, out: createOutput(Boolean(globals.json)), env: process.env, cwd: process.cwd() };
  return { ctx, instance: resolveInstance(paths, globals.name) };
}

export function connectHint(instance: Instance): string {
  return [`Connect:  ssh ${instance.name}`, `          (or ${aiboxCommand(instance, 'shell')}; VS Code: Remote-SSH: Connect to Host… → ${instance.name})`].join('\n');
}
