/**
 * The server-side pre-receive hook's script, run by real shells (dash and bash in
 * POSIX mode) with git's `old new ref` lines: its decisions agree with the staging
 * ref grammar of staging.ts, and hostile policy values stay data.
 * test/e2e/push-hook.test.ts runs it inside a real git server over SSH.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { HOOK_MARKER, parseHookPolicy, preReceiveScript, type HookPolicy } from '../../src/push/hook/index.js';
import { IDENTITY_PATTERN, parseStagingRef, stagingRoot, type StagingMode } from '../../src/push/staging.js';
import { failsWith } from '../helpers/errors.js';

const ZERO = '0'.repeat(40);
const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const SHELLS: [string, string[]][] = [['dash', []], ['bash', ['--posix']]];

type Op = 'create' | 'update' | 'delete';
const LINE: Record<Op, string> = { create: `${ZERO} ${A}`, update: `${A} ${B}`, delete: `${A} ${ZERO}` };

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'aibox-hook-unit-'));
});
after(() => rm(dir, { recursive: true, force: true }));

/** Runs the hook as git would, with the pusher in `env`; its exit code and stderr lines. */
async function runHook(policy: HookPolicy, env: Record<string, string>, lines: string[], [shell, shellArgs]: [string, string[]] = ['dash', []]): Promise<{ code: number; refused: string[] }> {
  const path = join(dir, 'pre-receive');
  await writeFile(path, preReceiveScript(policy), { mode: 0o755 });
  const result = spawnSync(shell, [...shellArgs, path], { input: lines.map((line) => `${line}\n`).join(''), env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, cwd: dir, encoding: 'utf8' });
  return { code: result.status ?? -1, refused: result.stderr.split('\n').filter(Boolean) };
}

/** What the hook must decide, written from staging.ts's grammar rather than from the script. */
function allowed(policy: HookPolicy, who: string, op: Op, ref: string): boolean {
  if (!IDENTITY_PATTERN.test(who)) return false;
  if (ref.startsWith(stagingRoot(policy.namespace))) {
    if (who === policy.serviceIdentity && op === 'delete') return true;
    return parseStagingRef(ref, policy.namespace)?.identity === who;
  }
  const glob = (pattern: string) => new RegExp(`^${pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
  return policy.protect.some((pattern) => glob(pattern).test(ref)) && who === policy.serviceIdentity;
}

function refsOf(mode: StagingMode): string[] {
  const root = stagingRoot(mode);
  return [
    'refs/heads/main',
    'refs/heads/team/feature',
    'refs/tags/v1',
    'refs/notes/commits',
    'refs/aibox/other',
    `${root}alice/20261127T205501Z/heads/main`,
    `${root}alice/20261127T205501Z/delete/heads/old`,
    `${root}alice/20261127T205501Z/tags/v1`,
    `${root}alice/2026-11-27/heads/main`,
    `${root}alice/20261127T205501Z/`,
    `${root}alice/20261127T205501Z`,
    `${root}alice`,
    `${root}alice2/20261127T205501Z/heads/main`,
    `${root}bob/20261127T205501Z/heads/main`,
    `${root}aibox-approvals/20261127T205501Z/heads/main`,
  ];
}

const PUSHERS = ['alice', 'bob', 'aibox-approvals', 'alice@example.com', '', 'x y', 'alice/20261127T205501Z', 'a'.repeat(65), '-alice', 'al*'];

describe('pre-receive hook decisions', () => {
  for (const mode of ['refs', 'branches'] as const) {
    it(`${mode} mode: every pusher, ref and operation as staging.ts's grammar says, one line per refused ref`, async () => {
      const policy = parseHookPolicy({ namespace: mode });
      for (const who of PUSHERS) {
        const lines = refsOf(mode).flatMap((ref) => (['create', 'update', 'delete'] as const).map((op) => ({ op, ref, line: `${LINE[op]} ${ref}` })));
        const result = await runHook(policy, { AIBOX_PUSHER: who }, lines.map((entry) => entry.line));
        const expectedRefused = lines.filter((entry) => !allowed(policy, who, entry.op, entry.ref));
        assert.equal(result.refused.length, expectedRefused.length, `${who}: ${result.refused.join('\n')}`);
        expectedRefused.forEach((entry, index) => {
          const line = result.refused[index] ?? '';
          assert.ok(line.startsWith('aibox: refused: ') && line.includes(entry.ref), `${who} ${entry.op} ${entry.ref}: ${line}`);
          if (IDENTITY_PATTERN.test(who)) assert.ok(line.includes(`${who} may not ${entry.op} ${entry.ref}: `), line);
        });
        assert.equal(result.code, expectedRefused.length > 0 ? 1 : 0, who);
      }
    });
  }

  it('refusals say who, which ref and what to do; no pusher is refused (fail closed); SHA-256 zero ids count as zero', async () => {
    const policy = parseHookPolicy({});
    const dev = await runHook(policy, { AIBOX_PUSHER: 'alice' }, [`${A} ${B} refs/heads/main`, `${ZERO} ${A} refs/aibox/staging/bob/20261127T205501Z/heads/main`]);
    assert.deepEqual(dev.refused, [
      'aibox: refused: alice may not update refs/heads/main: only aibox-approvals (the approval service) may; pushes that bypass the aibox helper are not allowed: push from the aibox sandbox, so the push is staged for approval',
      "aibox: refused: alice may not create refs/aibox/staging/bob/20261127T205501Z/heads/main: it is bob's staging namespace; pushes that bypass the aibox helper are not allowed: push from the aibox sandbox, so the push is staged for approval",
    ]);
    const nobody = await runHook(policy, {}, [`${ZERO} ${A} refs/aibox/staging/alice/20261127T205501Z/heads/main`]);
    assert.deepEqual(nobody.refused, ['aibox: refused: refs/aibox/staging/alice/20261127T205501Z/heads/main: the git server named no pusher (AIBOX_PUSHER is empty); its administrator must set AIBOX_PUSHER for every login']);
    const service = await runHook(policy, { AIBOX_PUSHER: 'aibox-approvals' }, [`${'c'.repeat(64)} ${'0'.repeat(64)} refs/aibox/staging/bob/20261127T205501Z/heads/main`, `${ZERO} ${A} refs/notes/commits`]);
    assert.deepEqual(service.refused, ["aibox: refused: aibox-approvals may not create refs/notes/commits: it matches none of this hook's protected patterns (refs/heads/* refs/tags/*); reinstall the hook with --protect for it"]);
  });

  it('reads the pusher from --identity-env and protects only the given patterns', async () => {
    const policy = parseHookPolicy({ identityEnv: 'REMOTE_USER', protect: ['refs/heads/main', 'refs/heads/release/*'], serviceIdentity: 'bot@example.com' });
    const bot = await runHook(policy, { REMOTE_USER: 'bot@example.com', AIBOX_PUSHER: 'alice' }, [`${A} ${B} refs/heads/main`, `${A} ${B} refs/heads/release/1.x`, `${A} ${B} refs/heads/feature`]);
    assert.equal(bot.refused.length, 1);
    assert.match(bot.refused[0] ?? '', /bot@example\.com may not update refs\/heads\/feature: it matches none/);
    const alice = await runHook(policy, { AIBOX_PUSHER: 'alice' }, [`${A} ${B} refs/aibox/staging/alice/20261127T205501Z/heads/main`]);
    assert.match(alice.refused[0] ?? '', /named no pusher \(REMOTE_USER is empty\)/);
  });

  it('runs the same under bash --posix as under dash', async () => {
    const policy = parseHookPolicy({ namespace: 'branches' });
    const lines = [`${ZERO} ${A} refs/heads/aibox/staging/alice/20261127T205501Z/heads/main`, `${A} ${B} refs/heads/main`];
    for (const shell of SHELLS) {
      const result = await runHook(policy, { AIBOX_PUSHER: 'alice' }, lines, shell);
      assert.deepEqual([result.code, result.refused.length], [1, 1], shell[0]);
      assert.match(result.refused[0] ?? '', /alice may not update refs\/heads\/main/);
    }
  });
});

describe('pre-receive hook script', () => {
  it('starts with the shebang and the marker aibox recognises its own hook by', () => {
    const lines = preReceiveScript(parseHookPolicy({})).split('\n');
    assert.deepEqual(lines.slice(0, 3), ['#!/bin/sh', HOOK_MARKER, 'set -eu']);
  });

  it('embeds hostile values as data: quotes, $( ), backticks, globs and newlines never run or match as code', async () => {
    const mark = join(dir, 'pwned');
    const hostile = `x'; touch ${mark}; '$(touch ${mark})\`touch ${mark}\`\n"`;
    const policy: HookPolicy = { serviceIdentity: hostile, identityEnv: 'AIBOX_PUSHER', namespace: 'refs', protect: [`refs/heads/${hostile}*`, 'refs/tags/[v]?'] };
    const lines = [`${A} ${B} refs/heads/main`, `${A} ${B} refs/tags/v1`, `${A} ${B} refs/tags/[v]?`, `${A} ${B} refs/heads/${hostile.replace(/\n/g, '')}x`];
    const result = await runHook(policy, { AIBOX_PUSHER: 'alice' }, lines);
    assert.equal(existsSync(mark), false, 'nothing ran');
    assert.equal(result.code, 1);
    // refs/tags/v1 does not match the literal pattern refs/tags/[v]?; only refs/tags/[v]? itself does.
    assert.match(result.refused.find((line) => line.includes('refs/tags/v1')) ?? '', /alice may not update refs\/tags\/v1: pushes that bypass/);
    assert.match(result.refused.find((line) => line.includes('refs/tags/[v]?')) ?? '', /only x'; touch/);
    const syntax = spawnSync('dash', ['-n'], { input: preReceiveScript(policy), encoding: 'utf8' });
    assert.equal(syntax.status, 0, syntax.stderr);
  });

  it('refuses to generate with an identity variable that is not a name', () => {
    assert.throws(() => preReceiveScript({ ...parseHookPolicy({}), identityEnv: 'X}$(id)' }));
  });
});

describe('install-hook arguments', () => {
  it('defaults: service aibox-approvals, AIBOX_PUSHER, refs mode, refs/heads/* and refs/tags/*', () => {
    assert.deepEqual(parseHookPolicy({}), { serviceIdentity: 'aibox-approvals', identityEnv: 'AIBOX_PUSHER', namespace: 'refs', protect: ['refs/heads/*', 'refs/tags/*'] });
    assert.deepEqual(parseHookPolicy({ protect: ['refs/heads/main'] }).protect, ['refs/heads/main'], '--protect replaces the defaults');
  });

  it('a bad value fails naming its flag and the value', () => {
    const bad: [Parameters<typeof parseHookPolicy>[0], RegExp][] = [
      [{ serviceIdentity: 'a/b' }, /^--service-identity: expected a name .* \(got "a\/b"\)$/],
      [{ serviceIdentity: "x'y" }, /^--service-identity: .*\(got "x'y"\)$/],
      [{ serviceIdentity: '' }, /^--service-identity: /],
      [{ identityEnv: 'A;B' }, /^--identity-env: expected an environment variable name .*\(got "A;B"\)$/],
      [{ identityEnv: '1USER' }, /^--identity-env: /],
      [{ namespace: 'heads' }, /^--namespace: expected refs or branches \(got "heads"\)$/],
      [{ protect: ['refs/heads/*', 'heads/main'] }, /^--protect: expected a ref pattern .*\(got "heads\/main"\)$/],
      [{ protect: ['refs/heads/$(id)'] }, /^--protect: .*\(got "refs\/heads\/\$\(id\)"\)$/],
      [{ protect: ['refs/heads/a..b'] }, /^--protect: not a valid ref name/],
      [{ protect: ['refs/heads/x.lock'] }, /^--protect: not a valid ref name/],
      [{ protect: ['refs/heads/[ab]'] }, /^--protect: expected a ref pattern/],
      [{ protect: ['refs/heads/'] }, /^--protect: expected a ref pattern/],
    ];
    for (const [input, message] of bad) assert.throws(() => parseHookPolicy(input), failsWith('USAGE', message), JSON.stringify(input));
  });
});
