import type { Logger } from '@scoreline/platform';

export interface Periodic {
  start(): void;
  stop(): Promise<void>;
}

/** Runs `task` every `intervalMs` (first run after one interval), never two at once; logs failures. */
export function periodic(
  name: string,
  intervalMs: number,
  task: () => Promise<void>,
  logger: Logger,
): Periodic {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopped = true;
  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      running = task()
        .catch((error: unknown) =>
          logger.warn({ err: error, task: name }, 'periodic task failed; will retry'),
        )
        .finally(schedule);
    }, intervalMs);
  };
  return {
    start() {
      if (!stopped) return;
      stopped = false;
      schedule();
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}
