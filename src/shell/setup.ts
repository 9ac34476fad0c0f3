import { z } from 'zod';
import type { Config } from '../config/settings.js';
import type { Runner } from '../core/runner.js';
import { shellQuote } from '../ssh/client.js';
import { DOTFILES_LOG, LOGIN_SHELLS, SANDBOX_HOME } from './paths.js';
import { GIT_TIMEOUT_SECONDS, SETUP_SCRIPT, setupScriptArgs } from './setup-script.js';

const statusSchema = z.enum(['none', 'clone-failed', 'script-missing', 'script-failed', 'timed-out', 'installed', 'up-to-date', 'linked', 'empty', 'setup-failed']);

/** What the setup script reported (KEY=VALUE lines on stdout). */
export const setupReportSchema = z.object({
  status: statusSchema.default('setup-failed'),
  shell: z.string().optional(),
  fetch: z.enum(['cloned', 'pulled', 'pull-failed']).optional(),
  moved: z.string().optional(),
  commit: z.string().optional(),
  script: z.string().optional(),
  exit: z.coerce.number().int().optional(),
  linked: z.coerce.number().int().optional(),
  backups: z.coerce.number().int().optional(),
  error: z.string().optional(),
  zshrc: z.literal('created').optional(),
  /** The commit of the VS Code server linked into the home volume (the image has one). */
  vscode: z.string().optional(),
  vscode_settings: z.enum(['merged', 'failed']).optional(),
  vscode_error: z.string().optional(),
});

export type SetupReport = z.infer<typeof setupReportSchema> & { repo: string; log: string };

const PREFIX = 'aibox-setup:';

/** Parses the script's `aibox-setup:KEY=VALUE` lines; an unknown key or value makes the report a setup failure. */
export function parseSetupReport(stdout: string, repo: string): SetupReport {
  const fields: Record<string, string> = {};
  for (const line of stdout.split('\n')) {
    const at = line.indexOf('=');
    if (line.startsWith(PREFIX) && at > PREFIX.length) fields[line.slice(PREFIX.length, at)] = line.slice(at + 1);
  }
  const parsed = setupReportSchema.strict().safeParse(fields);
  const data = parsed.success ? parsed.data : { status: 'setup-failed' as const, error: `unexpected output: ${stdout.trim().split('\n').pop() ?? ''}` };
  return { ...data, repo, log: DOTFILES_LOG };
}

/** A running sandbox: its container, and its SSH configuration and host name. */
export interface ShellTarget {
  container: string;
  sshConfig: string;
}

/** ssh's own failures (connection refused, authentication) exit 255. */
const SSH_FAILED = 255;

/**
 * Runs the shell setup in a running sandbox as dev. Never throws: a failure is a
 * report. Over the shared SSH connection (~0.25 s under gVisor); when sshd refuses dev
 * (a home volume older than the login-shell link) through podman exec (~0.55 s),
 * and then `usedPodman` says the shared connection must be opened again.
 */
export async function setupShell(run: Runner, target: ShellTarget, config: Config): Promise<SetupReport & { usedPodman: boolean }> {
  const repo = config['dotfiles.repo'];
  const timeoutSeconds = config['dotfiles.timeout'];
  const args = setupScriptArgs({ loginShell: LOGIN_SHELLS[config.shell], repo, branch: config['dotfiles.branch'], script: config['dotfiles.script'], timeoutSeconds });
  const options = { allowFailure: true, timeoutMs: (2 * GIT_TIMEOUT_SECONDS + timeoutSeconds + 60) * 1000 };
  const failed = (error: string) => ({ status: 'setup-failed' as const, error, repo, log: DOTFILES_LOG });
  try {
    const ssh = await run('ssh', ['-F', target.sshConfig, target.container, ['sh', '-c', SETUP_SCRIPT, 'sh', ...args].map(shellQuote).join(' ')], options);
    if (ssh.exitCode !== SSH_FAILED) {
      return { ...(ssh.exitCode === 0 ? parseSetupReport(ssh.stdout, repo) : failed(lastLine(ssh.stderr) || `exit code ${ssh.exitCode}`)), usedPodman: false };
    }
    const exec = await run('podman', ['exec', '-i', '--user', '1000:1000', '--env', `HOME=${SANDBOX_HOME}`, '--workdir', SANDBOX_HOME, target.container, 'sh', '-c', SETUP_SCRIPT, 'sh', ...args], options);
    return { ...(exec.exitCode === 0 ? parseSetupReport(exec.stdout, repo) : failed(lastLine(exec.stderr) || `exit code ${exec.exitCode}`)), usedPodman: true };
  } catch (error) {
    return { ...failed(error instanceof Error ? error.message : String(error)), usedPodman: false };
  }
}

function lastLine(text: string): string {
  return text.trim().split('\n').pop() ?? '';
}

export interface SetupMessages {
  info: string[];
  /** At most one line per problem, each naming the log. */
  warnings: string[];
}

/** The lines `aibox start` prints about the shell setup. */
export function describeSetup(report: SetupReport): SetupMessages {
  const info: string[] = [];
  const warnings: string[] = [];
  const where = `log: ${report.log} (read it: aibox exec -- cat ${report.log})`;
  const because = report.error ? `: ${report.error}` : '';
  if (report.moved) info.push(`dotfiles: dotfiles.repo changed; the previous clone is in ${report.moved}`);
  if (report.vscode_settings === 'failed') warnings.push(`VS Code: telemetry off could not be merged into ~/.vscode-server/data/Machine/settings.json: ${report.vscode_error ?? 'unknown error'}`);
  if (report.fetch === 'pull-failed') warnings.push(`dotfiles: pulling ${report.repo} failed, kept the current clone${because}; ${where}`);
  switch (report.status) {
    case 'none':
      break;
    case 'setup-failed':
      warnings.push(`shell setup did not run${because}; the sandbox runs without it`);
      break;
    case 'clone-failed':
      warnings.push(`dotfiles: cannot clone ${report.repo}${because}; ${where}`);
      break;
    case 'script-missing':
      warnings.push(`dotfiles: dotfiles.script ${report.script ?? ''} is not in ${report.repo}; fix it: aibox config set dotfiles.script PATH (or '' to detect)`);
      break;
    case 'script-failed':
      warnings.push(`dotfiles: ${report.script ?? 'the install script'} failed (exit ${report.exit ?? '?'}); ${where}`);
      break;
    case 'timed-out':
      warnings.push(`dotfiles: ${report.script ?? 'the install script'} was stopped after dotfiles.timeout; ${where}`);
      break;
    case 'installed':
      info.push(`dotfiles: ran ${report.script ?? 'the install script'} from ${report.repo}; ${where}`);
      break;
    case 'up-to-date':
      info.push(`dotfiles: ${report.repo} at ${(report.commit ?? '').slice(0, 12)}, ${report.script ?? 'the install script'} already ran for it`);
      break;
    case 'linked': {
      const kept = report.backups ? `; ${report.backups} file(s) of yours kept as NAME.aibox-bak` : '';
      info.push(`dotfiles: linked ${report.linked ?? 0} new dot file(s) from ${report.repo} into ~${kept}`);
      break;
    }
    case 'empty':
      warnings.push(`dotfiles: ${report.repo} has no install script, no Makefile and no dot files: nothing to install`);
      break;
  }
  return { info, warnings };
}
