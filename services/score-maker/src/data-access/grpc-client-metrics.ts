import * as grpc from '@grpc/grpc-js';
import { grpcCodeName, grpcHandlingSeconds, grpcPathLabels, type Metrics } from '@scoreline/platform';

/**
 * A client interceptor that records each call's time from its start to its status in
 * `grpc_client_handling_seconds`, by service, method and status code: UNAVAILABLE and
 * DEADLINE_EXCEEDED here are line-provider unreachable as the caller sees it.
 */
export function clientMetricsInterceptor(metrics: Metrics): grpc.Interceptor {
  const seconds = grpcHandlingSeconds(metrics, 'client');
  return (options, nextCall) => {
    const labels = grpcPathLabels(options.method_definition.path);
    const started = process.hrtime.bigint();
    return new grpc.InterceptingCall(nextCall(options), {
      start(metadata, listener, next) {
        next(metadata, {
          onReceiveStatus(status, nextStatus) {
            const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
            seconds.observe({ ...labels, grpc_code: grpcCodeName(status.code) }, elapsed);
            nextStatus(status);
          },
        });
      },
    });
  };
}
