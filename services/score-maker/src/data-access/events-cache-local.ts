import type { EventView } from '../domain/event-view.js';
import type { EventsCache } from './events-cache.js';

export interface LocalEventsCacheOptions {
  /** How long an event (or "no such event") is served from process memory without asking the cache. */
  ttlMs: number;
  /** Events kept at most; the oldest go first. Default 10,000. */
  maxEntries?: number;
  now?: () => number;
}

/** The events cache with an in-process copy in front of it, and a version for copies built from it. */
export interface LocalEventsCache extends EventsCache {
  /**
   * Grows with every invalidation this process hears of (its own and, through pub/sub, the others'): a
   * serialised page built while it held one value is current only while it still holds it.
   */
  version(): number;
}

interface Held {
  event: EventView | null;
  expiresAt: number;
}

/**
 * The API's hot paths (the POST's event check, GET /events/{id}) read events from process memory. A
 * copy is replaced when an invalidation for its event arrives (EventChanged → the worker's
 * invalidate() → Redis pub/sub, see EventsCache.onInvalidate) with the event it carried, or dropped
 * when it carried none, and expires after `ttlMs` regardless,
 * which bounds how stale it can be when a pub/sub message is lost. Values are shared, not copied:
 * callers must not mutate what they get (the HTTP views build new objects).
 */
export function createLocalEventsCache(
  inner: EventsCache,
  options: LocalEventsCacheOptions,
): LocalEventsCache {
  const now = options.now ?? Date.now;
  const maxEntries = options.maxEntries ?? 10_000;
  const held = new Map<number, Held>();
  const inflight = new Map<number, Promise<EventView | null>>();
  let version = 0;

  const unsubscribe = inner.onInvalidate((change) => {
    version += 1;
    if (change === 'all') held.clear();
    else if (change.event === undefined) held.delete(change.id);
    // The change carried the event at its version: hold that instead of asking for it again. Messages
    // carrying an event come newest-last (see the INVALIDATE script), but a copy is never replaced by
    // an older one.
    else if (!((held.get(change.id)?.event?.version ?? 0) > change.version)) keep(change.id, change.event);
  });

  function live(id: number): Held | undefined {
    const entry = held.get(id);
    if (entry === undefined) return undefined;
    if (entry.expiresAt > now()) return entry;
    held.delete(id);
    return undefined;
  }

  function keep(id: number, event: EventView | null): void {
    held.delete(id);
    held.set(id, { event, expiresAt: now() + options.ttlMs });
    for (const oldest of held.keys()) {
      if (held.size <= maxEntries) break;
      held.delete(oldest);
    }
  }

  return {
    version: () => version,

    async get(id) {
      const entry = live(id);
      if (entry) return entry.event ?? undefined;
      return inner.get(id);
    },

    put: (event) => inner.put(event),

    // Dropped here at once by the listener above (the inner cache tells its own listeners synchronously).
    invalidate: (id, eventVersion) => inner.invalidate(id, eventVersion),

    getOrLoad(id, load) {
      const entry = live(id);
      if (entry) return Promise.resolve(entry.event);
      const running = inflight.get(id);
      if (running) return running;
      const seen = version;
      const filling = inner
        .getOrLoad(id, load)
        .then((event) => {
          // An invalidation while this read was under way may concern what it read: do not keep it.
          if (version === seen) keep(id, event);
          return event;
        })
        .finally(() => inflight.delete(id));
      inflight.set(id, filling);
      return filling;
    },

    getPage: (key) => inner.getPage(key),
    putPage: (key, page) => inner.putPage(key, page),
    onInvalidate: (listener) => inner.onInvalidate(listener),

    async close() {
      // The inner cache belongs to whoever built it.
      unsubscribe();
      held.clear();
    },
  };
}
