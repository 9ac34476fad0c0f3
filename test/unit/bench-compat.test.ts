import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CHECKS } from '../../bench/compat/checks.js';
import { parseCheckOutput, renderMarkdown, tableRows, type CompatReport } from '../../bench/compat/report.js';

const exit = { code: 0, timedOut: false, timeoutSeconds: 60 };

describe('bench/compat: reading a check and writing the table', () => {
  it('takes the last outcome, metric and detail lines a check printed', () => {
    const stdout = 'noise\ncompat-outcome=works\ncompat-metric=\ncompat-detail=first\ncompat-outcome=fails\ncompat-metric=3 ms\ncompat-detail=ptrace: Operation not permitted.\n';
    assert.deepEqual(parseCheckOutput(stdout, '', exit, 1.5), { outcome: 'fails', metric: '3 ms', detail: 'ptrace: Operation not permitted.', seconds: 1.5 });
  });

  it('calls a check without an outcome line broken, and one that ran out of time a failure', () => {
    const broken = parseCheckOutput('', 'bash: line 3: strace: command not found\n', { ...exit, code: 127 }, 0.2);
    assert.equal(broken.outcome, 'error');
    assert.match(broken.detail, /exit 127\): bash: line 3: strace: command not found/);
    const hung = parseCheckOutput('', '', { code: null, timedOut: true, timeoutSeconds: 90 }, 90);
    assert.deepEqual([hung.outcome, hung.detail], ['fails', 'no result within 90 s']);
  });

  it('writes one row per check, the advice only where gVisor did not work, and escapes pipes', () => {
    const works = { outcome: 'works' as const, metric: '1 ms', detail: 'ok', seconds: 1 };
    const fails = { outcome: 'fails' as const, metric: '', detail: 'a | b', seconds: 1 };
    const gvisor = Object.fromEntries(CHECKS.map((check) => [check.id, check.id === 'gdb-attach' ? fails : works]));
    const runc = Object.fromEntries(CHECKS.map((check) => [check.id, works]));
    const report: CompatReport = {
      environment: { date: '2026-01-01', runsc: 'runsc version X', runscPath: '/usr/bin/runsc', podman: 'podman version 4', kernel: '6', cpus: 2, memoryGiB: 24, nofileHard: '20000', node: 'v20' },
      checks: CHECKS.map(({ id, title }) => ({ id, title })),
      results: { gvisor, runc },
      seconds: { gvisor: 1, runc: 1 },
      load: { gvisor: '0.50', runc: '0.40' },
    };
    const markdown = renderMarkdown(report, CHECKS);
    assert.deepEqual(tableRows(markdown), CHECKS.map((check) => check.title));
    const row = markdown.split('\n').find((line) => line.startsWith(`| ${CHECKS.find((check) => check.id === 'gdb-attach')?.title}`)) ?? '';
    assert.match(row, /\*\*fails\*\*: `a \\\| b`/);
    assert.match(row, /gdb --args PROG`\) \(works under gVisor here\)/);
    assert.match(markdown, /- gVisor: runsc version X \(`\/usr\/bin\/runsc`\)/);
  });
});
