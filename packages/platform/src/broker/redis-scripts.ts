import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

/**
 * The Redis side of the streams broker (design in redis-broker.ts): the key layout and the Lua scripts
 * that change more than one key, so that each change is atomic and costs one round trip.
 */

/** The consumer group every consumer of a topic joins, in every replica: they share its entries. */
export const GROUP = 'consumers';

export interface TopicKeys {
  /** Entries ready to hand out, and those handed out but not yet finished (the group's pending list). */
  stream: string;
  /** Hash of the message ids queued, delayed or in flight: publish dedup. */
  ids: string;
  /** Sorted set of delayed messages (a publish delay, a retry's backoff), scored by due time in ms. */
  delayed: string;
}

export function topicKeys(prefix: string, topic: string): TopicKeys {
  // The braces make the three keys one hash slot, should this ever run on a cluster.
  const base = `${prefix}:{${topic}}`;
  return { stream: `${base}:stream`, ids: `${base}:ids`, delayed: `${base}:delayed` };
}

/*
 * A delayed message is one sorted-set member: 23 digits of order (Redis time in µs at scheduling, then
 * the position in the call, so that ties on the due time keep publish order), the attempt, '|', then
 * the message as JSON. Due times come from Redis's clock (TIME), so replicas' clocks never matter.
 */
const COMMON = `
local function now_us()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local function member(us, n, attempt, body)
  return string.format('%017d%06d', us, n) .. attempt .. '|' .. body
end
-- Variadic commands in slices, to stay within Lua's limit on unpack().
local function each(cmd, key, extra, list, step)
  for i = 1, #list, step do
    local slice = {}
    for j = i, math.min(i + step - 1, #list) do slice[#slice + 1] = list[j] end
    if extra then redis.call(cmd, key, extra, unpack(slice)) else redis.call(cmd, key, unpack(slice)) end
  end
end
`;

/**
 * KEYS stream, ids, delayed. ARGV delayMs, then id and JSON for each message, in publish order.
 * A message whose id is already queued, delayed or in flight is skipped. Returns how many were queued.
 */
const PUBLISH = `${COMMON}
local delay = tonumber(ARGV[1])
local us = delay > 0 and now_us() or 0
local queued = 0
for i = 2, #ARGV, 2 do
  if redis.call('HSETNX', KEYS[2], ARGV[i], '1') == 1 then
    queued = queued + 1
    if delay > 0 then
      redis.call('ZADD', KEYS[3], math.floor(us / 1000) + delay, member(us, i, '1', ARGV[i + 1]))
    else
      redis.call('XADD', KEYS[1], '*', 'a', '1', 'm', ARGV[i + 1])
    end
  end
end
return queued
`;

/**
 * KEYS stream, delayed. ARGV limit. Moves up to `limit` due messages to the stream (which wakes blocked
 * readers) and returns the milliseconds until the next one is due: 0 when more are due now, -1 when
 * none is left.
 */
const PROMOTE = `${COMMON}
local now = math.floor(now_us() / 1000)
local limit = tonumber(ARGV[1])
local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, limit)
for _, m in ipairs(due) do
  local bar = string.find(m, '|', 24, true)
  redis.call('XADD', KEYS[1], '*', 'a', string.sub(m, 24, bar - 1), 'm', string.sub(m, bar + 1))
end
if #due > 0 then redis.call('ZREMRANGEBYRANK', KEYS[2], 0, #due - 1) end
if #due == limit then return 0 end
local head = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
if head[2] == nil then return -1 end
return math.max(0, tonumber(head[2]) - now)
`;

/**
 * KEYS stream, ids, delayed. ARGV group, n, n entry ids done, m, m message ids done, then for each retry
 * its entry id, message id, delayMs, next attempt and JSON. Done entries leave the stream and their ids
 * the dedup hash; retried ones leave the stream for the delayed set, their ids kept (set again, should
 * Redis have lost them meanwhile).
 */
const FINISH = `${COMMON}
local s, g = KEYS[1], ARGV[1]
local i = 2
local entries, mids = {}, {}
local n = tonumber(ARGV[i])
for k = 1, n do entries[k] = ARGV[i + k] end
i = i + n + 1
local m = tonumber(ARGV[i])
for k = 1, m do mids[k] = ARGV[i + k] end
i = i + m + 1
if #mids > 0 then each('HDEL', KEYS[2], nil, mids, 1000) end
local scored, held = {}, {}
if i <= #ARGV then
  local us = now_us()
  local now = math.floor(us / 1000)
  local r = 0
  while i <= #ARGV do
    r = r + 1
    entries[#entries + 1] = ARGV[i]
    held[#held + 1] = ARGV[i + 1]
    held[#held + 1] = '1'
    scored[#scored + 1] = now + tonumber(ARGV[i + 2])
    scored[#scored + 1] = member(us, r, ARGV[i + 3], ARGV[i + 4])
    i = i + 5
  end
end
if #entries > 0 then
  each('XACK', s, g, entries, 1000)
  each('XDEL', s, nil, entries, 1000)
end
if #scored > 0 then
  each('ZADD', KEYS[3], nil, scored, 1000)
  each('HSET', KEYS[2], nil, held, 1000)
end
return #entries
`;

/**
 * KEYS stream. ARGV group, consumer, entry ids. Resets the idle time of those entries still pending for
 * this consumer (a slow batch), leaving alone any another consumer has taken over meanwhile.
 */
const REFRESH = `
local mine = {}
for i = 3, #ARGV do
  local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1, ARGV[2])
  if p[1] then mine[#mine + 1] = ARGV[i] end
end
for i = 1, #mine, 1000 do
  local args = { KEYS[1], ARGV[1], ARGV[2], 0 }
  for j = i, math.min(i + 999, #mine) do args[#args + 1] = mine[j] end
  args[#args + 1] = 'JUSTID'
  redis.call('XCLAIM', unpack(args))
end
return #mine
`;

/**
 * KEYS stream. ARGV group, idleMs. Forgets consumers idle that long with nothing pending (processes
 * long gone: each consumer has a name of its own). Atomic, so no entry is handed out in between.
 */
const PRUNE = `
local ok, consumers = pcall(redis.call, 'XINFO', 'CONSUMERS', KEYS[1], ARGV[1])
if not ok then return 0 end
local removed = 0
for _, c in ipairs(consumers) do
  local f = {}
  for j = 1, #c, 2 do f[c[j]] = c[j + 1] end
  if f['pending'] == 0 and f['idle'] > tonumber(ARGV[2]) then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], f['name'])
    removed = removed + 1
  end
end
return removed
`;

/** KEYS stream, delayed. ARGV group. Waiting plus delayed messages, not counting those in flight. */
const DEPTH = `
local waiting = redis.call('XLEN', KEYS[1])
local ok, pending = pcall(redis.call, 'XPENDING', KEYS[1], ARGV[1])
if ok then waiting = waiting - pending[1] end
return waiting + redis.call('ZCARD', KEYS[2])
`;

type Script = (redis: Redis, keys: string[], args: (string | number)[]) => Promise<unknown>;

/** EVALSHA, falling back to EVAL once when the server does not know the script (after a restart). */
function script(source: string): Script {
  const sha = createHash('sha1').update(source).digest('hex');
  return async (redis, keys, args) => {
    try {
      return await redis.evalsha(sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return redis.eval(source, keys.length, ...keys, ...args);
    }
  };
}

export const scripts = {
  publish: script(PUBLISH),
  promote: script(PROMOTE),
  finish: script(FINISH),
  refresh: script(REFRESH),
  prune: script(PRUNE),
  depth: script(DEPTH),
};
