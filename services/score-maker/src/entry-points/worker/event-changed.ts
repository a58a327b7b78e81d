import type { Database, Delivery, Logger } from '@scoreline/platform';
import type { EventsCache } from '../../data-access/events-cache.js';
import type { SagaRepository } from '../../data-access/saga-repository.js';

/** line-provider's EventChanged payload (proto3 JSON of scoreline.line_provider.v1.EventChanged). */
export interface EventChangedPayload {
  eventId: number;
  version: number;
  kind: string;
  event?: { state?: string };
}

/**
 * Consumes EventChanged: deduplicated through the inbox table in the same transaction as its effect
 * (marking an event's scores final when it closes), then invalidates the events cache with the new
 * version (safe to repeat, so it runs for duplicates too).
 */
export function createEventChangedHandler(deps: {
  db: Database;
  sagas: SagaRepository;
  cache: EventsCache;
  logger: Logger;
}) {
  const { db, sagas, cache, logger } = deps;
  return async (delivery: Delivery<EventChangedPayload>): Promise<void> => {
    const { eventId, version, kind } = delivery.payload;
    if (!Number.isSafeInteger(eventId) || !Number.isSafeInteger(version)) {
      logger.error({ messageId: delivery.id }, 'EventChanged without a usable event id or version; dropped');
      return;
    }
    const closes = kind === 'EVENT_CHANGE_KIND_CLOSED' || kind === 'EVENT_CHANGE_KIND_CANCELLED';
    await db.transaction(async (tx) => {
      if (!(await sagas.claimMessage(tx, delivery.id, delivery.topic))) return;
      if (closes) {
        const marked = await sagas.markEventFinal(tx, eventId);
        if (marked > 0) logger.info({ eventId, scores: marked }, 'event closed: scores are final');
      }
    });
    await cache.invalidate(eventId, version);
  };
}
