/**
 * The one error type of aibox. Domain code throws it with a string code;
 * only the CLI entry point turns it into a message and an exit code.
 */
export const ERROR_CODES = {
  USAGE: 2, // bad argument or flag value
  INVALID_FILE: 3, // a config, state or policy file that cannot be parsed or validated
  MISSING_PREREQ: 4, // a host program or file that aibox needs is absent
  CONFLICT: 5, // something on the host is in the way (port in use, malformed markers)
  PROCESS_FAILED: 6, // an external program (podman, ssh, git) failed
  NOT_FOUND: 7, // the named sandbox or thing does not exist
  POLICY_DENIED: 8, // the effective policy forbids the action
  INTERNAL: 1,
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class AiboxError extends Error {
  override readonly name = 'AiboxError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** What the user can do about it, one line. */
    readonly hint?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function exitCodeOf(error: unknown): number {
  return error instanceof AiboxError ? ERROR_CODES[error.code] : ERROR_CODES.INTERNAL;
}
