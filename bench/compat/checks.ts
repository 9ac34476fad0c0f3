/**
 * The compatibility checks: each is a shell script of this folder (`<id>.sh`, run inside the
 * sandbox after `prelude.sh`) that prints its outcome; here are their titles, time limits and
 * what to use instead when one fails under gVisor. The advice names only alternatives whose
 * own rows say how they fared in the same run: nothing here states an outcome.
 */
export type Outcome = 'works' | 'fails' | 'partial' | 'error';

export interface CheckResult {
  outcome: Outcome;
  /** The measured number, when one makes sense ("12 ms", "write 80 MiB/s"). */
  metric: string;
  /** What happened: for a failure, the tool's own error line. */
  detail: string;
  seconds: number;
}

export type RuntimeResults = Record<string, CheckResult>;

export interface Check {
  id: string;
  title: string;
  timeoutSeconds: number;
  /** What to use under gVisor when this check does not work there, given that run's results. */
  instead?: (gvisor: RuntimeResults, runc: RuntimeResults) => string;
}

const RUNC = 'aibox start --runtime runc';

/** For a "Too many open files" under gVisor: where the limit is (the measured error says which it is). */
function goferNote(result: CheckResult | undefined): string {
  if (!result?.detail.includes('Too many open files')) return '';
  return 'the limit reached is not the program\'s: gVisor\'s file proxy (`runsc-gofer`) keeps host file descriptors for the files and folders of `/workspace` the sandbox has cached, within the open-file limit of the session that started aibox (header; raising it was not tried here); ';
}
/** "`gdb --args` (works here)": an alternative with the outcome its own row had in this run. */
function alternative(text: string, id: string, results: RuntimeResults, runtime = 'gVisor'): string {
  const outcome = results[id]?.outcome;
  return outcome === undefined ? text : `${text} (${outcome === 'works' ? 'works' : outcome} under ${runtime} here)`;
}

function runcFallback(id: string, runc: RuntimeResults): string {
  return alternative(`\`${RUNC}\` where the policy allows it`, id, runc, 'runc');
}

export const CHECKS: readonly Check[] = [
  {
    id: 'strace-f',
    title: '`strace -f` of a small program (started by strace)',
    timeoutSeconds: 60,
    instead: (_g, runc) => `on the host, as root: \`runsc --root /var/run/runsc debug --strace=all CONTAINER_ID\` (the syscalls go to the sandbox's debug log); or ${runcFallback('strace-f', runc)}`,
  },
  {
    id: 'strace-attach',
    title: '`strace -p` attaching to a running process',
    timeoutSeconds: 60,
    instead: (gvisor, runc) => `${alternative('start the program under `strace -f`', 'strace-f', gvisor)}; or ${runcFallback('strace-attach', runc)}`,
  },
  {
    id: 'gdb-attach',
    title: 'gdb attaching to a running process (`gdb -batch -p PID -ex bt`)',
    timeoutSeconds: 90,
    instead: (gvisor, runc) =>
      `${alternative('start the program under gdb (`gdb --args PROG`)', 'gdb-run', gvisor)}; or let the process accept any debugger with \`prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY)\` (${gvisor['gdb-ptracer']?.outcome ?? 'not run'} under gVisor here); or ${runcFallback('gdb-attach', runc)}`,
  },
  {
    id: 'gdb-run',
    title: 'gdb starting the program (`gdb -batch -ex run -ex bt --args …`)',
    timeoutSeconds: 90,
    instead: (_g, runc) => runcFallback('gdb-run', runc),
  },
  {
    id: 'gdb-ptracer',
    title: 'gdb attaching to a process that called `prctl(PR_SET_PTRACER_ANY)`',
    timeoutSeconds: 90,
    instead: (gvisor, runc) => `${alternative('start the program under gdb', 'gdb-run', gvisor)}; or ${runcFallback('gdb-ptracer', runc)}`,
  },
  {
    id: 'perf-stat',
    title: '`perf stat -e task-clock true`',
    timeoutSeconds: 60,
    instead: (gvisor, runc) => `no performance counters in the sandbox: time with \`/usr/bin/time\`, or profile with the runtime's own sampler: ${alternative('`node --cpu-prof`', 'node-cpu-prof', gvisor)}, Java Flight Recorder, py-spy/cProfile; perf itself: ${runcFallback('perf-stat', runc)}`,
  },
  {
    id: 'perf-record',
    title: '`perf record` of a python loop, read back by `perf report`',
    timeoutSeconds: 90,
    instead: (gvisor, runc) => `a sampler that needs no \`perf_event_open\`: ${alternative('`node --cpu-prof`', 'node-cpu-prof', gvisor)}, Java Flight Recorder (\`-XX:StartFlightRecording\`), async-profiler in \`itimer\` mode, cProfile; perf itself: ${runcFallback('perf-record', runc)}`,
  },
  {
    id: 'node-cpu-prof',
    title: 'Node `--cpu-prof` (V8\'s sampling profiler)',
    timeoutSeconds: 60,
    instead: (_g, runc) => runcFallback('node-cpu-prof', runc),
  },
  {
    id: 'node-inspect',
    title: 'Node `--inspect`: `Runtime.evaluate` over the inspector\'s WebSocket',
    timeoutSeconds: 90,
    instead: (_g, runc) => runcFallback('node-inspect', runc),
  },
  {
    id: 'jdwp',
    title: 'JDWP: handshake and `AllThreads` on a JVM running 200 extra threads',
    timeoutSeconds: 120,
    instead: (_g, runc) => runcFallback('jdwp', runc),
  },
  {
    id: 'debugpy',
    title: 'debugpy: DAP `initialize` on `python -m debugpy --listen`',
    timeoutSeconds: 90,
    instead: (_g, runc) => runcFallback('debugpy', runc),
  },
  {
    id: 'inotify-many',
    title: 'inotify: `inotifywait -r` on 10,000 folders (webpack/Vite, Gradle `--continuous`), one edit seen',
    timeoutSeconds: 180,
    instead: (gvisor, runc) => `${goferNote(gvisor['inotify-many'])}watch fewer folders (leave out \`node_modules\` and build output: webpack \`watchOptions.ignored\`, Vite \`server.watch.ignored\`), or a polling watcher (\`CHOKIDAR_USEPOLLING=1\`, Vite \`server.watch.usePolling\`, webpack \`watchOptions.poll\`); or ${runcFallback('inotify-many', runc)}`,
  },
  {
    id: 'inotify-rename',
    title: 'inotify: rename-on-save (JetBrains safe write, VS Code, vim) seen by a folder watcher',
    timeoutSeconds: 90,
    instead: (_g, runc) => `turn off the editor's atomic save (JetBrains "Use safe write", vim \`backupcopy=yes\`), or a polling watcher; or ${runcFallback('inotify-rename', runc)}`,
  },
  {
    id: 'flock',
    title: '`flock` exclusive lock contended by two processes',
    timeoutSeconds: 60,
    instead: (_g, runc) => runcFallback('flock', runc),
  },
  {
    id: 'sqlite',
    title: 'SQLite in WAL mode, 4 concurrent writer processes',
    timeoutSeconds: 150,
    instead: (_g, runc) => `keep the database in \`/tmp\` (inside the sandbox) or use a server database; or ${runcFallback('sqlite', runc)}`,
  },
  {
    id: 'threads',
    title: 'a process with 1,000 threads',
    timeoutSeconds: 90,
    instead: (_g, runc) => runcFallback('threads', runc),
  },
  {
    id: 'file-2g',
    title: 'a 2 GiB file in `/workspace`: written (fsync), read back, sha256 compared',
    timeoutSeconds: 300,
    instead: (_g, runc) => runcFallback('file-2g', runc),
  },
  {
    id: 'git-large',
    title: '`git` on a large repository: files written, `add -A` + `commit`, `status`',
    timeoutSeconds: 300,
    instead: (gvisor, runc) => `${goferNote(gvisor['git-large'])}keep the working tree small (\`git sparse-checkout set DIR…\`); or ${runcFallback('git-large', runc)}`,
  },
];
