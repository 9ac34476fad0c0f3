import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { CHECKS } from '../../bench/compat/checks.js';
import { compatReportSchema, RUNTIMES, tableRows, type CompatReport } from '../../bench/compat/report.js';
import { host } from '../helpers/cli.js';

// The compatibility matrix (docs/compatibility.md) is produced by running bench/compat.ts for
// real: one sandbox per runtime, every check inside. The run writes into a folder of its own;
// the committed table must list the same checks as this fresh one (timings may differ). CI
// runs it at smaller sizes (below); `npm run bench:compat` makes the committed table.

describe('the compatibility matrix: every check under gVisor and runc, and the committed table', { timeout: 30 * 60_000 }, () => {
  let out: string;
  let report: CompatReport;
  let markdown: string;
  before(async () => {
    out = await mkdtemp(join(tmpdir(), 'aibox-e2e-compat-'));
    const run = await new Promise<{ code: number; stderr: string }>((resolve) => {
      // Smaller sizes than the committed table's (whose failures under gVisor show only at
      // full size), so the matrix costs CI minutes, not a quarter of an hour.
      const sizes = { GIT_FILES: '3000', INOTIFY_SIDE: '30', FILE_MIB: '256' };
      execFile(process.execPath, ['build/bench/compat.js', '--out', out], { maxBuffer: 64 << 20, env: { ...process.env, ...sizes } }, (error, _stdout, stderr) => {
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stderr });
      });
    });
    assert.equal(run.code, 0, run.stderr);
    report = compatReportSchema.parse(JSON.parse(await readFile(join(out, 'compat-latest.json'), 'utf8')));
    markdown = await readFile(join(out, 'compatibility.md'), 'utf8');
  });

  it('ran every check under both runtimes, each to a result of its own (no broken check)', () => {
    assert.deepEqual(report.checks.map((check) => check.id), CHECKS.map((check) => check.id));
    for (const runtime of RUNTIMES) {
      for (const check of CHECKS) {
        const result = report.results[runtime][check.id];
        assert.ok(result, `no result for ${check.id} under ${runtime}`);
        assert.notEqual(result.outcome, 'error', `${check.id} under ${runtime}: ${result.detail}`);
        if (result.outcome !== 'works') assert.ok(result.detail.length > 0, `${check.id} under ${runtime} ${result.outcome} without saying why`);
      }
    }
  });

  it('gives what to use instead for every check that does not work under gVisor', () => {
    const rows = markdown.split('\n').filter((line) => line.startsWith('| ') && !line.startsWith('| check |'));
    assert.equal(rows.length, CHECKS.length);
    for (const [index, check] of CHECKS.entries()) {
      const instead = rows[index]?.split(' | ').at(-1)?.replace(/ \|$/, '') ?? '';
      if (report.results.gvisor[check.id]?.outcome === 'works') assert.equal(instead, '—', check.id);
      else assert.ok(instead.length > 20, `${check.id}: "${instead}"`);
    }
  });

  it('names the runsc in use, as `runsc --version` prints it', () => {
    const version = host('runsc', ['--version']).stdout.split('\n')[0]?.trim() ?? '';
    assert.ok(version.length > 0, 'runsc --version printed nothing');
    assert.equal(report.environment.runsc, version);
    assert.ok(markdown.includes(`- gVisor: ${version} (`), 'the table header names the runsc version');
  });

  it('the committed docs/compatibility.md and its results list the same checks as this run', async () => {
    const committed = await readFile('docs/compatibility.md', 'utf8');
    assert.deepEqual(tableRows(committed), tableRows(markdown));
    const committedResults = compatReportSchema.parse(JSON.parse(await readFile('bench/results/compat-latest.json', 'utf8')));
    assert.deepEqual(committedResults.checks.map((check) => check.id), report.checks.map((check) => check.id));
  });
});
