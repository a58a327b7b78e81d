import { EVENT_CHANGED_TOPIC, v1 } from '@scoreline/contracts';
import { crashPoint, type Database, type Logger } from '@scoreline/platform';
import type { EventsCache } from '../data-access/events-cache.js';
import { eventFromProto } from '../data-access/line-provider-mapping.js';
import type { EventView } from '../domain/event-view.js';
import type { SagaRepository } from '../data-access/saga-repository.js';

/** One EventChanged message as delivered: its message id and its payload (proto3 JSON). */
export interface EventChangedMessage {
  id: string;
  payload: unknown;
}

const CLOSING = new Set([
  v1.EventChangeKind.EVENT_CHANGE_KIND_CLOSED,
  v1.EventChangeKind.EVENT_CHANGE_KIND_CANCELLED,
]);

/**
 * line-provider's EventChanged messages, a batch at a time, coalesced per event:
 * - an event that closed (or was cancelled) has its scores marked final, in one transaction for the
 *   batch, deduplicated through the inbox (a close is acted on once);
 * - every event in the batch has the events cache invalidated once, with the newest version the batch
 *   holds and the event at that version (the message carries it whole), which the caches keep in place
 *   of their copies. Invalidation by version is idempotent (an older or repeated version changes
 *   nothing), so a change that does not close the event needs no inbox row.
 */
export function createEventChanges(deps: {
  db: Database;
  sagas: SagaRepository;
  cache: Pick<EventsCache, 'invalidate'>;
  logger: Logger;
}) {
  const { db, sagas, cache, logger } = deps;

  return async function handle(messages: readonly EventChangedMessage[]): Promise<void> {
    const newest = new Map<number, { version: number; message: v1.EventChanged }>();
    const closes: { id: string; eventId: number }[] = [];
    for (const message of messages) {
      const change = parse(message.payload);
      if (!change) {
        logger.error({ messageId: message.id }, 'EventChanged without a usable event id or version; dropped');
        continue;
      }
      const held = newest.get(change.eventId);
      if (!held || change.version > held.version) newest.set(change.eventId, change);
      if (CLOSING.has(change.kind)) closes.push({ id: message.id, eventId: change.eventId });
    }
    if (closes.length > 0) {
      await db.transaction(async (tx) => {
        const claimed = await sagas.claimMessages(
          tx,
          closes.map((c) => c.id),
          EVENT_CHANGED_TOPIC,
        );
        const eventIds = [...new Set(closes.filter((c) => claimed.has(c.id)).map((c) => c.eventId))];
        const marked = await sagas.markEventsFinal(tx, eventIds);
        if (marked > 0) logger.info({ eventIds, scores: marked }, 'events closed: scores are final');
      });
      crashPoint('worker.after-inbox');
    }
    await Promise.all(
      // The whole event is read from the newest message of each event only.
      [...newest].map(([eventId, { version, message }]) =>
        cache.invalidate(eventId, version, eventAt(message)),
      ),
    );
  };
}

function parse(
  payload: unknown,
): { eventId: number; version: number; kind: v1.EventChangeKind; message: v1.EventChanged } | undefined {
  let change: v1.EventChanged;
  try {
    change = v1.EventChanged.fromJSON(payload);
  } catch {
    return undefined;
  }
  const { eventId, version, kind } = change;
  if (!Number.isSafeInteger(eventId) || eventId < 1 || !Number.isSafeInteger(version)) return undefined;
  return { eventId, version, kind, message: change };
}

/** The whole event the message carries, if it is usable and at the message's version; else undefined. */
function eventAt(change: v1.EventChanged): EventView | undefined {
  try {
    const event = eventFromProto(change.event);
    return event.id === change.eventId && event.version === change.version ? event : undefined;
  } catch {
    return undefined;
  }
}
