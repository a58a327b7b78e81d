import { ConfigError, createLogger, createShutdown } from '@scoreline/platform';
import { buildLineProvider } from './app.js';
import { loadLineProviderConfig } from './config.js';

/** `npm run start:line-provider`: load the configuration, build, start; stop cleanly on a signal. */
async function main() {
  let config;
  try {
    config = loadLineProviderConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`line-provider: ${error.message}\nSee .env.example for every setting.\n`);
      process.exit(2);
    }
    throw error;
  }
  const logger = createLogger({ name: 'line-provider', level: config.LOG_LEVEL });
  const shutdown = createShutdown({ logger, timeoutMs: config.SHUTDOWN_TIMEOUT });
  shutdown.installSignalHandlers();
  const app = await buildLineProvider(config, { logger });
  shutdown.add('line-provider', () => app.stop());
  await app.start();
}

main().catch((error: unknown) => {
  process.stderr.write(
    `line-provider failed to start: ${error instanceof Error ? error.stack : String(error)}\n`,
  );
  process.exit(1);
});
