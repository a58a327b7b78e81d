import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import type { EventView } from '../domain/event-view.js';
import type { EventsCache, InvalidationListener, RedisEventsCacheOptions } from './events-cache.js';
import {
  INVALIDATE,
  LOOKUP,
  PUT,
  PUT_MISSING,
  PUT_PAGE,
  UNLOCK,
  revive,
  revivePage,
  type CacheScripts,
} from './events-cache-redis-storage.js';

const POLL_MS = 25;
const WARN_EVERY_MS = 10_000;
const MAX_PENDING_PAGES = 10_000;

/**
 * The events cache in Redis, shared by every API replica. Keys (`${prefix}:events:…`):
 *   event:<id>    hash {v: version, d: JSON}   PX ttlMs
 *   floor:<id>    highest version invalidate() was told of   PX floorTtlMs
 *   missing:<id>  "no such event"   PX negativeTtlMs
 *   lock:<id>     the replica filling this id   PX lockTtlMs
 *   generation    bumped by every invalidate(); pages store the one they were read under
 *   page:<key>    "<generation>|<JSON>"   PX listTtlMs
 *   changed       pub/sub channel: "<id>:<version>" for every invalidate(), for in-process copies,
 *                 "<id>:<version>:<event JSON>" when it carried the event at that version
 * Every read-compare-write is one Lua script, so two replicas never interleave inside one. The scripts
 * touch several keys, so this needs one Redis (or Sentinel), not Redis Cluster.
 */
export function createRedisEventsCache(options: RedisEventsCacheOptions): EventsCache {
  const { logger } = options;
  // PX takes whole milliseconds, at least 1.
  const ms = (value: number | undefined, fallback: number) => Math.max(1, Math.ceil(value ?? fallback));
  const ttlMs = ms(options.ttlMs, 5000);
  const listTtlMs = ms(options.listTtlMs, 2000);
  const negativeTtlMs = ms(options.negativeTtlMs, 1000);
  const floorTtlMs = ms(options.floorTtlMs, 60_000);
  const lockTtlMs = ms(options.lockTtlMs, 3000);
  const lockWaitMs = options.lockWaitMs ?? 1000;
  const base = `${options.prefix}:events`;
  const generationKey = `${base}:generation`;
  const channel = `${base}:changed`;
  const keysOf = (id: number) =>
    [`${base}:event:${id}`, `${base}:floor:${id}`, `${base}:missing:${id}`, `${base}:lock:${id}`] as const;

  // A cache must fail fast rather than make requests wait for it: commands give up after
  // commandTimeoutMs and after one reconnect attempt, and while the connection is known to be down
  // they are not sent at all (see usable()).
  // Commands issued in one tick (an EventChanged batch's invalidations, concurrent requests' lookups)
  // go out in one socket write: a write each cost the worker more than the scripts they carry.
  const redis = new Redis(options.url, {
    commandTimeout: options.commandTimeoutMs ?? 500,
    maxRetriesPerRequest: 1,
    connectTimeout: 1000,
    enableAutoPipelining: true,
  }) as Redis & CacheScripts;
  redis.defineCommand('cachePut', { numberOfKeys: 3, lua: PUT });
  redis.defineCommand('cachePutMissing', { numberOfKeys: 3, lua: PUT_MISSING });
  redis.defineCommand('cacheInvalidate', { numberOfKeys: 4, lua: INVALIDATE });
  redis.defineCommand('cacheLookup', { numberOfKeys: 3, lua: LOOKUP });
  redis.defineCommand('cacheUnlock', { numberOfKeys: 1, lua: UNLOCK });
  redis.defineCommand('cachePutPage', { numberOfKeys: 2, lua: PUT_PAGE });

  // While Redis is down every request would log; one line per WARN_EVERY_MS says it all.
  let lastWarnAt = Number.NEGATIVE_INFINITY;
  let suppressed = 0;
  const warn = (op: string, error: unknown) => {
    if (Date.now() - lastWarnAt < WARN_EVERY_MS) {
      suppressed += 1;
      return;
    }
    logger.warn({ err: error, op, suppressed }, 'events cache: Redis failed; serving without the cache');
    lastWarnAt = Date.now();
    suppressed = 0;
  };
  redis.on('error', (error) => warn('connection', error));

  // While the connection is known to be down, skip Redis at once instead of queueing behind a reconnect.
  const usable = () => {
    if (redis.status === 'reconnecting' || redis.status === 'close' || redis.status === 'end') {
      throw new Error(`Redis connection is ${redis.status}`);
    }
  };
  /** Runs one Redis step; on any failure logs (throttled) and answers `fallback`: never throws. */
  async function attempt<T>(op: string, fallback: T, step: () => Promise<T>): Promise<T> {
    try {
      usable();
      return await step();
    } catch (error) {
      warn(op, error);
      return fallback;
    }
  }

  const listeners = new Set<InvalidationListener>();
  const tell = (change: Parameters<InvalidationListener>[0]) => {
    for (const listener of listeners) listener(change);
  };
  // One subscriber connection, opened for the first listener. ioredis subscribes again after a
  // reconnect; what was published meanwhile is lost, so every (re)connection tells listeners 'all'.
  let subscriber: Redis | undefined;
  const subscribe = () => {
    subscriber = new Redis(options.url, { maxRetriesPerRequest: 1, connectTimeout: 1000 });
    subscriber.on('error', (error) => warn('subscribe', error));
    subscriber.on('ready', () => tell('all'));
    subscriber.on('message', (_channel: string, message: string) => {
      const change = parseChange(message);
      if (change) tell(change);
    });
    subscriber.subscribe(channel).catch((error: unknown) => warn('subscribe', error));
  };

  const pending = new Map<string, string>();
  const inflight = new Map<number, Promise<EventView | null>>();

  const put = (event: EventView): Promise<boolean> => {
    const [entry, floor, missing] = keysOf(event.id);
    const json = JSON.stringify(event);
    return attempt(
      'put',
      false,
      async () => (await redis.cachePut(entry, floor, missing, event.version, json, ttlMs)) === 1,
    );
  };

  async function fill(id: number, load: () => Promise<EventView | null>): Promise<EventView | null> {
    const event = await load();
    const [entry, floor, missing] = keysOf(id);
    if (event) await put(event);
    else await attempt('putMissing', 0, () => redis.cachePutMissing(entry, floor, missing, negativeTtlMs));
    return event;
  }

  async function lookupOrFill(id: number, load: () => Promise<EventView | null>) {
    const [entry, , missing, lock] = keysOf(id);
    const token = randomUUID();
    const waitUntil = Date.now() + lockWaitMs;
    for (;;) {
      const [kind, json] = await attempt<[string, string?]>('getOrLoad', ['error'], () =>
        redis.cacheLookup(entry, missing, lock, token, lockTtlMs),
      );
      if (kind === 'hit') return revive(json) ?? fill(id, load);
      if (kind === 'missing') return null;
      if (kind === 'error') return fill(id, load);
      if (kind === 'locked') {
        try {
          return await fill(id, load);
        } finally {
          // Lets the waiting replicas see the fill (or take the lock) at their next poll.
          await attempt('unlock', 0, () => redis.cacheUnlock(lock, token));
        }
      }
      // Another replica holds the lock. If it dies or is slow, load anyway: the lock only saves work.
      if (Date.now() >= waitUntil) return fill(id, load);
      await sleep(POLL_MS);
    }
  }

  return {
    async get(id) {
      return revive(await attempt('get', null, () => redis.hget(keysOf(id)[0], 'd')));
    },

    put,

    async invalidate(id, version, event) {
      const [entry, floor, missing] = keysOf(id);
      const json = event?.version === version ? JSON.stringify(event) : '';
      try {
        usable();
        await redis.cacheInvalidate(
          entry,
          floor,
          missing,
          generationKey,
          version,
          floorTtlMs,
          channel,
          `${id}:${version}`,
          json,
          ttlMs,
        );
      } catch (error) {
        // Not throttled: a lost invalidation leaves a stale copy for up to ttlMs, worth a line each.
        logger.warn({ err: error, eventId: id, version }, 'events cache: invalidate failed');
      }
      // This process's copies at once; other processes' through the PUBLISH above.
      tell(json ? { id, version, event: event! } : { id, version });
    },

    getOrLoad(id, load) {
      const running = inflight.get(id);
      if (running) return running;
      const filling = lookupOrFill(id, load).finally(() => inflight.delete(id));
      inflight.set(id, filling);
      return filling;
    },

    async getPage(key) {
      const reply = await attempt('getPage', null, () => redis.mget(generationKey, `${base}:page:${key}`));
      if (!reply) return undefined;
      const [generation, stored] = reply;
      const current = generation ?? '0';
      const cut = stored?.indexOf('|') ?? -1;
      if (stored && stored.slice(0, cut) === current) return revivePage(stored.slice(cut + 1));
      // Keep the oldest generation seen: a fill that started before an invalidate must not store.
      if (!pending.has(key)) {
        if (pending.size >= MAX_PENDING_PAGES) pending.delete(pending.keys().next().value!);
        pending.set(key, current);
      }
      return undefined;
    },

    async putPage(key, page) {
      const seen = pending.get(key) ?? '';
      pending.delete(key);
      const json = JSON.stringify(page);
      await attempt('putPage', 0, () =>
        redis.cachePutPage(generationKey, `${base}:page:${key}`, seen, json, listTtlMs),
      );
    },

    onInvalidate(listener) {
      listeners.add(listener);
      if (!subscriber) subscribe();
      return () => listeners.delete(listener);
    },

    async close() {
      listeners.clear();
      subscriber?.disconnect();
      if (redis.status === 'ready') await redis.quit().catch(() => redis.disconnect());
      else redis.disconnect();
    },
  };
}

/** A message on the changed channel: `<id>:<version>`, or `<id>:<version>:<event JSON>`. */
function parseChange(message: string): { id: number; version: number; event?: EventView } | undefined {
  const first = message.indexOf(':');
  const second = message.indexOf(':', first + 1);
  const id = Number(message.slice(0, first));
  const version = Number(second < 0 ? message.slice(first + 1) : message.slice(first + 1, second));
  if (first < 0 || !Number.isSafeInteger(id) || !Number.isSafeInteger(version)) return undefined;
  const event = second < 0 ? undefined : revive(message.slice(second + 1));
  return event?.id === id && event.version === version ? { id, version, event } : { id, version };
}
