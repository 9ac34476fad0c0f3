import type { Runner } from '../core/runner.js';

/**
 * The shells `aibox doctor` starts in the sandbox to see whether a dotfile fights
 * aibox's environment. Each prints what aibox's last pass recorded: that it ran
 * (AIBOX_ENV_LAST) and what it had to put back (AIBOX_ENV_REPAIRED: PATH, proxy).
 * "ssh command" is the login shell running the probe itself, as for `ssh box CMD`.
 */
export const SHELL_PROBES = ['ssh command', 'bash -ic', 'bash -lc', 'zsh -c', 'zsh -ic', 'zsh -lc'] as const;

const PRINT = `printf '%s|%s\\n' "\${AIBOX_ENV_LAST-}" "\${AIBOX_ENV_REPAIRED-}"`;

/** One ssh command that runs every probe; each answers with a line NAME|LAST|REPAIRED (eval: zsh does not split $s). */
export function probeScript(): string {
  const nested = SHELL_PROBES.filter((probe) => probe !== 'ssh command');
  return [
    `p='${PRINT.replace(/'/g, `'\\''`)}'`,
    `printf 'ssh command|'; eval "$p"`,
    `for s in ${nested.map((probe) => `'${probe}'`).join(' ')}; do printf '%s|' "$s"; eval "$s \\"\\$p\\"" </dev/null 2>/dev/null || echo '|'; done`,
  ].join('\n');
}

export interface ShellFinding {
  status: 'ok' | 'warn';
  detail: string;
  fix?: string;
}

/** Reads the probes' lines into what doctor reports. */
export function analyzeProbes(output: string): ShellFinding {
  const seen = new Map<string, { last: boolean; repaired: string[] }>();
  for (const line of output.split('\n')) {
    const [name = '', last = '', repaired = ''] = line.split('|');
    if (name) seen.set(name, { last: last === '1', repaired: repaired.split(' ').filter(Boolean) });
  }
  const where = (test: (probe: { last: boolean; repaired: string[] }) => boolean) =>
    SHELL_PROBES.filter((name) => {
      const probe = seen.get(name) ?? { last: false, repaired: [] };
      return test(probe);
    });
  const notLast = where((probe) => !probe.last);
  const path = where((probe) => probe.repaired.includes('PATH'));
  const proxy = where((probe) => probe.repaired.includes('proxy'));
  const problems: string[] = [];
  const fixes: string[] = [];
  if (path.length > 0) {
    problems.push(`a dotfile drops the tool packs' PATH entries (${path.join(', ')}); aibox put them back`);
    fixes.push('extend PATH instead of replacing it, e.g. PATH="$HOME/bin:$PATH"');
  }
  if (proxy.length > 0) {
    problems.push(`a dotfile unsets or changes the proxy variables (${proxy.join(', ')}); aibox set them again`);
    fixes.push('remove what sets HTTP_PROXY/HTTPS_PROXY/NO_PROXY from your dotfiles');
  }
  if (notLast.length > 0) {
    problems.push(`aibox's environment did not run last in ${notLast.join(', ')} (a dotfile replaces its DEBUG trap, or the shell failed)`);
    fixes.push("keep DEBUG traps out of your startup files, or end them with `__aibox_env_last` (aibox's last pass)");
  }
  if (problems.length === 0) return { status: 'ok', detail: `aibox's environment runs last in ${SHELL_PROBES.join(', ')}; no dotfile fights it` };
  return { status: 'warn', detail: problems.join('; '), fix: `${fixes.join('; ')} (docs/shell.md)` };
}

/** Runs the probes in a running sandbox over its SSH connection. */
export async function findShellConflicts(run: Runner, sshConfig: string, host: string): Promise<ShellFinding> {
  const result = await run('ssh', ['-F', sshConfig, host, probeScript()], { allowFailure: true, timeoutMs: 60_000 });
  if (result.exitCode !== 0 && !result.stdout) {
    return { status: 'warn', detail: `could not start shells in ${host}: ${result.stderr.trim().split('\n').pop() ?? ''}`, fix: 'aibox doctor --name INSTANCE after aibox start' };
  }
  return analyzeProbes(result.stdout);
}
