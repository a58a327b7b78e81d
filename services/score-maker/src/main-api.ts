import { startTracing } from '@scoreline/platform/tracing';

// First, so that the instrumentations see http, pg and ioredis load (tracing.ts); a no-op unless an
// OTEL_* variable asks for traces.
const tracing = await startTracing('score-maker-api');
const { runService } = await import('@scoreline/platform');
const { buildScoreMakerApi } = await import('./api.js');
const { loadApiConfig } = await import('./config.js');

/** `npm run start:score-maker`: the REST API alone (the saga worker is its own process). */
runService(
  'score-maker',
  () => loadApiConfig(),
  (config, logger) => buildScoreMakerApi(config, { logger }),
  tracing,
);
