import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AiboxError, exitCodeOf } from '../../src/core/errors.js';
import { createOutput, type TextSink } from '../../src/core/output.js';
import { runProcess } from '../../src/core/runner.js';

function sink(isTTY: boolean): TextSink & { text: string } {
  const stream = { text: '', isTTY, columns: 40, write: (chunk: string) => (stream.text += chunk) };
  return stream;
}

describe('output', () => {
  it('--json prints one document on stdout and keeps human text off it', () => {
    const stdout = sink(false);
    const stderr = sink(false);
    const out = createOutput(true, stdout, stderr);
    out.info('hello');
    out.progress('working');
    out.result({ value: 1 }, 'human');
    assert.deepEqual(JSON.parse(stdout.text), { ok: true, value: 1 });
    assert.equal(stderr.text, '');
  });

  it('progress rewrites one line on a TTY and prints plain lines otherwise', () => {
    const ttyErr = sink(true);
    const tty = createOutput(false, sink(false), ttyErr);
    tty.progress('step 1');
    tty.progress('step 2 with a long message that does not fit the terminal');
    tty.info('done');
    assert.ok(ttyErr.text.includes('\r\x1b[2K'));
    assert.ok(ttyErr.text.endsWith('done\n'));
    assert.ok(!ttyErr.text.includes('fit the terminal'), 'truncated to the terminal width');
    const plainErr = sink(false);
    createOutput(false, sink(false), plainErr).progress('step 1');
    assert.equal(plainErr.text, 'step 1\n');
  });
});

describe('process runner', () => {
  it('returns output, streams lines, and passes input', async () => {
    const lines: string[] = [];
    const result = await runProcess('sh', ['-c', 'cat; echo two'], { input: 'one\n', onLine: (line) => lines.push(line) });
    assert.equal(result.stdout, 'one\ntwo');
    assert.deepEqual(lines, ['one', 'two']);
  });

  it('a missing program is a missing prerequisite with an install hint', async () => {
    await assert.rejects(runProcess('podman-that-does-not-exist', ['ps']), (error: unknown) => {
      assert.ok(error instanceof AiboxError);
      assert.equal(error.code, 'MISSING_PREREQ');
      assert.match(error.message, /podman-that-does-not-exist is not installed/);
      return true;
    });
  });

  it('a failing program carries the command and its stderr; allowFailure returns it instead', async () => {
    await assert.rejects(runProcess('sh', ['-c', 'echo broken >&2; exit 3']), (error: unknown) => {
      assert.ok(error instanceof AiboxError);
      assert.equal(error.code, 'PROCESS_FAILED');
      assert.match(error.message, /^sh -c .* failed: broken$/);
      assert.equal(exitCodeOf(error), 6);
      return true;
    });
    const result = await runProcess('sh', ['-c', 'exit 3'], { allowFailure: true });
    assert.equal(result.exitCode, 3);
  });

  it('unknown errors map to exit code 1', () => {
    assert.equal(exitCodeOf(new Error('x')), 1);
  });
});
