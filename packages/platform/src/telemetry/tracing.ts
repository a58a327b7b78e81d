import { register } from 'node:module';

/**
 * Distributed tracing, switched on by the standard OpenTelemetry variables and by nothing else.
 *
 * Each process calls `startTracing` first, before it imports anything that loads `pg`, `ioredis`,
 * `@grpc/grpc-js` or `node:http` (entry points import their composition root dynamically after it), so
 * that the instrumentations can patch those modules as they load:
 *
 * - `pg` and `ioredis` are CommonJS, and so is Fastify, which requires `node:http`: those are patched
 *   through `require` hooks, as long as the SDK started before their first import.
 * - The rest is only seen through an ESM loader hook: `module.register` of import-in-the-middle's hook
 *   (`@opentelemetry/instrumentation/hook.mjs`), with the message channel that limits it to the modules
 *   an instrumentation asked for. Tried without it (test/e2e/tracing.test.ts): only the API's request,
 *   SQL and Redis spans reached the receiver, nothing of the gRPC calls (the generated clients and the
 *   server reach grpc-js through ESM named imports) nor of what follows them. With it, every hop the
 *   test looks for is there, gRPC client and server spans included.
 * - The quick start (`npm start`) is not traced: it runs an esbuild bundle, which imports every package
 *   before its first line runs, so nothing could be patched (and it has no PostgreSQL or Redis client
 *   to trace). Run the services separately to trace them.
 *
 * When no trace exporter is configured nothing of the SDK is imported: the cost is one look at the
 * environment, and `@opentelemetry/api` (used by the code's own spans) stays a no-op.
 */

export interface Tracing {
  /** Flushes the spans still buffered and stops exporting. */
  shutdown(): Promise<void>;
}

type Environment = Readonly<Record<string, string | undefined>>;

const listOf = (value: string | undefined) =>
  (value ?? '')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s !== '');

/**
 * Whether the environment asks for traces: `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none`
 * say no; an `OTEL_TRACES_EXPORTER` (otlp, console …) says yes; left unset, an OTLP endpoint
 * (`OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) says yes. The SDK itself
 * would export to localhost:4318 with nothing set; here nothing set means no tracing.
 */
export function tracingRequested(
  // eslint-disable-next-line no-restricted-properties -- OTEL_* belong to the SDK, which reads them here itself
  env: Environment = process.env,
): boolean {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return false;
  const exporters = listOf(env.OTEL_TRACES_EXPORTER);
  if (exporters.length > 0) return !exporters.every((e) => e === 'none');
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim() || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim());
}

/**
 * Starts the OpenTelemetry SDK when the environment asks for traces (see `tracingRequested`), else
 * returns undefined having loaded nothing. `serviceName` is the default for `OTEL_SERVICE_NAME`.
 * Everything else (exporter, endpoint, protocol, sampler, batch delays, resource attributes,
 * propagators) is the SDK's reading of its `OTEL_*` variables.
 */
export async function startTracing(
  serviceName: string,
  // eslint-disable-next-line no-restricted-properties -- OTEL_* belong to the SDK, which reads them here itself
  env: Environment = process.env,
): Promise<Tracing | undefined> {
  if (!tracingRequested(env)) return undefined;

  const { createAddHookMessageChannel } = await import('import-in-the-middle');
  const { registerOptions, waitForAllMessagesAcknowledged } = createAddHookMessageChannel();
  register('@opentelemetry/instrumentation/hook.mjs', import.meta.url, registerOptions);

  const [{ NodeSDK }, http, grpc, pg, ioredis] = await Promise.all([
    import('@opentelemetry/sdk-node'),
    import('@opentelemetry/instrumentation-http'),
    import('@opentelemetry/instrumentation-grpc'),
    import('@opentelemetry/instrumentation-pg'),
    import('@opentelemetry/instrumentation-ioredis'),
  ]);
  const probes = new Set(['/healthz', '/readyz', '/metrics']);
  const sdk = new NodeSDK({
    serviceName: env.OTEL_SERVICE_NAME?.trim() ? undefined : serviceName,
    instrumentations: [
      new http.HttpInstrumentation({
        // Probes and scrapes every few seconds would drown the traces that matter.
        ignoreIncomingRequestHook: (request) => probes.has((request.url ?? '').split('?')[0]!),
      }),
      new grpc.GrpcInstrumentation({ ignoreGrpcMethods: ['Check', 'Watch'] }),
      // Only queries made on behalf of something traced: the relays' and consumers' polling stays out.
      new pg.PgInstrumentation({ requireParentSpan: true }),
      new ioredis.IORedisInstrumentation({ requireParentSpan: true }),
    ],
    // Metrics are Prometheus' (metrics.ts) and logs go to stdout: the SDK exports traces only.
    metricReaders: [],
    logRecordProcessors: [],
  });
  sdk.start();
  await waitForAllMessagesAcknowledged();
  return { shutdown: () => sdk.shutdown() };
}
