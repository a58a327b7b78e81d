import type { Logger } from 'pino';

export interface ShutdownOptions {
  logger: Logger;
  /** After this long the process exits even if some step still hangs. */
  timeoutMs?: number;
  /** Injected for tests; the default ends the process. */
  exit?: (code: number) => void;
}

export interface Shutdown {
  /**
   * Registers a step. Steps run in reverse order of registration: what started last (takes traffic)
   * stops first, what everything depends on (the database) closes last.
   */
  add(name: string, step: () => Promise<void> | void): void;
  /** True once shutdown has begun: loops check it to stop taking work, readiness reports not-ready. */
  readonly closing: boolean;
  /** Runs every step once; later calls return the same promise. */
  run(reason: string): Promise<void>;
  /** SIGTERM/SIGINT start shutdown; a second signal exits at once. */
  installSignalHandlers(signals?: NodeJS.Signals[]): void;
}

export function createShutdown(options: ShutdownOptions): Shutdown {
  const { logger } = options;
  const timeoutMs = options.timeoutMs ?? 25_000;
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const steps: { name: string; step: () => Promise<void> | void }[] = [];
  let running: Promise<void> | undefined;

  const run = (reason: string): Promise<void> => {
    running ??= (async () => {
      logger.info({ reason }, 'shutting down');
      const timer = setTimeout(() => {
        logger.error({ timeoutMs }, 'shutdown timed out; exiting');
        exit(1);
      }, timeoutMs);
      timer.unref();
      let failed = false;
      for (const { name, step } of [...steps].reverse()) {
        try {
          await step();
          logger.debug({ step: name }, 'stopped');
        } catch (error) {
          failed = true;
          logger.error({ err: error, step: name }, 'shutdown step failed');
        }
      }
      clearTimeout(timer);
      logger.info('shutdown complete');
      if (failed) process.exitCode = 1;
    })();
    return running;
  };

  return {
    add(name, step) {
      steps.push({ name, step });
    },
    get closing() {
      return running !== undefined;
    },
    run,
    installSignalHandlers(signals = ['SIGTERM', 'SIGINT']) {
      for (const signal of signals) {
        process.on(signal, () => {
          if (running) {
            logger.warn({ signal }, 'second signal; exiting now');
            exit(130);
            return;
          }
          void run(signal).then(() => exit(process.exitCode === 1 ? 1 : 0));
        });
      }
    },
  };
}
