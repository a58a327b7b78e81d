import * as grpc from '@grpc/grpc-js';
import { isAppError, type AppErrorCode, type Logger } from '@scoreline/platform';

/**
 * The status of each application error; null: not the caller's doing, answered INTERNAL with no details
 * (and logged). The codes of score-maker's API are never thrown here; they get the status of their kind.
 */
const statusByCode: Record<AppErrorCode, grpc.status | null> = {
  INVALID_ARGUMENT: grpc.status.INVALID_ARGUMENT,
  NOT_FOUND: grpc.status.NOT_FOUND,
  FAILED_PRECONDITION: grpc.status.FAILED_PRECONDITION,
  ABORTED: grpc.status.ABORTED,
  CONFLICT: grpc.status.ALREADY_EXISTS,
  UNAUTHENTICATED: grpc.status.UNAUTHENTICATED,
  PERMISSION_DENIED: grpc.status.PERMISSION_DENIED,
  RATE_LIMITED: grpc.status.RESOURCE_EXHAUSTED,
  UNAVAILABLE: grpc.status.UNAVAILABLE,
  INTERNAL: null,
  VALIDATION_FAILED: grpc.status.INVALID_ARGUMENT,
  EVENT_NOT_FOUND: grpc.status.NOT_FOUND,
  SCORE_NOT_FOUND: grpc.status.NOT_FOUND,
  EVENT_CLOSED: grpc.status.FAILED_PRECONDITION,
  SCORE_FINAL: grpc.status.FAILED_PRECONDITION,
  FORBIDDEN: grpc.status.PERMISSION_DENIED,
  IDEMPOTENCY_KEY_REUSED: grpc.status.INVALID_ARGUMENT,
};

/**
 * The edge where application errors become gRPC statuses. Known errors keep their message (it names
 * the field at fault); anything else is logged and answered INTERNAL with no internals in the message.
 */
export function toGrpcError(error: unknown, logger: Logger, method: string): Partial<grpc.StatusObject> {
  if (isAppError(error)) {
    const code = statusByCode[error.code];
    if (code !== null) {
      const metadata = new grpc.Metadata();
      if (error.field) metadata.set('x-invalid-field', error.field);
      return { code, details: error.message, metadata };
    }
  }
  logger.error({ err: error, method }, 'gRPC call failed');
  return { code: grpc.status.INTERNAL, details: 'internal error' };
}

/** Adapts an async handler to grpc-js's callback style, mapping thrown errors to statuses. */
export function unary<Req, Res>(
  logger: Logger,
  method: string,
  handler: (request: Req, metadata: grpc.Metadata) => Promise<Res>,
): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    handler(call.request, call.metadata).then(
      (response) => callback(null, response),
      (error: unknown) => callback(toGrpcError(error, logger, method)),
    );
  };
}
