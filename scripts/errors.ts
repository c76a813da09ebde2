// Builder errors: one class with a code from the catalogue (targets/error-codes.ts), a message
// that says what was being done, on which file / JSON pointer, and what to do; the CLI maps it
// to exit 1 (bad usage gets 2). Wrap lower-level failures with `{ cause }`.
import type { BuilderErrorCode } from '../targets/error-codes.ts';

export class BuildError extends Error {
  readonly code: BuilderErrorCode;
  constructor(code: BuilderErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'BuildError';
  }
}

/** Usage errors (bad flags, unknown verbs): exit code 2. */
export class UsageError extends BuildError {
  constructor(message: string) {
    super('EDGEWAN_ERR_BUILD_USAGE', message);
    this.name = 'UsageError';
  }
}

/** "CODE: message" plus the causes' messages, for the CLI's last line. */
export function formatError(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const code = (e as { code?: unknown }).code;
  let s = typeof code === 'string' && code.startsWith('EDGEWAN_ERR_') ? `${code}: ${e.message}` : e.message;
  let c: unknown = e.cause;
  for (let depth = 0; c instanceof Error && depth < 4; depth++, c = c.cause)
    s += `\n  caused by: ${c.message}`;
  return s;
}
