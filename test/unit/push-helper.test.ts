/** Staging ref names and the remote-helper protocol (git and the remote faked; test/e2e/push-staging.test.ts uses real ones). */
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { text } from 'node:stream/consumers';
import { describe, it } from 'node:test';
import type { Runner } from '../../src/core/runner.js';
import { parseSpec, runRemoteHelper, type PushClass, type PushHost } from '../../src/push/remote-helper.js';
import { parseStagingRef, requestId, stagingRef, stamp, type StagedReport } from '../../src/push/staging.js';

const AT = new Date('2026-11-27T20:55:01.234Z');

describe('staging refs', () => {
  it('name who, when and what, and read back to the same request', () => {
    assert.equal(stamp(AT), '20261127T205501Z');
    const ref = stagingRef('refs', 'alice@example.com', AT, 'refs/heads/main');
    assert.equal(ref, 'refs/aibox/staging/alice@example.com/20261127T205501Z/heads/main');
    assert.deepEqual(parseStagingRef(ref, 'refs'), { id: requestId(ref), ref, identity: 'alice@example.com', stagedAt: '2026-11-27T20:55:01Z', target: 'refs/heads/main', deletion: false });
    const deletion = stagingRef('branches', 'bob', AT, 'refs/tags/v1', true);
    assert.equal(deletion, 'refs/heads/aibox/staging/bob/20261127T205501Z/delete/tags/v1');
    assert.equal(parseStagingRef(deletion, 'branches')?.deletion, true);
    assert.equal(parseStagingRef('refs/heads/main', 'refs'), undefined);
    assert.equal(parseStagingRef(ref, 'branches'), undefined);
    assert.match(requestId(ref), /^[0-9a-f]{10}$/);
  });

  it('push lines: force, deletion, a colon in the source', () => {
    assert.deepEqual(parseSpec('+refs/heads/a:refs/heads/b'), { force: true, src: 'refs/heads/a', dst: 'refs/heads/b' });
    assert.deepEqual(parseSpec(':refs/heads/old'), { force: false, src: '', dst: 'refs/heads/old' });
    assert.throws(() => parseSpec('refs/heads/a'), /cannot read/);
  });
});

describe('git-remote-aibox protocol', () => {
  /** A conversation with git; `taken` staging refs are refused once by the fake remote, as if another push had just made them. */
  async function converse(lines: string[], cls: PushClass['riskClass'], lsRemote = '', taken: string[] = []): Promise<{ out: string; err: string; calls: string[][]; registered: StagedReport[] }> {
    const calls: string[][] = [];
    const registered: StagedReport[] = [];
    const run: Runner = async (command, args) => {
      calls.push([command, ...args]);
      if (args[0] === 'ls-remote') return { exitCode: 0, stdout: lsRemote, stderr: '' };
      if (args[0] === 'rev-parse') return { exitCode: 0, stdout: `${'a'.repeat(40)}\n`, stderr: '' };
      const specs = args.filter((arg) => arg.includes(':'));
      const lines = specs.map((spec) => (taken.includes(spec.split(':')[1] ?? '') ? `!\t${spec}\t[rejected] (already exists)` : `*\t${spec}\t[new reference]`));
      taken.splice(0);
      return { exitCode: 0, stdout: lines.join('\n'), stderr: '' };
    };
    const host: PushHost = {
      classify: async () => ({ riskClass: cls, explanation: 'because', identity: 'alice', staging: 'refs' }),
      register: async (_url, pushes) => (registered.push(...pushes), [`registered ${pushes.length}`]),
      requests: async () => ({ requests: [] }),
      cancel: async (id) => `cancelled ${id}`,
    };
    const input = new PassThrough();
    const output = new PassThrough();
    const err = new PassThrough();
    const done = runRemoteHelper(run, { input, output, err }, 'https://git.example.com/acme/app', host, () => AT);
    input.end(lines.map((line) => `${line}\n`).join(''));
    await done;
    output.end();
    err.end();
    return { out: await text(output), err: await text(err), calls, registered };
  }

  it('answers capabilities and options, and an empty remote with exactly one blank line', async () => {
    const { out } = await converse(['capabilities', 'option dry-run false', 'option frobnicate 1', 'list for-push', ''], 'safe');
    assert.equal(out, 'push\noption\n\nok\nunsupported\n\n');
  });

  it('lists refs with the symbolic HEAD', async () => {
    const { out } = await converse(['list for-push', ''], 'safe', `ref: refs/heads/main\tHEAD\n${'b'.repeat(40)}\tHEAD\n${'b'.repeat(40)}\trefs/heads/main\n`);
    assert.equal(out, `@refs/heads/main HEAD\n${'b'.repeat(40)} HEAD\n${'b'.repeat(40)} refs/heads/main\n\n`);
  });

  it('refuses every ref of a blocked repository without running git push', async () => {
    const { out, calls } = await converse(['push refs/heads/main:refs/heads/main', 'push :refs/heads/old', '', ''], 'blocked');
    assert.equal(out, 'error refs/heads/main because\nerror refs/heads/old because\n\n');
    assert.equal(calls.filter((call) => call[1] === 'push').length, 0);
  });

  it('stages a review-required push (dry run: nothing) and reports it as not pushed', async () => {
    const staged = await converse(['push refs/heads/main:refs/heads/main', '', ''], 'review-required');
    assert.match(staged.out, /^error refs\/heads\/main staged for approval as [0-9a-f]{10}, not pushed yet\n\n$/);
    assert.ok(staged.calls.some((call) => call[1] === 'push' && call.includes(`${'a'.repeat(40)}:refs/aibox/staging/alice/20261127T205501Z/heads/main`)));
    assert.deepEqual(staged.registered, [
      { sourceRef: 'refs/heads/main', targetRef: 'refs/heads/main', stagingRef: 'refs/aibox/staging/alice/20261127T205501Z/heads/main', oldSha: null, newSha: 'a'.repeat(40), force: false, pushOptions: [] },
    ]);
    assert.match(staged.err, /registered 1\n$/, 'what the host says about registering reaches the developer');
    const dry = await converse(['option dry-run true', 'push refs/heads/main:refs/heads/main', '', ''], 'review-required');
    assert.match(dry.out, /would be staged for approval \(dry run, nothing staged\)/);
    assert.equal(dry.calls.filter((call) => call[1] === 'push').length, 0);
    assert.deepEqual(dry.registered, []);
  });

  it('never overwrites a staged push: a name the remote has, or that another push just took, moves a second on', async () => {
    const first = 'refs/aibox/staging/alice/20261127T205501Z/heads/main';
    const second = 'refs/aibox/staging/alice/20261127T205502Z/heads/main';
    const listed = await converse(['push refs/heads/main:refs/heads/main', '', ''], 'review-required', `${'c'.repeat(40)}\t${first}\n`);
    assert.deepEqual(listed.registered.map((push) => push.stagingRef), [second]);
    const raced = await converse(['push refs/heads/main:refs/heads/main', '', ''], 'review-required', '', [first]);
    assert.deepEqual(raced.registered.map((push) => push.stagingRef), [second]);
    assert.equal(raced.calls.filter((call) => call[1] === 'push').length, 2);
    assert.match(raced.out, /staged for approval as [0-9a-f]{10}, not pushed yet/);
  });
});
