import { ConfigError } from './config/load-config.js';
import { createLogger, type Logger } from './logger.js';
import { createShutdown } from './shutdown.js';

export interface Runnable {
  start(): Promise<unknown>;
  stop(): Promise<void>;
}

/**
 * The whole of a process's main: load the configuration (a bad value exits 2 with the message naming
 * the variable), build, start, and stop cleanly on SIGTERM/SIGINT. Start-up failures exit 1.
 */
export function runService<C extends { LOG_LEVEL: string; SHUTDOWN_TIMEOUT: number }>(
  name: string,
  loadConfig: () => C,
  build: (config: C, logger: Logger) => Promise<Runnable>,
  /** Started before anything else was imported (tracing.ts); flushed last on shutdown. */
  tracing?: { shutdown(): Promise<void> },
): void {
  const main = async () => {
    let config: C;
    try {
      config = loadConfig();
    } catch (error) {
      if (error instanceof ConfigError) {
        process.stderr.write(`${name}: ${error.message}\nSee .env.example for every setting.\n`);
        process.exit(2);
      }
      throw error;
    }
    const logger = createLogger({ name, level: config.LOG_LEVEL });
    const shutdown = createShutdown({ logger, timeoutMs: config.SHUTDOWN_TIMEOUT });
    shutdown.installSignalHandlers();
    if (tracing) shutdown.add('tracing', () => tracing.shutdown());
    const service = await build(config, logger);
    shutdown.add(name, () => service.stop());
    await service.start();
  };
  main().catch((error: unknown) => {
    process.stderr.write(
      `${name} failed to start: ${error instanceof Error ? error.stack : String(error)}\n`,
    );
    process.exit(1);
  });
}
