import { z } from 'zod';
import type { Config } from '../config/settings.js';
import type { Runner } from '../core/runner.js';
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
});

export type SetupReport = z.infer<typeof setupReportSchema> & { repo: string; log: string };

/** Parses the script's KEY=VALUE lines; an unknown key or value makes the report a setup failure. */
export function parseSetupReport(stdout: string, repo: string): SetupReport {
  const fields: Record<string, string> = {};
  for (const line of stdout.split('\n')) {
    const at = line.indexOf('=');
    if (at > 0) fields[line.slice(0, at)] = line.slice(at + 1);
  }
  const parsed = setupReportSchema.strict().safeParse(fields);
  const data = parsed.success ? parsed.data : { status: 'setup-failed' as const, error: `unexpected output: ${stdout.trim().split('\n').pop() ?? ''}` };
  return { ...data, repo, log: DOTFILES_LOG };
}

/** Runs the shell setup in a running sandbox as dev. Never throws: a failure is a report. */
export async function setupShell(run: Runner, container: string, config: Config): Promise<SetupReport> {
  const repo = config['dotfiles.repo'];
  const timeoutSeconds = config['dotfiles.timeout'];
  const args = setupScriptArgs({ loginShell: LOGIN_SHELLS[config.shell], repo, branch: config['dotfiles.branch'], script: config['dotfiles.script'], timeoutSeconds });
  try {
    // podman exec, not ssh: sshd refuses dev while the login-shell link is missing (a home volume older than it).
    const result = await run('podman', ['exec', '-i', '--user', '1000:1000', '--env', `HOME=${SANDBOX_HOME}`, '--workdir', SANDBOX_HOME, container, 'sh', '-c', SETUP_SCRIPT, 'sh', ...args], {
      allowFailure: true,
      timeoutMs: (2 * GIT_TIMEOUT_SECONDS + timeoutSeconds + 60) * 1000,
    });
    if (result.exitCode !== 0) return { status: 'setup-failed', error: lastLine(result.stderr) || `exit code ${result.exitCode}`, repo, log: DOTFILES_LOG };
    return parseSetupReport(result.stdout, repo);
  } catch (error) {
    return { status: 'setup-failed', error: error instanceof Error ? error.message : String(error), repo, log: DOTFILES_LOG };
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
  const where = `log: ${report.log} (aibox exec -- cat ${report.log.replace(`${SANDBOX_HOME}/`, '~/')})`;
  const because = report.error ? `: ${report.error}` : '';
  if (report.moved) info.push(`dotfiles: dotfiles.repo changed; the previous clone is in ${report.moved}`);
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
