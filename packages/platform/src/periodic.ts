import type { Logger } from './logger.js';

export interface Periodic {
  start(): void;
  /** Stops scheduling and waits for a run in progress, whose signal is aborted. */
  stop(): Promise<void>;
}

export interface PeriodicOptions {
  /** Run once at start() too; otherwise the first run comes after one interval. */
  runAtStart?: boolean;
}

/**
 * Runs `task` every `intervalMs` after the previous run ended, never two at once, and logs its failures
 * (the next run is the retry). `task` gets a signal that stop() aborts, so a long run can end early.
 */
export function periodic(
  name: string,
  intervalMs: number,
  task: (signal: AbortSignal) => Promise<void>,
  logger: Logger,
  options: PeriodicOptions = {},
): Periodic {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopping: AbortController | undefined;
  const run = (signal: AbortSignal) => {
    running = task(signal)
      .catch((error: unknown) => logger.warn({ err: error, task: name }, 'periodic task failed; will retry'))
      .finally(() => schedule(signal));
  };
  const schedule = (signal: AbortSignal) => {
    if (signal.aborted) return;
    timer = setTimeout(() => run(signal), intervalMs);
  };
  return {
    start() {
      if (stopping && !stopping.signal.aborted) return;
      stopping = new AbortController();
      if (options.runAtStart) run(stopping.signal);
      else schedule(stopping.signal);
    },
    async stop() {
      stopping?.abort();
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}
