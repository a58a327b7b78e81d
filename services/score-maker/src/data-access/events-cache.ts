import type { Logger } from '@scoreline/platform';
import type { EventsPage, EventView } from '../domain/event-view.js';

/**
 * The events cache in front of line-provider (DESIGN.md §4). Every entry carries the event's version, so
 * a stale fill never overwrites a newer copy, and invalidations leave a version floor behind them, so a
 * fill that was already in flight when the event changed cannot store what it read before the change.
 * A cache only speeds reads up: its own failures never fail a request.
 */
export interface EventsCache {
  /** Cached event, or undefined (miss, expired, or invalidated below a newer version). */
  get(id: number): Promise<EventView | undefined>;
  /** Stores unless the cache already holds (or was told of) a version >= event.version. Returns whether stored. */
  put(event: EventView): Promise<boolean>;
  /**
   * An EventChanged consumer calls this: version `version` of event `id` exists. Drops any cached copy
   * older than it and refuses later puts of older versions (a floor that outlives in-flight stale fills).
   * Also forgets a cached "no such event" and drops every cached page. With `event` (the event at
   * `version`, which EventChanged carries whole), the cache and every in-process copy hold that version
   * at once instead of dropping theirs: the next read needs no call to line-provider.
   */
  invalidate(id: number, version: number, event?: EventView): Promise<void>;
  /**
   * Read-through with one fill at a time per key: on a miss only one caller per key runs `load` (in
   * process; the Redis adapter also takes a short lock across replicas, whose losers poll the cache
   * briefly and load themselves if nothing arrives). `load` returns null for an unknown event; that
   * answer is cached for `negativeTtlMs` so a flood of requests for a missing id does not reach
   * line-provider. Errors of `load` reach every caller waiting on it; cache errors never do.
   */
  getOrLoad(id: number, load: () => Promise<EventView | null>): Promise<EventView | null>;
  /**
   * A cached page of GET /events, key e.g. `${state}:${pageSize}:${pageToken}`. Pages live `listTtlMs`
   * and every invalidate() drops them all (a generation number): a page holds many events, and tracking
   * which pages one event is on is not worth it for a two-second cache.
   */
  getPage(key: string): Promise<EventsPage | undefined>;
  /**
   * Stores a page unless an invalidate() happened since this key's getPage() missed: the page was then
   * read before that change and may be stale.
   */
  putPage(key: string, page: EventsPage): Promise<void>;
  /**
   * Calls `listener` for every invalidate(), this instance's at once and (on Redis) every other
   * process's through pub/sub, for in-process copies kept in front of this cache. Pub/sub delivers at
   * most once: after its connection was lost the listener gets 'all' (drop everything), and a copy must
   * still expire on its own. Returns the unsubscribe function.
   */
  onInvalidate(listener: InvalidationListener): () => void;
  close(): Promise<void>;
}

/** `event`, when the invalidation carried it: the event at `version`, to keep instead of a dropped copy. */
export type InvalidationListener = (
  change: { id: number; version: number; event?: EventView } | 'all',
) => void;

export interface EventsCacheOptions {
  logger?: Logger;
  /** How long an event stays cached. Default 5000. */
  ttlMs?: number;
  /** How long a page stays cached. Default 2000. */
  listTtlMs?: number;
  /** How long "no such event" stays cached. Default 1000. */
  negativeTtlMs?: number;
  /** How long an invalidation's version floor is kept; must outlast any fill in flight. Default 60000. */
  floorTtlMs?: number;
}

export interface RedisEventsCacheOptions extends EventsCacheOptions {
  url: string;
  /** Keys live under `${prefix}:events:`. */
  prefix: string;
  logger: Logger;
  /** Bound on every Redis command, so a hung Redis slows a request by at most this much. Default 500. */
  commandTimeoutMs?: number;
  /** How long the cross-replica fill lock lives; should exceed a load's own deadline. Default 3000. */
  lockTtlMs?: number;
  /** How long a replica that lost the lock polls for the winner's fill before loading itself. Default 1000. */
  lockWaitMs?: number;
}
