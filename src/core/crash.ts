/**
 * Fault injection for the crash tests: with AIBOX_CRASH_AT=<point> the process
 * kills itself with SIGKILL when it reaches that point, as a power cut or an
 * OOM kill would, so a test can stop it between two exact steps. Unset (as
 * always outside those tests), it does nothing.
 */
export function crashPoint(point: string): void {
  if (process.env.AIBOX_CRASH_AT === point) process.kill(process.pid, 'SIGKILL');
}
