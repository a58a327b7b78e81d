import { AppError } from '@scoreline/platform';
import type { LocalEventsCache } from '../data-access/events-cache-local.js';
import type { LineProviderClient } from '../data-access/line-provider-client.js';
import type { EventsPage, EventView } from '../domain/event-view.js';

/**
 * Events as the API serves them: from process memory, then the Redis cache, filled from line-provider
 * on a miss (see createLocalEventsCache for how fresh the memory copy is).
 */
export function createEventReads(deps: {
  cache: LocalEventsCache;
  lineProvider: Pick<LineProviderClient, 'getEvent' | 'listEvents'>;
}) {
  const { cache, lineProvider } = deps;
  const load = (id: number) => cache.getOrLoad(id, () => lineProvider.getEvent(id));

  return {
    /** For the write path's check: null when line-provider says there is no such event. */
    load,

    /** Changes whenever an event may have changed: what was built from these reads is stale then. */
    version: () => cache.version(),

    async get(id: number): Promise<EventView> {
      const event = await load(id);
      if (!event) throw new AppError('EVENT_NOT_FOUND', `event ${id} does not exist`);
      return event;
    },

    async list(query: {
      state: EventView['state'] | undefined;
      limit: number;
      pageToken: string;
    }): Promise<EventsPage> {
      const key = `${query.state ?? 'ALL'}:${query.limit}:${query.pageToken}`;
      const cached = await cache.getPage(key);
      if (cached) return cached;
      let page: EventsPage;
      try {
        page = await lineProvider.listEvents({
          state: query.state,
          pageSize: query.limit,
          pageToken: query.pageToken,
        });
      } catch (error) {
        if ((error as AppError).code === 'INVALID_ARGUMENT') {
          throw new AppError('INVALID_ARGUMENT', 'cursor is not one this API issued', {
            field: 'query.cursor',
            cause: error,
          });
        }
        throw error;
      }
      await cache.putPage(key, page);
      await Promise.all(page.events.map((event) => cache.put(event)));
      return page;
    },
  };
}

export type EventReads = ReturnType<typeof createEventReads>;
