import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { configSchema } from '../../src/config/settings.js';
import { AiboxError } from '../../src/core/errors.js';
import type { Runner } from '../../src/core/runner.js';
import { parseBuildArgs, recipeBuildArgs, recipeMirrors } from '../../src/packs/recipe-args.js';

/** A runner that answers `npm config get registry` with `registry` and fails the test on anything else. */
function npmAnswering(registry: string): Runner {
  return async (command, args) => {
    assert.deepEqual([command, ...args], ['npm', 'config', 'get', 'registry']);
    return { exitCode: 0, stdout: `${registry}\n`, stderr: '' };
  };
}

describe('build arguments of a pack recipe', () => {
  it('passes BASE, the mirrors without a trailing slash, then the extra ones', () => {
    const mirrors = { npmRegistry: 'https://nexus.example.com/repository/npm/', debianMirror: 'http://mirror.example.com/debian' };
    assert.deepEqual(recipeBuildArgs('localhost/aibox:abc', mirrors, { GRADLE_MIRROR: 'https://repo.example.com/gradle' }), [
      '--build-arg', 'BASE=localhost/aibox:abc',
      '--build-arg', 'NPM_REGISTRY=https://nexus.example.com/repository/npm',
      '--build-arg', 'DEBIAN_MIRROR=http://mirror.example.com/debian',
      '--build-arg', 'GRADLE_MIRROR=https://repo.example.com/gradle',
    ]);
  });

  it('leaves out a mirror the machine does not have, and lets --build-arg win over the machine', () => {
    assert.deepEqual(recipeBuildArgs('img', { debianMirror: 'http://mirror.example.com/debian' }, { DEBIAN_MIRROR: 'http://other.example.com/debian' }), [
      '--build-arg', 'BASE=img',
      '--build-arg', 'DEBIAN_MIRROR=http://other.example.com/debian',
    ]);
  });

  it('parses KEY=VALUE flags (the value may hold "="), and refuses bad ones and BASE', () => {
    assert.deepEqual(parseBuildArgs(['PYTHON_MIRROR=https://repo.example.com/py?a=b', 'EMPTY=']), { PYTHON_MIRROR: 'https://repo.example.com/py?a=b', EMPTY: '' });
    for (const bad of ['NOVALUE', '=x', '1X=y', 'A-B=c']) {
      assert.throws(() => parseBuildArgs([bad]), (error: unknown) => error instanceof AiboxError && error.code === 'USAGE' && error.message === `invalid --build-arg "${bad}"`);
    }
    assert.throws(() => parseBuildArgs(['BASE=evil']), /BASE is set by aibox/);
  });

  it('takes the Debian mirror from image.mirror and the npm registry from npm', async () => {
    const config = configSchema.parse({ 'image.mirror': 'http://mirror.example.com/debian' });
    assert.deepEqual(await recipeMirrors(npmAnswering('https://nexus.example.com/repository/npm/'), config), {
      debianMirror: 'http://mirror.example.com/debian',
      npmRegistry: 'https://nexus.example.com/repository/npm/',
    });
  });
});
