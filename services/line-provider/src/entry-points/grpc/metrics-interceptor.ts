import * as grpc from '@grpc/grpc-js';
import { grpcCodeName, grpcHandlingSeconds, grpcPathLabels, type Metrics } from '@scoreline/platform';

/**
 * Records every call's time from its start to its status in `grpc_server_handling_seconds`, by
 * service, method and status code (a refused token, a request that does not decode, a handler's
 * answer: whatever status is sent).
 */
export function metricsInterceptor(metrics: Metrics): grpc.ServerInterceptor {
  const seconds = grpcHandlingSeconds(metrics, 'server');
  return (method, call) => {
    const started = process.hrtime.bigint();
    const labels = grpcPathLabels(method.path);
    let done = false;
    return new grpc.ServerInterceptingCall(call, {
      sendStatus(status, next) {
        if (!done) {
          done = true;
          const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
          seconds.observe({ ...labels, grpc_code: grpcCodeName(status.code) }, elapsed);
        }
        next(status);
      },
    });
  };
}
