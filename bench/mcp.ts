/**
 * MCP pack benchmark (not a test). In a running gVisor sandbox with every agent
 * present (each agent's folder created, so all 11 files are written) and
 * filesystem-mcp and git-mcp enabled:
 * - `aibox mcp regenerate` inside the sandbox (timed there by bash's clock), served
 *   by the in-sandbox command server (src/cli/server.ts), next to `/bin/true` (any
 *   program's start there), `aibox --version` (Node's start, which the server saves)
 *   and the first call, which has no server yet;
 * - `aibox mcp enable filesystem-mcp` of an installed pack, from the host and
 *   from inside (through the broker), next to `aibox --version` on the host.
 * Targets (issue): regenerate < 100 ms, enable of an installed pack < 300 ms.
 * Medians of RUNS. Prints a Markdown report for docs/performance.md and writes
 * bench/results/mcp-latest.json.
 *
 *   npm run bench:mcp
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { ORG_POLICY_PATH } from '../src/policy/load.js';
import { aibox, freePort, sshTo, testUser, type TestUser } from '../test/helpers/cli.js';
import { publishInitialPacks } from '../test/helpers/packs.js';
import { load, machine, median, must, timedAsync } from './common.js';

const RUNS = 15;
/** Every agent's marker: the folder (or file) whose presence means it is installed. */
const AGENT_MARKERS = ['.cursor', '.gemini', '.vscode-server', '.codeium/windsurf', '.config/zed', '.config/goose', '.config/opencode', '.config/Claude', '.codex'];

/** Runs COMMAND RUNS times inside the sandbox and returns the wall times in seconds, measured there. */
/** Untimed runs before each series inside: the command server's first requests run its code cold (its first call is reported on its own). */
const WARMUP = 3;

function timedInside(user: TestUser, command: string, runs = RUNS, before = ':', warmup = WARMUP): number[] {
  // bash's own clock: a `date` per reading would add an exec (~40 ms under gVisor) to each time.
  const script = `for i in $(seq ${warmup}); do ${command} >/dev/null 2>&1; done; for i in $(seq ${runs}); do ${before}; s=$EPOCHREALTIME; ${command} >/tmp/bench-out 2>&1 || { cat /tmp/bench-out; exit 1; }; e=$EPOCHREALTIME; echo "$s $e"; done`;
  const result = sshTo(user, `exec bash -c '${script}'`);
  if (result.code !== 0) throw new Error(`${command} failed: ${result.stdout}${result.stderr}`);
  return result.stdout.trim().split('\n').map((line) => {
    const [start, end] = line.split(' ').map(Number);
    return (end ?? NaN) - (start ?? NaN);
  });
}

async function timedHost(user: TestUser, args: string[]): Promise<number[]> {
  const times: number[] = [];
  for (let run = 0; run < RUNS; run++) times.push(await timedAsync(async () => must(await aibox(user, args), `aibox ${args.join(' ')}`)));
  return times;
}

const ms = (seconds: number) => `${Math.round(seconds * 1000)} ms`;

async function main(): Promise<void> {
  const savedPolicy = existsSync(ORG_POLICY_PATH) ? await readFile(ORG_POLICY_PATH, 'utf8') : undefined;
  const user = await testUser('bench-mcp');
  user.env.COSIGN_PASSWORD = 'bench mcp';
  try {
    must(await aibox(user, ['pack', 'keygen', '--output-prefix', join(user.home, 'platform')]), 'keygen');
    must(await aibox(user, ['config', 'set', 'packs.registry', join(user.home, 'layout')]), 'config');
    must(await aibox(user, ['start', '--port', String(await freePort())]), 'start');
    await publishInitialPacks(user, ['node-20', 'mcp-filesystem', 'mcp-git'], join(user.home, 'platform.key'));
    await mkdir('/etc/aibox', { recursive: true });
    const key = await readFile(join(user.home, 'platform.pub'), 'utf8');
    await writeFile(ORG_POLICY_PATH, stringify({ version: 1, packs: { trusted_keys: [{ name: 'bench', key }], allowed: ['*'] }, filesystem: { expose: ['/workspace', '/home/dev'] } }));
    must(sshTo(user, `cd ~ && mkdir -p ${AGENT_MARKERS.join(' ')} .continue && touch .continue/config.yaml`), 'agent folders');
    must(await aibox(user, ['mcp', 'enable', 'filesystem-mcp', 'git-mcp']), 'enable');

    const samples = {
      // Any program's start under gVisor (an exec), and Node's (what a command costs without the server).
      insideExec: timedInside(user, '/bin/true'),
      insideVersion: timedInside(user, 'aibox --version'),
      // The first `aibox mcp` command with no command server yet: it starts one and runs with Node.
      insideFirstCall: timedInside(user, 'aibox mcp regenerate', 1, 'pkill -f "aibox.mjs [c]li-server"; sleep 0.5', 0),
      insideRegenerate: timedInside(user, 'aibox mcp regenerate'),
      insideEnable: timedInside(user, 'aibox mcp enable filesystem-mcp'),
      hostVersion: await timedHost(user, ['--version']),
      hostEnable: await timedHost(user, ['mcp', 'enable', 'filesystem-mcp']),
    };
    const results = {
      machine: await machine(),
      load: load(),
      date: new Date().toISOString(),
      runs: RUNS,
      warmup: WARMUP,
      inside: {
        exec: median(samples.insideExec),
        version: median(samples.insideVersion),
        firstCall: samples.insideFirstCall[0] ?? NaN,
        regenerate: median(samples.insideRegenerate),
        enableInstalled: median(samples.insideEnable),
      },
      host: { version: median(samples.hostVersion), enableInstalled: median(samples.hostEnable) },
      agentsWritten: (JSON.parse((await aibox(user, ['mcp', 'list', '--json'])).stdout) as { agents: { agent: string; outcome: string }[] }).agents.filter((agent) => agent.outcome !== 'skipped-not-installed').length,
      samples,
    };
    await writeFile('bench/results/mcp-latest.json', `${JSON.stringify(results, null, 2)}\n`);
    const { inside, host } = results;
    console.log(`Machine: ${results.machine}; load ${results.load}; medians of ${RUNS} (after ${WARMUP} untimed runs inside); ${results.agentsWritten} agent files.\n`);
    console.log(`Inside: \`/bin/true\` ${ms(inside.exec)}, \`aibox --version\` (Node's start) ${ms(inside.version)}, the first \`aibox mcp regenerate\` (no command server yet) ${ms(inside.firstCall)}. Host: \`aibox --version\` ${ms(host.version)}.\n`);
    console.log('| what | wall | target |');
    console.log('|---|---|---|');
    console.log(`| \`aibox mcp regenerate\`, inside | ${ms(inside.regenerate)} | < 100 ms |`);
    console.log(`| \`aibox mcp enable\` (installed), inside | ${ms(inside.enableInstalled)} | < 300 ms |`);
    console.log(`| \`aibox mcp enable\` (installed), host | ${ms(host.enableInstalled)} (Node's start ${ms(host.version)}, own work ${ms(host.enableInstalled - host.version)}) | < 300 ms |`);
  } finally {
    await aibox(user, ['rm', '--volumes']);
    await rm(user.home, { recursive: true, force: true });
    if (savedPolicy === undefined) await rm(ORG_POLICY_PATH, { force: true });
    else await writeFile(ORG_POLICY_PATH, savedPolicy);
  }
}

await main();
