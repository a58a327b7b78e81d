import { startTracing } from '@scoreline/platform/tracing';

// First, so that the instrumentations see pg, grpc-js and http load (tracing.ts); a no-op unless an
// OTEL_* variable asks for traces.
const tracing = await startTracing('line-provider');
const { runService } = await import('@scoreline/platform');
const { buildLineProvider } = await import('./app.js');
const { loadLineProviderConfig } = await import('./config.js');

/** `npm run start:line-provider`. */
runService(
  'line-provider',
  () => loadLineProviderConfig(),
  (config, logger) => buildLineProvider(config, { logger, http: true }),
  tracing,
);
