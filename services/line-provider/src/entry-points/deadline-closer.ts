import { periodic, type Logger, type Periodic } from '@scoreline/platform';
import type { EventUseCases } from '../use-cases/events.js';

export type DeadlineCloser = Periodic;

/**
 * Closes events whose deadline passed, each in one transaction with its EventChanged row, at start and
 * every `intervalMs`. Safe on any number of replicas: the claim skips rows another closer holds
 * (event-repository closeDue).
 */
export function createDeadlineCloser(deps: {
  events: EventUseCases;
  logger: Logger;
  intervalMs: number;
}): DeadlineCloser {
  const { events, logger, intervalMs } = deps;
  const closeDue = async (signal: AbortSignal) => {
    for (;;) {
      const closed = await events.closeDue(100);
      if (closed.length > 0)
        logger.info({ events: closed.map((e) => e.id) }, 'closed events at their deadline');
      if (closed.length < 100 || signal.aborted) break;
    }
  };
  return periodic('deadline-closer', intervalMs, closeDue, logger, { runAtStart: true });
}
