import type { Output } from './output.js';
import type { Paths } from './paths.js';
import type { Runner } from './runner.js';

/** Everything a domain operation may touch, built once at the entry point. */
export interface Context {
  run: Runner;
  paths: Paths;
  out: Output;
  env: NodeJS.ProcessEnv;
  /** The host folder the user runs aibox from (project policy, .idea/ detection). */
  cwd: string;
}
