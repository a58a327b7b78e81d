/**
 * The one application error type. Domain and data-access code throw it with a stable `code`; only the
 * edges (HTTP, gRPC) translate codes into status codes, so the same rule reads the same everywhere.
 * The set of codes is closed: each edge maps them in a `Record<AppErrorCode, …>`, so a new code does not
 * compile until every edge says what it answers.
 */
export type AppErrorCode =
  // General codes, named after gRPC's (both services).
  | 'INVALID_ARGUMENT'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'ABORTED'
  | 'FAILED_PRECONDITION'
  | 'UNAUTHENTICATED'
  | 'PERMISSION_DENIED'
  | 'RATE_LIMITED'
  | 'UNAVAILABLE'
  | 'INTERNAL'
  // score-maker's API: each is also the problem `code` its clients see (problem-types.ts).
  | 'VALIDATION_FAILED'
  | 'EVENT_NOT_FOUND'
  | 'SCORE_NOT_FOUND'
  | 'EVENT_CLOSED'
  | 'SCORE_FINAL'
  | 'FORBIDDEN'
  | 'IDEMPOTENCY_KEY_REUSED';

export interface AppErrorOptions {
  cause?: unknown;
  /** Which input field was at fault, for INVALID_ARGUMENT. */
  field?: string;
  /** Extra, safe-to-show facts about the error. */
  details?: Record<string, unknown>;
}

export class AppError extends Error {
  override readonly name = 'AppError';
  readonly code: AppErrorCode;
  readonly field: string | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: AppErrorCode, message: string, options: AppErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.field = options.field;
    this.details = options.details;
  }
}

export function isAppError(error: unknown, code?: AppErrorCode): error is AppError {
  return error instanceof AppError && (code === undefined || error.code === code);
}
