import { ConfigError, createLogger, createShutdown } from '@scoreline/platform';
import { loadWorkerConfig } from './config.js';
import { buildScoreMakerWorker } from './worker.js';

/** `npm run start:worker`: the outbox relay and the saga; run as many replicas as you like. */
async function main() {
  let config;
  try {
    config = loadWorkerConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`score-maker worker: ${error.message}\nSee .env.example for every setting.\n`);
      process.exit(2);
    }
    throw error;
  }
  const logger = createLogger({ name: 'score-maker-worker', level: config.LOG_LEVEL });
  const shutdown = createShutdown({ logger, timeoutMs: config.SHUTDOWN_TIMEOUT });
  shutdown.installSignalHandlers();
  const worker = await buildScoreMakerWorker(config, { logger, http: true });
  shutdown.add('score-maker worker', () => worker.stop());
  await worker.start();
}

main().catch((error: unknown) => {
  process.stderr.write(
    `score-maker worker failed to start: ${error instanceof Error ? error.stack : String(error)}\n`,
  );
  process.exit(1);
});
