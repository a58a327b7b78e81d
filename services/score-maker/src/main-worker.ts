import { runService } from '@scoreline/platform';
import { loadWorkerConfig } from './config.js';
import { buildScoreMakerWorker } from './worker.js';

/** `npm run start:worker`: the outbox relay and the saga; run as many replicas as you like. */
runService(
  'score-maker worker',
  () => loadWorkerConfig(),
  (config, logger) => buildScoreMakerWorker(config, { logger, http: true }),
);
