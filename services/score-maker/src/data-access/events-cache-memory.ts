import type { EventsPage, EventView } from '../domain/event-view.js';
import type { EventsCache, EventsCacheOptions, InvalidationListener } from './events-cache.js';

interface Timed<T> {
  value: T;
  expiresAt: number;
}

// Expired entries are dropped when read; this many writes also sweep the whole cache, so ids that are
// never read again do not pile up in a long-running quick start.
const SWEEP_EVERY = 1000;
// Bounds the page keys remembered between a getPage miss and its putPage (a miss whose load failed
// never calls putPage).
const MAX_PENDING_PAGES = 10_000;

/**
 * The events cache in process memory, for the one-process quick start: the same rules as the Redis
 * adapter (version checks, floors, negative entries, page generations), single-flight within the
 * process. Values are copied in and out, so a caller mutating what it got cannot change the cache.
 */
export function createMemoryEventsCache(options: EventsCacheOptions = {}): EventsCache {
  const ttlMs = options.ttlMs ?? 5000;
  const listTtlMs = options.listTtlMs ?? 2000;
  const negativeTtlMs = options.negativeTtlMs ?? 1000;
  const floorTtlMs = options.floorTtlMs ?? 60_000;

  const entries = new Map<number, Timed<EventView>>();
  const floors = new Map<number, Timed<number>>();
  const missing = new Map<number, Timed<true>>();
  const pages = new Map<string, Timed<{ generation: number; page: EventsPage }>>();
  /** The generation each page key had when getPage missed: putPage stores only if it still holds. */
  const pending = new Map<string, number>();
  const inflight = new Map<number, Promise<EventView | null>>();
  const listeners = new Set<InvalidationListener>();
  let generation = 0;
  let writes = 0;

  function live<K, T>(map: Map<K, Timed<T>>, key: K): T | undefined {
    const timed = map.get(key);
    if (timed === undefined) return undefined;
    if (timed.expiresAt > Date.now()) return timed.value;
    map.delete(key);
    return undefined;
  }

  function set<K, T>(map: Map<K, Timed<T>>, key: K, value: T, forMs: number): void {
    map.set(key, { value, expiresAt: Date.now() + forMs });
    if (++writes % SWEEP_EVERY !== 0) return;
    const now = Date.now();
    for (const m of [entries, floors, missing, pages] as Map<unknown, Timed<unknown>>[]) {
      for (const [k, t] of m) if (t.expiresAt <= now) m.delete(k);
    }
  }

  function put(event: EventView): boolean {
    if (event.version < (live(floors, event.id) ?? 0)) return false;
    const held = live(entries, event.id);
    if (held !== undefined && held.version >= event.version) return false;
    set(entries, event.id, structuredClone(event), ttlMs);
    missing.delete(event.id);
    return true;
  }

  function putMissing(id: number): void {
    // A floor or an entry means the event exists: a load that saw nothing ran before it was created.
    if (live(floors, id) !== undefined || live(entries, id) !== undefined) return;
    set(missing, id, true, negativeTtlMs);
  }

  return {
    async get(id) {
      const held = live(entries, id);
      return held === undefined ? undefined : structuredClone(held);
    },

    async put(event) {
      return put(event);
    },

    async invalidate(id, version, event) {
      const newest = version >= (live(floors, id) ?? 0);
      set(floors, id, Math.max(version, live(floors, id) ?? 0), floorTtlMs);
      const held = live(entries, id);
      if (held !== undefined && held.version < version) entries.delete(id);
      missing.delete(id);
      generation += 1;
      const carried = newest && event?.version === version ? event : undefined;
      if (carried && !entries.has(id)) set(entries, id, structuredClone(carried), ttlMs);
      for (const listener of listeners) listener(carried ? { id, version, event: carried } : { id, version });
    },

    onInvalidate(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },

    getOrLoad(id, load) {
      const running = inflight.get(id);
      if (running) return running;
      const fill = (async () => {
        const held = live(entries, id);
        if (held !== undefined) return structuredClone(held);
        if (live(missing, id)) return null;
        const event = await load();
        if (event) put(event);
        else putMissing(id);
        return event;
      })().finally(() => inflight.delete(id));
      inflight.set(id, fill);
      return fill;
    },

    async getPage(key) {
      const held = live(pages, key);
      if (held !== undefined && held.generation === generation) return structuredClone(held.page);
      // Keep the oldest generation seen: a fill that started before an invalidate must not store.
      if (!pending.has(key)) {
        if (pending.size >= MAX_PENDING_PAGES) pending.delete(pending.keys().next().value!);
        pending.set(key, generation);
      }
      return undefined;
    },

    async putPage(key, page) {
      const seen = pending.get(key) ?? generation;
      pending.delete(key);
      if (seen !== generation) return;
      set(pages, key, { generation, page: structuredClone(page) }, listTtlMs);
    },

    async close() {
      entries.clear();
      floors.clear();
      missing.clear();
      pages.clear();
      pending.clear();
      listeners.clear();
    },
  };
}
