import { setTimeout as sleep } from 'node:timers/promises';
import { createLogger, silentLogger } from '@scoreline/platform';
import {
  createTestRedis,
  redisSkipReason,
  testServices,
  waitFor,
  type TestRedis,
} from '@scoreline/platform/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type EventsCache, type EventsCacheOptions } from '../src/data-access/events-cache.js';
import { createLocalEventsCache } from '../src/data-access/events-cache-local.js';
import { createMemoryEventsCache } from '../src/data-access/events-cache-memory.js';
import { createRedisEventsCache } from '../src/data-access/events-cache-redis.js';
import type { EventView } from '../src/domain/event-view.js';

function eventView(id: number, version: number): EventView {
  return {
    id,
    title: `Event ${id}`,
    deadline: new Date('2031-05-06T07:08:09.123Z'),
    state: 'OPEN',
    status: 'HIGH_SCORE',
    scores: { count: 2, sum: 7, average: 3.5, histogram: [0, 0, 1, 1, 0] },
    version,
    createdAt: new Date('2030-01-02T03:04:05.678Z'),
    updatedAt: new Date(Date.UTC(2030, 0, 2, 3, 4, 5, 678) + version),
  };
}

/** A load that counts its calls and takes `ms` to answer, like a gRPC round trip. */
function countingLoad(answer: () => EventView | null, ms = 50) {
  const load = async () => {
    load.calls += 1;
    await sleep(ms);
    return answer();
  };
  load.calls = 0;
  return load;
}

type Options = EventsCacheOptions & { lockWaitMs?: number };

/** Opens `count` caches over one fresh, empty keyspace (more than one: replicas sharing it). */
type Open = (options: Options, count: number) => EventsCache[];

/**
 * One contract, both adapters: the quick start must behave like the full topology. `shared` adapters
 * can run several instances over one keyspace, like API replicas over one Redis.
 */
function eventsCacheContract({ shared }: { shared: boolean }, openAdapter: Open) {
  let opened: EventsCache[] = [];
  const openMany = (options: Options, count: number) => {
    const caches = openAdapter(options, count);
    opened.push(...caches);
    return caches;
  };
  const open = (options: Options = {}) => openMany(options, 1)[0]!;
  afterEach(async () => {
    await Promise.all(opened.map((c) => c.close()));
    opened = [];
  });

  it('when an event is put, then get returns it with its Dates intact', async () => {
    const cache = open();
    const event = eventView(1, 1);
    expect(await cache.put(event)).toBe(true);
    const got = await cache.get(1);
    expect(got).toEqual(event);
    expect(got?.deadline).toBeInstanceOf(Date);
    expect(got?.updatedAt.getTime()).toBe(event.updatedAt.getTime());
    expect(await cache.get(2)).toBeUndefined();
  });

  it('when an older version is put after a newer one, then it is refused and get still returns the newer', async () => {
    const cache = open();
    expect(await cache.put(eventView(1, 3))).toBe(true);
    expect(await cache.put(eventView(1, 2))).toBe(false);
    expect(await cache.put(eventView(1, 3))).toBe(false);
    expect((await cache.get(1))?.version).toBe(3);
    expect(await cache.put(eventView(1, 4))).toBe(true);
    expect((await cache.get(1))?.version).toBe(4);
  });

  it('when an event is invalidated at version v, then an older copy is dropped and only v or newer can be put', async () => {
    const cache = open();
    await cache.put(eventView(1, 1));
    await cache.invalidate(1, 3);
    expect(await cache.get(1)).toBeUndefined();
    expect(await cache.put(eventView(1, 2))).toBe(false);
    expect(await cache.put(eventView(1, 3))).toBe(true);
    expect((await cache.get(1))?.version).toBe(3);
    // A copy at or above the version told of stays, and a late, lower invalidate never lowers the floor.
    await cache.invalidate(1, 3);
    expect((await cache.get(1))?.version).toBe(3);
    await cache.invalidate(2, 5);
    await cache.invalidate(2, 4);
    expect(await cache.put(eventView(2, 4))).toBe(false);
    expect(await cache.put(eventView(2, 5))).toBe(true);
  });

  it('when an invalidation carries the event at its version, then the cache holds it and listeners get it', async () => {
    const [cache, replica] = openMany({}, shared ? 2 : 1);
    const heard: unknown[] = [];
    const listening = replica ?? cache!;
    listening.onInvalidate((change) => heard.push(change));
    // A subscription is made for the first listener; once made, it tells its listeners 'all'.
    if (shared) await waitFor(() => heard.includes('all'), { intervalMs: 5 });
    heard.length = 0;
    await cache!.put(eventView(3, 1));
    await cache!.invalidate(3, 2, eventView(3, 2));
    expect(await cache!.get(3)).toEqual(eventView(3, 2));
    await waitFor(() => heard.length > 0, { intervalMs: 5 });
    expect(heard).toEqual([{ id: 3, version: 2, event: eventView(3, 2) }]);
    // An older version carried late is neither stored nor passed on, and the floor holds.
    heard.length = 0;
    await cache!.invalidate(3, 1, eventView(3, 1));
    expect((await cache!.get(3))?.version).toBe(2);
    await waitFor(() => heard.length > 0, { intervalMs: 5 });
    expect(heard).toEqual([{ id: 3, version: 1 }]);
  });

  it('when an invalidation carries the event, then a local copy in front of the cache holds it without loading', async () => {
    const [cache, replica] = openMany({}, shared ? 2 : 1);
    const local = createLocalEventsCache(replica ?? cache!, { ttlMs: 60_000 });
    if (shared) await waitFor(() => local.version() > 0, { intervalMs: 5 }); // subscribed: 'all'
    const load = countingLoad(() => eventView(4, 1), 0);
    expect((await local.getOrLoad(4, load))?.version).toBe(1);
    const before = local.version();
    await cache!.invalidate(4, 2, eventView(4, 2));
    await waitFor(() => local.version() > before, { intervalMs: 5 });
    expect(await local.getOrLoad(4, load)).toEqual(eventView(4, 2));
    expect(load.calls).toBe(1);
    // Without the event, the copy is dropped and the next read goes to the cache (which dropped it too).
    await cache!.invalidate(4, 3);
    await waitFor(() => local.version() > before + 1, { intervalMs: 5 });
    const reload = countingLoad(() => eventView(4, 3), 0);
    expect((await local.getOrLoad(4, reload))?.version).toBe(3);
    expect(reload.calls).toBe(1);
    await local.close();
  });

  it('when ttlMs has passed, then the event is gone', async () => {
    const cache = open({ ttlMs: 100 });
    await cache.put(eventView(1, 1));
    expect(await cache.get(1)).toBeDefined();
    await sleep(250);
    expect(await cache.get(1)).toBeUndefined();
    expect(await cache.put(eventView(1, 1))).toBe(true);
  });

  it('when 50 callers miss the same event at once, then load runs once and all get its answer', async () => {
    const cache = open();
    const load = countingLoad(() => eventView(7, 2));
    const results = await Promise.all(Array.from({ length: 50 }, () => cache.getOrLoad(7, load)));
    expect(load.calls).toBe(1);
    for (const result of results) expect(result).toEqual(eventView(7, 2));
    expect(await cache.getOrLoad(7, load)).toEqual(eventView(7, 2));
    expect(load.calls).toBe(1);
  });

  it('when load fails, then every waiting caller gets its error and nothing is cached', async () => {
    const cache = open();
    const load = countingLoad(() => {
      throw new Error('line-provider down');
    });
    const results = await Promise.allSettled(Array.from({ length: 10 }, () => cache.getOrLoad(8, load)));
    expect(load.calls).toBe(1);
    expect(results.every((r) => r.status === 'rejected')).toBe(true);
    expect(await cache.getOrLoad(8, async () => eventView(8, 1))).toEqual(eventView(8, 1));
  });

  it('when an event is unknown, then the null answer is cached for negativeTtlMs and invalidate clears it', async () => {
    const cache = open({ negativeTtlMs: 150 });
    let exists = false;
    const load = countingLoad(() => (exists ? eventView(9, 1) : null), 5);
    expect(await cache.getOrLoad(9, load)).toBeNull();
    expect(await cache.getOrLoad(9, load)).toBeNull();
    expect(load.calls).toBe(1);
    await sleep(300);
    expect(await cache.getOrLoad(9, load)).toBeNull();
    expect(load.calls).toBe(2);

    exists = true;
    await cache.invalidate(9, 1); // the event was created
    expect(await cache.getOrLoad(9, load)).toEqual(eventView(9, 1));
    expect(load.calls).toBe(3);
  });

  it('when the event changes while a fill is in flight, then the stale answer is not cached', async () => {
    const cache = open();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const stale = cache.getOrLoad(10, async () => {
      await gate;
      return eventView(10, 1);
    });
    const missing = cache.getOrLoad(11, async () => {
      await gate;
      return null;
    });
    await sleep(20);
    await cache.invalidate(10, 2);
    await cache.invalidate(11, 1);
    release();
    expect((await stale)?.version).toBe(1); // the caller gets what it loaded…
    expect(await cache.get(10)).toBeUndefined(); // …but the cache does not keep it
    expect(await missing).toBeNull();
    expect(await cache.getOrLoad(11, async () => eventView(11, 1))).toEqual(eventView(11, 1));
  });

  it('when a page is put, then it is served until an invalidate or listTtlMs', async () => {
    const cache = open({ listTtlMs: 150 });
    const page = { events: [eventView(1, 1), eventView(2, 4)], nextPageToken: 'abc' };
    expect(await cache.getPage('OPEN:2:')).toBeUndefined();
    await cache.putPage('OPEN:2:', page);
    const got = await cache.getPage('OPEN:2:');
    expect(got).toEqual(page);
    expect(got?.events[1]?.deadline).toBeInstanceOf(Date);

    await cache.invalidate(99, 1); // any event: every page goes
    expect(await cache.getPage('OPEN:2:')).toBeUndefined();
    await cache.putPage('OPEN:2:', page);
    expect(await cache.getPage('OPEN:2:')).toEqual(page);
    await sleep(300);
    expect(await cache.getPage('OPEN:2:')).toBeUndefined();
  });

  it('when an invalidate happens between a page miss and its put, then the stale page is not stored', async () => {
    const cache = open();
    const page = { events: [eventView(1, 1)], nextPageToken: '' };
    expect(await cache.getPage('ALL:50:')).toBeUndefined();
    await cache.invalidate(1, 2);
    await cache.putPage('ALL:50:', page);
    expect(await cache.getPage('ALL:50:')).toBeUndefined();
    await cache.putPage('ALL:50:', { events: [eventView(1, 2)], nextPageToken: '' });
    expect((await cache.getPage('ALL:50:'))?.events[0]?.version).toBe(2);
  });

  if (shared) {
    it('when two replicas with 25 callers each miss the same event, then load runs once', async () => {
      // The contract promises at most 2 loads: a replica that lost the fill lock stops polling after
      // lockWaitMs and loads itself. With a wait far above the load's 100 ms the lock holder's fill
      // always arrives first, so exactly 1 here proves the lock (without it, each replica loads once).
      const [a, b] = openMany({ lockWaitMs: 5000 }, 2);
      const load = countingLoad(() => eventView(12, 3), 100);
      const results = await Promise.all(
        [a!, b!].flatMap((cache) => Array.from({ length: 25 }, () => cache.getOrLoad(12, load))),
      );
      for (const result of results) expect(result).toEqual(eventView(12, 3));
      expect(load.calls).toBeLessThanOrEqual(2);
      expect(load.calls).toBe(1);
    });
  }
}

describe('events cache (memory)', () => {
  eventsCacheContract({ shared: false }, (options) => [createMemoryEventsCache(options)]);
});

describe.skipIf(!testServices().redisUrl)(`events cache (Redis)${redisSkipReason()}`, () => {
  let redis: TestRedis;
  let keyspace = 0;
  beforeAll(() => {
    redis = createTestRedis();
  });
  afterAll(async () => {
    await redis.dispose();
  });

  eventsCacheContract({ shared: true }, (options, count) => {
    keyspace += 1;
    const prefix = `${redis.prefix}:${keyspace}`;
    return Array.from({ length: count }, () =>
      createRedisEventsCache({ ...options, url: redis.url, prefix, logger: silentLogger() }),
    );
  });
});

describe('events cache (Redis down)', () => {
  it('when Redis is unreachable, then the cache misses, warns and getOrLoad still answers from load', async () => {
    const lines: string[] = [];
    const logger = createLogger(
      { name: 'test', level: 'warn' },
      { write: (line: string) => lines.push(line) },
    );
    const cache = createRedisEventsCache({ url: 'redis://127.0.0.1:1', prefix: 'down', logger });
    const started = Date.now();
    try {
      expect(await cache.get(1)).toBeUndefined();
      expect(await cache.put(eventView(1, 1))).toBe(false);
      await cache.invalidate(1, 2);
      const load = countingLoad(() => eventView(1, 2), 0);
      expect(await cache.getOrLoad(1, load)).toEqual(eventView(1, 2));
      expect(load.calls).toBe(1);
      expect(await cache.getOrLoad(2, async () => null)).toBeNull();
      expect(await cache.getPage('OPEN:50:')).toBeUndefined();
      await cache.putPage('OPEN:50:', { events: [], nextPageToken: '' });
    } finally {
      await cache.close();
    }
    // Every call failed fast (commandTimeoutMs is 500, and most do not even wait for that).
    expect(Date.now() - started).toBeLessThan(3000);
    expect(lines.some((l) => l.includes('events cache: Redis failed'))).toBe(true);
    expect(lines.some((l) => l.includes('events cache: invalidate failed'))).toBe(true);
  });
});
