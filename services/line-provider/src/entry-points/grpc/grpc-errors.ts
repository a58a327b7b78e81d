import * as grpc from '@grpc/grpc-js';
import { isAppError, type Logger } from '@scoreline/platform';

const statusByCode: Record<string, grpc.status> = {
  INVALID_ARGUMENT: grpc.status.INVALID_ARGUMENT,
  NOT_FOUND: grpc.status.NOT_FOUND,
  FAILED_PRECONDITION: grpc.status.FAILED_PRECONDITION,
  ABORTED: grpc.status.ABORTED,
  CONFLICT: grpc.status.ALREADY_EXISTS,
  UNAUTHENTICATED: grpc.status.UNAUTHENTICATED,
  PERMISSION_DENIED: grpc.status.PERMISSION_DENIED,
  RATE_LIMITED: grpc.status.RESOURCE_EXHAUSTED,
  UNAVAILABLE: grpc.status.UNAVAILABLE,
};

/**
 * The edge where application errors become gRPC statuses. Known errors keep their message (it names
 * the field at fault); anything else is logged and answered INTERNAL with no internals in the message.
 */
export function toGrpcError(error: unknown, logger: Logger, method: string): Partial<grpc.StatusObject> {
  if (isAppError(error)) {
    const code = statusByCode[error.code];
    if (code !== undefined) {
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
