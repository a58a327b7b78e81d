import { ConfigError, createLogger, createShutdown } from '@scoreline/platform';
import { buildScoreMakerApi } from './api.js';
import { loadApiConfig } from './config.js';

/** `npm run start:score-maker`: the REST API alone (the saga worker is its own process). */
async function main() {
  let config;
  try {
    config = loadApiConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`score-maker: ${error.message}\nSee .env.example for every setting.\n`);
      process.exit(2);
    }
    throw error;
  }
  const logger = createLogger({ name: 'score-maker-api', level: config.LOG_LEVEL });
  const shutdown = createShutdown({ logger, timeoutMs: config.SHUTDOWN_TIMEOUT });
  shutdown.installSignalHandlers();
  const api = await buildScoreMakerApi(config, { logger });
  shutdown.add('score-maker API', () => api.stop());
  await api.start();
}

main().catch((error: unknown) => {
  process.stderr.write(
    `score-maker failed to start: ${error instanceof Error ? error.stack : String(error)}\n`,
  );
  process.exit(1);
});
