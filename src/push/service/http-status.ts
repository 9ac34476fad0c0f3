import type { ErrorCode } from '../../core/errors.js';

/** The HTTP status (and the API's error code) of each AiboxError code; anything else is 500 internal. */
export const HTTP_STATUS: Partial<Record<ErrorCode, [number, string]>> = {
  USAGE: [400, 'bad-request'],
  INVALID_FILE: [400, 'bad-request'],
  POLICY_DENIED: [403, 'forbidden'],
  NOT_FOUND: [404, 'not-found'],
  CONFLICT: [409, 'wrong-state'],
  PROCESS_FAILED: [502, 'git-failed'],
};
