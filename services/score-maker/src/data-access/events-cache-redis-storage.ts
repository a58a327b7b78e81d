import type { EventsPage, EventView } from '../domain/event-view.js';

/**
 * How the Redis events cache stores things. Values are JSON (Dates revived on the way out). The
 * compare-and-set steps are Lua scripts: Redis runs a script atomically, so a version check and the
 * write it guards cannot interleave with another replica's. Versions are compared with tonumber (exact
 * up to 2^53) but written back as the strings they came in as: Lua prints large numbers as 1e+15.
 */

/** The methods ioredis' defineCommand adds to the client for the scripts below. */
export interface CacheScripts {
  cachePut(
    entry: string,
    floor: string,
    missing: string,
    version: number,
    json: string,
    ttlMs: number,
  ): Promise<number>;
  cachePutMissing(entry: string, floor: string, missing: string, ttlMs: number): Promise<number>;
  cacheInvalidate(
    entry: string,
    floor: string,
    missing: string,
    generation: string,
    version: number,
    floorTtlMs: number,
    channel: string,
    message: string,
    json: string,
    ttlMs: number,
  ): Promise<number>;
  cacheLookup(
    entry: string,
    missing: string,
    lock: string,
    token: string,
    lockTtlMs: number,
  ): Promise<[string, string?]>;
  cacheUnlock(lock: string, token: string): Promise<number>;
  cachePutPage(
    generation: string,
    page: string,
    seenGeneration: string,
    json: string,
    ttlMs: number,
  ): Promise<number>;
}

/**
 * KEYS entry, floor, missing; ARGV version, json, ttlMs. Stores unless the version is below the floor
 * (an invalidation told of a newer one) or not above the one held. Returns 1 if stored.
 */
export const PUT = `
local version = tonumber(ARGV[1])
local floor = redis.call('GET', KEYS[2])
if floor and version < tonumber(floor) then return 0 end
local held = redis.call('HGET', KEYS[1], 'v')
if held and tonumber(held) >= version then return 0 end
redis.call('HSET', KEYS[1], 'v', ARGV[1], 'd', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('DEL', KEYS[3])
return 1
`;

/**
 * KEYS entry, floor, missing; ARGV ttlMs. Caches "no such event" unless an entry or a floor says the
 * event exists: then the load that found nothing ran before the event was created.
 */
export const PUT_MISSING = `
if redis.call('EXISTS', KEYS[1], KEYS[2]) > 0 then return 0 end
redis.call('SET', KEYS[3], '1', 'PX', ARGV[1])
return 1
`;

/**
 * KEYS entry, floor, missing, generation; ARGV version, floorTtlMs, channel, message, json, ttlMs. Raises
 * the floor to the version (never lowers it), drops an older cached copy and a cached "no such event",
 * bumps the page generation so every cached page is dropped, and publishes the change to the API
 * replicas' in-process copies (after the writes: a replica that hears of it and reads again finds them
 * done). With json (the event at this version) and no newer version told of before, it is stored in
 * place of the dropped copy and published with the message (`<message>:<json>`).
 */
export const INVALIDATE = `
local version = tonumber(ARGV[1])
local floor = redis.call('GET', KEYS[2])
local newest = not floor or tonumber(floor) <= version
if newest then floor = ARGV[1] end
redis.call('SET', KEYS[2], floor, 'PX', ARGV[2])
local held = redis.call('HGET', KEYS[1], 'v')
if held and tonumber(held) < version then
  redis.call('DEL', KEYS[1])
  held = nil
end
redis.call('DEL', KEYS[3])
redis.call('INCR', KEYS[4])
if ARGV[5] ~= '' and newest then
  if not held then
    redis.call('HSET', KEYS[1], 'v', ARGV[1], 'd', ARGV[5])
    redis.call('PEXPIRE', KEYS[1], ARGV[6])
  end
  redis.call('PUBLISH', ARGV[3], ARGV[4] .. ':' .. ARGV[5])
else
  redis.call('PUBLISH', ARGV[3], ARGV[4])
end
return 1
`;

/**
 * KEYS entry, missing, lock; ARGV token, lockTtlMs. One round trip per poll of getOrLoad: the cached
 * event ('hit', json), a cached 'missing', or else the fill lock: 'locked' if this caller took it,
 * 'wait' if another replica holds it.
 */
export const LOOKUP = `
local data = redis.call('HGET', KEYS[1], 'd')
if data then return {'hit', data} end
if redis.call('EXISTS', KEYS[2]) == 1 then return {'missing'} end
if redis.call('SET', KEYS[3], ARGV[1], 'NX', 'PX', ARGV[2]) then return {'locked'} end
return {'wait'}
`;

/** KEYS lock; ARGV token. Releases the lock only if this caller still holds it (it may have expired). */
export const UNLOCK = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

/**
 * KEYS generation, page; ARGV seenGeneration ('' = the current one), json, ttlMs. Stores the page under
 * the current generation unless an invalidation bumped it since the caller's miss.
 */
export const PUT_PAGE = `
local current = redis.call('GET', KEYS[1]) or '0'
if ARGV[1] ~= '' and ARGV[1] ~= current then return 0 end
redis.call('SET', KEYS[2], current .. '|' .. ARGV[2], 'PX', ARGV[3])
return 1
`;

type Stored = Omit<EventView, 'deadline' | 'createdAt' | 'updatedAt'> &
  Record<'deadline' | 'createdAt' | 'updatedAt', string>;

/** JSON turned the Dates into ISO strings; turn them back. Unreadable values count as misses. */
function fromStored(raw: Stored): EventView | undefined {
  const event: EventView = {
    ...raw,
    deadline: new Date(raw.deadline),
    createdAt: new Date(raw.createdAt),
    updatedAt: new Date(raw.updatedAt),
  };
  return Number.isSafeInteger(event.version) && !Number.isNaN(event.deadline.getTime()) ? event : undefined;
}

export function revive(json: string | null | undefined): EventView | undefined {
  if (!json) return undefined;
  try {
    return fromStored(JSON.parse(json) as Stored);
  } catch {
    return undefined;
  }
}

export function revivePage(json: string): EventsPage | undefined {
  try {
    const raw = JSON.parse(json) as { events: Stored[]; nextPageToken: string };
    const events: EventView[] = [];
    for (const stored of raw.events) {
      const event = fromStored(stored);
      if (!event) return undefined;
      events.push(event);
    }
    return { events, nextPageToken: raw.nextPageToken };
  } catch {
    return undefined;
  }
}
