import * as grpc from '@grpc/grpc-js';

/** A request payload that did not decode as its method's message type. */
class UndecodableRequest {
  constructor(readonly reason: string) {}
}

/** The definition with request decoders that never throw: a failure becomes an UndecodableRequest. */
function decodingFailuresAsValues(definition: grpc.ServiceDefinition): grpc.ServiceDefinition {
  return Object.fromEntries(
    Object.entries(definition).map(([name, method]) => [
      name,
      {
        ...method,
        requestDeserialize: (bytes: Buffer): unknown => {
          try {
            return method.requestDeserialize(bytes);
          } catch (error) {
            return new UndecodableRequest(error instanceof Error ? error.message : String(error));
          }
        },
      },
    ]),
  );
}

/** Answers an UndecodableRequest with INVALID_ARGUMENT; the handler never sees it. */
const refuseUndecodableRequests: grpc.ServerInterceptor = (method, call) => {
  let refused = false;
  return new grpc.ServerInterceptingCall(call, {
    start(next) {
      next({
        onReceiveMessage(message, nextMessage) {
          if (refused) return;
          if (message instanceof UndecodableRequest) {
            refused = true;
            call.sendStatus({
              code: grpc.status.INVALID_ARGUMENT,
              details: `the request is not a valid message for ${method.path}: ${message.reason}`,
            });
            return;
          }
          nextMessage(message);
        },
        onReceiveHalfClose(nextHalfClose) {
          if (!refused) nextHalfClose();
        },
      });
    },
  });
};

/**
 * A grpc-js server that answers INVALID_ARGUMENT to a request whose bytes are not its message type
 * (truncated, a wire type that does not exist, an int64 past 2^53 where the contract maps it to a
 * JavaScript number). grpc-js itself answers INTERNAL when a request decoder throws, which tells the
 * client the server failed, when it was the request.
 */
export class RequestCheckingServer extends grpc.Server {
  constructor(options: grpc.ServerOptions = {}) {
    super({ ...options, interceptors: [refuseUndecodableRequests, ...(options.interceptors ?? [])] });
  }

  override addService(
    service: grpc.ServiceDefinition,
    implementation: grpc.UntypedServiceImplementation,
  ): void {
    super.addService(decodingFailuresAsValues(service), implementation);
  }
}
