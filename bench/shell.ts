/**
 * Shell start-up benchmark (not a test): what aibox's shell setup adds to
 * `bash -i -c exit` and `zsh -i -c exit` inside a running gVisor sandbox. "Without"
 * is the same shell with AIBOX_SHELL_SETUP=off (aibox-env.sh returns at its first
 * line). Runs alternate with and without, so both see the same machine state, and
 * the report is the difference of the medians of 20 each. A second, quieter number:
 * the time the setup itself takes inside one shell ($EPOCHREALTIME around sourcing
 * the copy the startup files hold, whose DEBUG trap then runs the last pass before the
 * next command), free of the ~±20 ms jitter of
 * starting a process under gVisor. Prints a Markdown report for docs/performance.md.
 *
 *   npm run bench:shell
 */
import { spawnSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { aibox, freePort, testUser } from '../test/helpers/cli.js';
import { load, machine, median, must } from './common.js';

/** Starts per shell, kind and mode: under gVisor one start varies by ±10 ms, so many. */
const RUNS = 300;
/** Runs of the in-shell measure, which is steady. */
const IN_SHELL_RUNS = 50;
/** What the image copies into the startup files: /etc/aibox/aibox-env.sh without comments. */
const MIN_COPY = '/usr/local/lib/aibox/aibox-env.min.sh';
const SHELLS = ['bash', 'zsh'] as const;

/**
 * How a shell is started: `-i -c exit` (the measure; what an IDE does to read the
 * environment: the last pass runs from a DEBUG trap) and `-i` reading `exit` (a terminal:
 * the last pass runs before the first prompt). TERM is set as in a terminal; without it
 * the setup would set it and load terminfo, which "off" skips.
 */
const STARTS = { '-i -c exit': '-i -c exit </dev/null', '-i, first prompt': '-i </tmp/aibox-bench-exit' } as const;

/** One ssh command timing RUNS starts of SHELL each way, in µs: "on 1234" / "off 1200" lines; ABBA order, so neither way always goes first. */
function startupScript(shell: string, start: string): string {
  return `echo exit > /tmp/aibox-bench-exit; export TERM=xterm-256color; for i in $(seq ${RUNS}); do case $((i % 2)) in 0) order='on off' ;; *) order='off on' ;; esac; for mode in $order; do s=$(date +%s%N); AIBOX_SHELL_SETUP=$mode ${shell} ${start} >/dev/null 2>&1; e=$(date +%s%N); printf '%s %s\\n' $mode $(( (e - s) / 1000 )); done; done`;
}

/** The setup's own cost inside one shell (first pass, arming, last pass from the trap), in µs, RUNS times. */
const IN_SHELL = {
  bash: `for i in $(seq ${IN_SHELL_RUNS}); do bash -c 'unset __aibox_early; s=$EPOCHREALTIME; . ${MIN_COPY}; __aibox_arm; e=$EPOCHREALTIME; echo $(( \${e/./} - \${s/./} ))'; done`,
  zsh: `for i in $(seq ${IN_SHELL_RUNS}); do zsh -fc 'zmodload zsh/datetime; s=$EPOCHREALTIME; . ${MIN_COPY}; __aibox_arm; e=$EPOCHREALTIME; printf "%.0f\\n" $(( (e - s) * 1e6 ))'; done`,
};

const user = await testUser('bench-shell');
const sshConfig = join(user.home, '.ssh', 'config');
const ssh = (command: string) => {
  const result = spawnSync('ssh', ['-F', sshConfig, user.name, command], { encoding: 'utf8', maxBuffer: 1 << 24 });
  must({ code: result.status ?? 1, stderr: result.stderr }, command.slice(0, 40));
  return result.stdout;
};
const cleanup = async () => {
  await aibox(user, ['rm', '--volumes']);
};
process.once('SIGTERM', () => void cleanup().then(() => process.exit(143)));

const rows: { shell: string; start: string; with: number; without: number; added: number; inShell: number }[] = [];
try {
  must(await aibox(user, ['start', '--port', String(await freePort())]), 'aibox start');
  ssh('true');
  for (const shell of SHELLS) {
    const inShell = median(ssh(IN_SHELL[shell]).trim().split('\n').map((us) => Number(us) / 1000));
    for (const [start, args] of Object.entries(STARTS)) {
      const times = ssh(startupScript(shell, args)).trim().split('\n').map((line) => line.split(' '));
      const of = (mode: string) => median(times.filter(([m]) => m === mode).map(([, us]) => Number(us) / 1000));
      rows.push({ shell, start, with: of('on'), without: of('off'), added: of('on') - of('off'), inShell });
    }
  }
} finally {
  await cleanup();
}

const ms = (value: number) => `${value.toFixed(1)} ms`;
const report = [
  `Machine: ${await machine()}; load ${load()}`,
  `Date: ${new Date().toISOString().slice(0, 10)}`,
  '',
  `| shell | start | with aibox's setup (median of ${RUNS}) | without (\`AIBOX_SHELL_SETUP=off\`) | difference | the setup itself, in-shell (median of ${IN_SHELL_RUNS}) |`,
  '|---|---|---|---|---|---|',
  ...rows.map((row) => `| ${row.shell} | \`${row.start}\` | ${ms(row.with)} | ${ms(row.without)} | ${ms(row.added)} | ${ms(row.inShell)} |`),
].join('\n');
console.log(report);
await mkdir('bench/results', { recursive: true });
await writeFile('bench/results/shell-latest.json', `${JSON.stringify({ machine: await machine(), date: new Date().toISOString(), runs: RUNS, rows }, null, 2)}\n`);
