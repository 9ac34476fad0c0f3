import assert from 'node:assert/strict';
import { AiboxError, type ErrorCode } from '../../src/core/errors.js';

/** For assert.rejects/throws: an AiboxError with this code whose message matches the pattern. */
export function failsWith(code: ErrorCode, pattern: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof AiboxError, String(error));
    assert.equal(error.code, code, error.message);
    assert.match(error.message, pattern);
    return true;
  };
}
