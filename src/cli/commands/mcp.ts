import type { Command } from 'commander';
import { resolve } from 'node:path';
import type { Context } from '../../core/context.js';
import { npmRegistry as npmRegistryOf } from '../../config/package-sources.js';
import { catalogThroughHost, enableThroughHost } from '../../mcp/from-sandbox.js';
import { applyInSandbox, enableMcpPacks, mcpCatalog, userMcpPackDir, type SandboxSyncReport } from '../../mcp/host.js';
import { importServerJsonFile } from '../../mcp/server-json.js';
import { applyMcpChange, parseMcpChange, runMcpServer, type McpChange } from '../../mcp/sandbox.js';
import type { Instance } from '../../sandbox/instance.js';
import { contextFor, ioOf } from '../app.js';

const inSandbox = (ctx: Context) => ctx.env.AIBOX_SANDBOX === '1';

function describeSync(report: SandboxSyncReport): string {
  const present = report.agents.filter((agent) => agent.outcome !== 'skipped-not-installed');
  const absent = report.agents.filter((agent) => agent.outcome === 'skipped-not-installed').map((agent) => agent.agent);
  return [
    `Enabled: ${report.servers.join(', ') || '(none)'}`,
    ...present.map((agent) => `  ${agent.agent.padEnd(14)} ${agent.outcome}${agent.message ? `: ${agent.message.split('\n').join('; ')}` : ''}`),
    ...(absent.length ? [`  not installed: ${absent.join(', ')}`] : []),
  ].join('\n');
}

/** Here inside the sandbox, or through the sandbox's `aibox mcp apply` from the host. */
async function change(ctx: Context, instance: Instance, request: McpChange, check = false): Promise<SandboxSyncReport> {
  if (inSandbox(ctx)) return applyMcpChange(ctx.paths.home, ctx.env, request, check);
  return applyInSandbox(ctx, instance, request, check);
}

export function registerMcp(program: Command): void {
  const mcp = program.command('mcp').description("MCP packs: every AI agent in the sandbox finds the enabled MCP servers (docs/mcp.md)");
  mcp
    .command('enable')
    .description('Check the packs against the policy, install their servers, and add them to every agent\'s config')
    .argument('<packs...>', 'MCP pack names, e.g. filesystem-mcp git-mcp')
    .action(async (names: string[], _options: object, command: Command) => {
      const { ctx, instance } = contextFor(command);
      // Inside the sandbox the host side does it (same policy and signature checks): src/broker/.
      const report = inSandbox(ctx) ? await enableThroughHost(ctx, names) : await enableMcpPacks(ctx, instance, names);
      ctx.out.result(report, describeSync(report.sync));
    });
  mcp
    .command('disable')
    .description('Remove MCP servers from every agent\'s config (only what aibox added)')
    .argument('<packs...>', 'MCP pack names')
    .action(async (names: string[], _options: object, command: Command) => {
      const { ctx, instance } = contextFor(command);
      const report = await change(ctx, instance, { enable: {}, disable: names });
      ctx.out.result(report, describeSync(report));
    });
  mcp
    .command('regenerate')
    .description("Write every agent's config again from ~/.config/aibox/mcp.json (after an agent changed its file or format)")
    .action(async (_options: object, command: Command) => {
      const { ctx, instance } = contextFor(command);
      const report = await change(ctx, instance, { enable: {}, disable: [] });
      ctx.out.result(report, describeSync(report));
    });
  mcp
    .command('list')
    .description('Available MCP packs, the enabled ones, and per agent whether its config is in sync')
    .action(async (_options: object, command: Command) => {
      const { ctx, instance } = contextFor(command);
      const available = inSandbox(ctx) ? await catalogThroughHost(ctx) : await mcpCatalog(ctx);
      const state = await change(ctx, instance, { enable: {}, disable: [] }, true);
      const agents = state.agents.map((agent) => ({ ...agent, inSync: agent.outcome === 'unchanged' || agent.outcome === 'skipped-not-installed' }));
      ctx.out.result(
        { available, enabled: state.servers, agents },
        [
          ...(available.length ? ['Available:', ...available.map((pack) => `  ${state.servers.includes(pack.name) ? '*' : ' '} ${pack.name.padEnd(16)} ${pack.description}`)] : []),
          `Enabled: ${state.servers.join(', ') || '(none)'}`,
          ...agents.map((agent) => `  ${agent.agent.padEnd(14)} ${agent.inSync ? 'in sync' : `out of sync (${agent.outcome}): aibox mcp regenerate`}`),
        ].join('\n'),
      );
    });
  mcp
    .command('import')
    .description('Make an MCP pack from an MCP registry server.json (written to ~/.config/aibox/mcp-packs/NAME.yaml)')
    .argument('<file>', 'the server.json')
    .option('--name <name>', "the pack's name (default: the last part of the server's name)")
    .option('--pack <toolpack>', 'a signed tool pack that provides the server, e.g. mcp-jira@1.2.0 (default for npm packages: npx on node@20)')
    .option('--command <command>', 'the program that tool pack puts on PATH (with --pack)')
    .option('--force', 'replace an existing pack of that name')
    .action(async (file: string, options: { name?: string; pack?: string; command?: string; force?: boolean }, command: Command) => {
      const { ctx } = contextFor(command);
      const npmRegistry = options.pack ? undefined : await npmRegistryOf(ctx.run);
      const { pack, path, warnings } = await importServerJsonFile(resolve(ctx.cwd, file), userMcpPackDir(ctx), { ...options, npmRegistry });
      warnings.forEach((warning) => ctx.out.warn(warning));
      ctx.out.result({ name: pack.name, version: pack.version, path, pack }, `Imported ${pack.name} ${pack.version} into ${path}; enable it with: aibox mcp enable ${pack.name}`);
    });
  mcp
    .command('apply', { hidden: true })
    .description('Inside the sandbox: apply a change sent by the host side on stdin')
    .option('--check', 'change nothing; report what would be written')
    .action(async (options: { check?: boolean }, command: Command) => {
      const { ctx } = contextFor(command);
      const report = await applyMcpChange(ctx.paths.home, ctx.env, parseMcpChange(await ioOf(command).readStdin()), Boolean(options.check));
      ctx.out.result(report, describeSync(report));
    });
  mcp
    .command('run', { hidden: true })
    .description('Inside the sandbox: start an enabled MCP server with its secrets resolved (agents call this)')
    .argument('<name>', 'server name')
    .action(async (name: string, _options: object, command: Command) => {
      const { ctx } = contextFor(command);
      process.exitCode = await runMcpServer(ctx.run, ctx.paths.home, ctx.env, name);
    });
}
