import { startTracing } from '@scoreline/platform/tracing';

// First, so that the instrumentations see pg, ioredis and http load (tracing.ts); a no-op unless an
// OTEL_* variable asks for traces.
const tracing = await startTracing('score-maker-worker');
const { runService } = await import('@scoreline/platform');
const { loadWorkerConfig } = await import('./config.js');
const { buildScoreMakerWorker } = await import('./worker.js');

/** `npm run start:worker`: the outbox relay and the saga; run as many replicas as you like. */
runService(
  'score-maker worker',
  () => loadWorkerConfig(),
  (config, logger) => buildScoreMakerWorker(config, { logger, http: true }),
  tracing,
);
