import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { analyzeProbes, probeScript, SHELL_PROBES } from '../../src/shell/conflicts.js';

const line = (name: string, repaired = '', last = '1') => `${name}|${last}|${repaired}`;

describe('doctor: dotfiles that fight the shell environment', () => {
  it('is quiet when aibox ran last everywhere and repaired nothing', () => {
    const finding = analyzeProbes(SHELL_PROBES.map((name) => line(name)).join('\n'));
    assert.equal(finding.status, 'ok');
  });

  it('names the shells where a dotfile dropped the packs from PATH or unset the proxy', () => {
    const output = SHELL_PROBES.map((name) => line(name, name.startsWith('bash') ? 'PATH proxy' : '')).join('\n');
    const finding = analyzeProbes(output);
    assert.equal(finding.status, 'warn');
    assert.match(finding.detail, /drops the tool packs' PATH entries \(bash -ic, bash -lc\)/);
    assert.match(finding.detail, /unsets or changes the proxy variables \(bash -ic, bash -lc\)/);
    assert.match(finding.fix ?? '', /PATH="\$HOME\/bin:\$PATH"/);
  });

  it('reports a shell where the last pass never ran (or that did not answer)', () => {
    const output = SHELL_PROBES.filter((name) => name !== 'zsh -ic').map((name) => line(name, '', name === 'bash -ic' ? '' : '1')).join('\n');
    assert.match(analyzeProbes(output).detail, /did not run last in bash -ic, zsh -ic/);
  });

  it('probes every shell in one POSIX script', () => {
    const script = probeScript();
    for (const name of SHELL_PROBES.filter((probe) => probe !== 'ssh command')) assert.ok(script.includes(`'${name}'`));
    const result = spawnSync('sh', ['-c', script], { encoding: 'utf8', env: { PATH: process.env.PATH, AIBOX_ENV_REPAIRED: 'x' } });
    // Here (no aibox shell setup) the outer shell answers with nothing recorded.
    assert.match(result.stdout, /^ssh command\|\|x$/m);
  });
});
