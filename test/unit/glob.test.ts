import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { globMatch, globProblem, patternCovers } from '../../src/policy/match.js';
import { parseGlobCases, renderGlobTests } from '../../src/policy/opa.js';

const cases = parseGlobCases(await readFile('test/fixtures/glob-cases.json', 'utf8'));

describe('glob: the semantics of OPA glob.match', () => {
  it('answers every case of test/fixtures/glob-cases.json', () => {
    for (const { kind, pattern, value, expected } of cases) {
      assert.equal(globMatch(pattern, value, kind), expected, `${kind}: ${pattern} ~ ${value}`);
    }
  });

  it('docs/opa/glob_test.rego runs the same table (regenerate: npm run docs)', async () => {
    assert.equal(await readFile('docs/opa/glob_test.rego', 'utf8'), renderGlobTests(cases));
  });

  it('refuses patterns gobwas/glob refuses or reads differently', () => {
    for (const pattern of ['a[]b', 'a[!]b', 'a[z-a]', 'a[a-z0-9]', 'a[a-', '{a,b', 'a\\', 'a[\\]]']) {
      assert.ok(globProblem(pattern), pattern);
    }
    for (const pattern of ['a\\*b', '[+-]]', 'a}b,c', '{a,{b,c}}']) assert.equal(globProblem(pattern), undefined, pattern);
    assert.ok(globMatch('a\\*b', 'a*b', 'pack') && !globMatch('a\\*b', 'axb', 'pack'));
    assert.ok(globMatch('[+-]]', ']', 'pack') && !globMatch('[+-]]', '+]', 'pack'), 'one range from "+" to "]", as gobwas reads it');
  });
});

describe('patternCovers: sound for the tighten-only check', () => {
  it('covers what the outer pattern matches', () => {
    assert.ok(patternCovers('*.example.com', 'registry.example.com', 'host'));
    assert.ok(patternCovers('**.example.com', '*.registry.example.com', 'host'));
    assert.ok(patternCovers('**', '*.example.com', 'host'));
    assert.ok(patternCovers('java@*', 'java@2*', 'pack'));
    assert.ok(patternCovers('git.example.com/{acme,beta}/*', 'git.example.com/acme/app-*', 'repo'));
    assert.ok(patternCovers('node@[0-9]?', 'node@[0-9]?', 'pack'), 'the same text');
  });

  it('refuses what it cannot prove', () => {
    assert.ok(!patternCovers('*.example.com', 'a.b.example.com', 'host'));
    assert.ok(!patternCovers('*.com', '*.example.com', 'host'), '"*" does not cross "."');
    assert.ok(!patternCovers('*.example.com', '*.*.example.com', 'host'));
    assert.ok(!patternCovers('*.example.com', '**.example.com', 'host'), '"**" crosses "." where "*" does not');
    assert.ok(!patternCovers('registry.example.com', '*.example.com', 'host'));
    assert.ok(!patternCovers('a?c', 'a*c', 'pack'), '"?" would take the literal "*" of the inner pattern');
    assert.ok(!patternCovers('[!x]', '*', 'pack'));
    assert.ok(!patternCovers('x[[]a]', 'x[a]', 'pack'), 'an inner class is not read as a literal');
    assert.ok(!patternCovers('?b,c}', '{b,c}', 'pack'), 'nor are inner alternatives');
  });
});
