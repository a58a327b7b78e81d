import { runService } from '@scoreline/platform';
import { buildScoreMakerApi } from './api.js';
import { loadApiConfig } from './config.js';

/** `npm run start:score-maker`: the REST API alone (the saga worker is its own process). */
runService(
  'score-maker',
  () => loadApiConfig(),
  (config, logger) => buildScoreMakerApi(config, { logger }),
);
