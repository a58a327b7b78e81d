import { runService } from '@scoreline/platform';
import { buildLineProvider } from './app.js';
import { loadLineProviderConfig } from './config.js';

/** `npm run start:line-provider`. */
runService(
  'line-provider',
  () => loadLineProviderConfig(),
  (config, logger) => buildLineProvider(config, { logger, http: true }),
);
