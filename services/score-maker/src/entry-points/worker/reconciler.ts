import type { Database, Logger } from '@scoreline/platform';
import type { LineProviderClient } from '../../data-access/line-provider-client.js';
import type { SagaRepository } from '../../data-access/saga-repository.js';

/**
 * The safety net for lost EventChanged messages: asks line-provider about every event that still has
 * scores not marked final, and marks them final when the event has closed (or no longer exists).
 */
export function createReconciler(deps: {
  db: Database;
  sagas: SagaRepository;
  lineProvider: Pick<LineProviderClient, 'getEvent'>;
  logger: Logger;
  batch?: number;
}) {
  const { db, sagas, lineProvider, logger } = deps;
  return async (): Promise<number> => {
    let marked = 0;
    for (const eventId of await sagas.eventsWithOpenScores(db, deps.batch ?? 1000)) {
      const event = await lineProvider.getEvent(eventId);
      // Still open (or past its deadline but not closed yet: line-provider's closer will announce it).
      if (event && event.state === 'OPEN') continue;
      marked += await db.transaction((tx) => sagas.markEventFinal(tx, eventId));
    }
    if (marked > 0) logger.info({ scores: marked }, 'reconciliation marked scores of closed events final');
    return marked;
  };
}
