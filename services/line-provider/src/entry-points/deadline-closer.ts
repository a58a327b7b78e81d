import type { Logger } from '@scoreline/platform';
import type { EventUseCases } from '../use-cases/events.js';

export interface DeadlineCloser {
  start(): void;
  stop(): Promise<void>;
}

/**
 * Closes events whose deadline passed, each in one transaction with its EventChanged row. Safe on any
 * number of replicas: the claim skips rows another closer holds (event-repository closeDue).
 */
export function createDeadlineCloser(deps: {
  events: EventUseCases;
  logger: Logger;
  intervalMs: number;
}): DeadlineCloser {
  const { events, logger, intervalMs } = deps;
  let timer: NodeJS.Timeout | undefined;
  let round: Promise<void> | undefined;
  let stopped = true;

  const tick = async () => {
    try {
      for (;;) {
        const closed = await events.closeDue(100);
        if (closed.length > 0)
          logger.info({ events: closed.map((e) => e.id) }, 'closed events at their deadline');
        if (closed.length < 100 || stopped) break;
      }
    } catch (error) {
      logger.warn({ err: error }, 'deadline closer round failed; will retry');
    }
  };

  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      round = tick().finally(schedule);
    }, intervalMs);
  };

  return {
    start() {
      if (!stopped) return;
      stopped = false;
      round = tick().finally(schedule);
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await round;
    },
  };
}
