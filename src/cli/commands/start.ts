import { Command, InvalidArgumentError } from 'commander';
import { ensureBroker } from '../../broker/process.js';
import { regenerateAtStart } from '../../mcp/host.js';
import { loadConfig } from '../../config/store.js';
import { installIntoSandbox } from '../../packs/install.js';
import { adoptImagePacks, buildVariant, parseVariant, variantTip, VARIANTS } from '../../packs/variants.js';
import { loadPolicyFor } from '../../policy/load.js';
import { startSandbox } from '../../sandbox/lifecycle.js';
import { describeInstall } from './install.js';
import { connectHint, contextFor } from '../app.js';

function parsePort(value: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port < 1024 || port > 65535) {
    throw new InvalidArgumentError(`"${value}" is not a port from 1024 to 65535`);
  }
  return port;
}

export function registerStart(program: Command): void {
  program
    .command('start')
    .description('Create or start the sandbox (gVisor by default), then print how to connect')
    .option('--profile <name>', 'resource profile: default or jetbrains (4 cores, 8-12 GB)')
    .option('--runtime <name>', 'gvisor (default when installed) or runc (weaker isolation)')
    .option('--port <port>', 'host port on 127.0.0.1 for SSH (default: setting ssh.port, 2222)', parsePort)
    .option('--toolpacks <packs>', 'tool packs to install once it runs, e.g. java@21,node@20')
    .option('--image <variant>', `an image variant with tool packs baked in, built on first use: ${Object.keys(VARIANTS).join(', ')} (aibox image build --variant)`)
    .action(async (options: { profile?: string; runtime?: string; port?: number; toolpacks?: string; image?: string }, command: Command) => {
      const { ctx, instance } = contextFor(command);
      const variant = options.image === undefined ? undefined : parseVariant(options.image);
      const config = await loadConfig(ctx.paths);
      const image = variant ? (await buildVariant(ctx, config, await loadPolicyFor(ctx, config), variant)).image : undefined;
      const { outcome, state, shell } = await startSandbox(ctx, instance, { ...options, image });
      // A packs volume that holds packs (kept from an earlier sandbox) did not get the image's from podman.
      const adopted = image && outcome !== 'already-running' && state.image === image ? await adoptImagePacks(ctx, instance, image) : [];
      if (adopted.length > 0) ctx.out.info(`From the image ${image}: ${adopted.join(', ')}`);
      const tip = !variant && outcome === 'created' ? variantTip(ctx.cwd, instance) : undefined;
      if (tip) ctx.out.info(tip);
      await ensureBroker(ctx, instance); // lets `aibox install` work from inside the sandbox
      const mcp = outcome === 'already-running' ? undefined : await regenerateAtStart(ctx, instance);
      mcp?.agents.filter((agent) => ['unparseable', 'conflict', 'failed'].includes(agent.outcome)).forEach((agent) => ctx.out.warn(`MCP: ${agent.agent}: ${agent.message ?? 'not updated'} (aibox mcp list)`));
      const packs = options.toolpacks ? await installIntoSandbox(ctx, instance, [options.toolpacks], {}) : undefined;
      if (packs) ctx.out.info(describeInstall(packs));
      const headline = {
        created: `Created and started ${instance.name}`,
        started: `Started ${instance.name}`,
        'already-running': `${instance.name} is already running`,
      }[outcome];
      ctx.out.result(
        { outcome, instance: instance.name, packs: packs?.packs, imagePacks: adopted, mcp: mcp?.servers, shell, runtime: state.runtime, profile: state.profile, port: state.port, image: state.image, ssh: `ssh ${instance.name}` },
        `${headline} (${state.runtime}, profile ${state.profile}, 127.0.0.1:${state.port})\n${connectHint(instance)}`,
      );
    });
}
