import { join } from 'node:path';
import { z } from 'zod';
import { loadConfig } from '../config/store.js';
import type { Context } from '../core/context.js';
import { AiboxError } from '../core/errors.js';
import { parseJson } from '../core/json.js';
import { packageRoot } from '../image/package-root.js';
import { installIntoSandbox, packStoreOf, type InstallReport } from '../packs/install.js';
import { parsePackSpec } from '../packs/manifest.js';
import { readInstalled } from '../packs/sandbox-store.js';
import { loadPolicyFor } from '../policy/load.js';
import type { Instance } from '../sandbox/instance.js';
import { requireRunning } from '../sandbox/lifecycle.js';
import { loadMcpPacks, mcpDenials, requireMcpPack, type McpPack } from './pack.js';
import type { McpChange } from './sandbox.js';

/** What the in-sandbox half reports: the enabled servers, and per agent what happened to its file. */
export const syncReportSchema = z.object({
  servers: z.array(z.string()),
  agents: z.array(z.object({ agent: z.string(), path: z.string(), outcome: z.string(), message: z.string().optional() })),
});
export type SandboxSyncReport = z.infer<typeof syncReportSchema>;

/** The user's own MCP packs (and where `aibox mcp import` writes): ~/.config/aibox/mcp-packs. */
export function userMcpPackDir(ctx: Pick<Context, 'paths'>): string {
  return join(ctx.paths.configDir, 'mcp-packs');
}

/** aibox's own MCP packs, then the user's (same name wins). */
export function mcpPackDirs(ctx: Pick<Context, 'paths'>): string[] {
  return [join(packageRoot(), 'mcp-packs'), userMcpPackDir(ctx)];
}

export const catalogEntrySchema = z.object({ name: z.string(), version: z.string(), description: z.string() });
export type CatalogEntry = z.infer<typeof catalogEntrySchema>;

/** The MCP packs there are, for `aibox mcp list`. */
export async function mcpCatalog(ctx: Pick<Context, 'paths'>): Promise<CatalogEntry[]> {
  return [...(await loadMcpPacks(mcpPackDirs(ctx))).values()].map(({ name, version, description }) => ({ name, version, description }));
}

/** Runs the in-sandbox half (`aibox mcp apply`, as dev) over the shared SSH connection. */
export async function applyInSandbox(ctx: Context, instance: Instance, change: McpChange, check = false): Promise<SandboxSyncReport> {
  const args = ['-F', instance.sshConfig, instance.name, 'aibox', 'mcp', 'apply', '--json', ...(check ? ['--check'] : [])];
  const result = await ctx.run('ssh', args, { input: JSON.stringify(change), allowFailure: true });
  // ssh's own failure: most often a sandbox that is not running, which requireRunning says plainly.
  if (result.exitCode === 255) await requireRunning(ctx, instance);
  return parseSyncReply(instance, result);
}

/**
 * The check `aibox start` runs in the sandbox (POSIX sh, as dev; bash or zsh, so no
 * variable zsh reserves such as \`path\`): nothing when no server was ever enabled; nothing
 * either while the inputs of the last sync (write.ts, syncInputsPath) are as they were
 * after it — which of them exist, the content of each file, aibox itself (its bundle) and
 * the environment that places them —, verified by one \`sha256sum -c\` (every program
 * started under gVisor costs ~40 ms). Otherwise \`aibox mcp apply\` (with Node: a command
 * server started here would cost a Node start beside the user's first connection), and
 * after a success the new sums are kept for the next start.
 */
export function regenerateAtStartScript(bundle = '/opt/aibox/lib/aibox.mjs'): string {
  return `case \${XDG_CONFIG_HOME-} in /*) config=$XDG_CONFIG_HOME/aibox ;; *) config=$HOME/.config/aibox ;; esac
case \${XDG_STATE_HOME-} in /*) state=$XDG_STATE_HOME/aibox ;; *) state=$HOME/.local/state/aibox ;; esac
test -e "$config/mcp.json" || exit 0
inputs=$state/mcp-sync.inputs
present() {
  printf '%s\\n' "$HOME" "\${CODEX_HOME-}" "\${XDG_CONFIG_HOME-}" "\${XDG_STATE_HOME-}"
  while IFS= read -r input; do
    if [ -e "$input" ]; then printf '+%s\\n' "$input"; else printf -- '-%s\\n' "$input"; fi
  done < "$inputs"
}
if [ -f "$inputs" ] && present > "$state/mcp-sync.present" && sha256sum --status --strict -c "$state/mcp-sync.sum" 2>/dev/null; then exit 0; fi
AIBOX_NO_SERVER=1 aibox mcp apply --json || exit
[ -f "$inputs" ] || exit 0
present > "$state/mcp-sync.present"
set --
while IFS= read -r input; do
  if [ -f "$input" ]; then set -- "$@" "$input"; fi
done < "$inputs"
sha256sum -- "$@" "$state/mcp-sync.present" "${bundle}" > "$state/mcp-sync.sum"
`;
}

/**
 * At \`aibox start\`: every agent's file again from the canonical one (an agent may have
 * rewritten its file, or a new aibox renders it differently), when anything it depends on
 * changed (regenerateAtStartScript). A failure is a warning: the sandbox runs.
 */
export async function regenerateAtStart(ctx: Context, instance: Instance): Promise<SandboxSyncReport | undefined> {
  const result = await ctx.run('ssh', ['-F', instance.sshConfig, instance.name, regenerateAtStartScript()], { input: '{}', allowFailure: true });
  if (result.exitCode === 0 && result.stdout.trim() === '') return undefined;
  try {
    return parseSyncReply(instance, result);
  } catch (error) {
    ctx.out.warn(error instanceof AiboxError ? `${error.message} (${error.hint ?? ''})` : String(error));
    return undefined;
  }
}

function parseSyncReply(instance: Instance, result: { stdout: string; stderr: string; exitCode: number }): SandboxSyncReport {
  const reply = syncReportSchema.safeParse(parseJson(result.stdout));
  if (!reply.success) {
    const why = result.stderr.trim().split('\n')[0] || `exit code ${result.exitCode}`;
    throw new AiboxError('PROCESS_FAILED', `updating the agents' MCP files in ${instance.name} failed: ${why}`, `check the sandbox: aibox exec --name ${instance.name} -- aibox mcp list`);
  }
  return reply.data;
}

export interface EnableReport {
  enabled: string[];
  install?: InstallReport;
  sync: SandboxSyncReport;
}

/** What enabling needs written in the sandbox, once the host's checks and installs are done. */
export interface PreparedEnable {
  enabled: string[];
  install?: InstallReport;
  change: McpChange;
}

/**
 * The host's half of `aibox mcp enable`: every pack's needs are checked against the
 * policy first (one sentence per missing rule, nothing written), and its program is
 * installed as a signed tool pack when it comes from one. The broker answers an
 * in-sandbox enable with this; the sandbox then writes its agents' files itself.
 */
export async function prepareMcpEnable(ctx: Context, instance: Instance, names: readonly string[]): Promise<PreparedEnable> {
  const config = await loadConfig(ctx.paths);
  const policy = await loadPolicyFor(ctx, config);
  const catalog = await loadMcpPacks(mcpPackDirs(ctx));
  const packs: McpPack[] = names.map((name) => requireMcpPack(catalog, name));
  const denials = packs.flatMap((pack) => mcpDenials(policy, pack));
  if (denials.length > 0) throw new AiboxError('POLICY_DENIED', denials.join('; '), 'nothing was enabled');
  const toolPacks = packs.flatMap((pack) => ('pack' in pack.source ? [pack.source.pack] : []));
  // A pack already installed at that exact version needs no registry round trip.
  const installed = toolPacks.length > 0 ? (await readInstalled(await packStoreOf(instance))).packs : {};
  const missing = toolPacks.filter((spec) => {
    const { name, version } = parsePackSpec(spec);
    return installed[name]?.version !== version;
  });
  if (missing.length > 0) await requireRunning(ctx, instance); // before the registry: the plainer error
  const install = missing.length > 0 ? await installIntoSandbox(ctx, instance, missing, {}) : undefined;
  return { enabled: packs.map((pack) => pack.name), install, change: { enable: Object.fromEntries(packs.map((pack) => [pack.name, pack.server])), disable: [] } };
}

/** `aibox mcp enable` on the host: the checks and installs, then the sandbox's agents over SSH. */
export async function enableMcpPacks(ctx: Context, instance: Instance, names: readonly string[]): Promise<EnableReport> {
  const { change, ...prepared } = await prepareMcpEnable(ctx, instance, names);
  return { ...prepared, sync: await applyInSandbox(ctx, instance, change) };
}
