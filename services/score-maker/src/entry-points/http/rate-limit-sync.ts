import type { Redis } from 'ioredis';

/*
 * KEYS: the counters; ARGV: an (increment, windowMs) pair per key. Adds each replica's admissions since
 * its last sync and answers every key's total and remaining window (fixed windows: the first increment
 * of a window sets its expiry; a key left without one gets it again rather than living forever).
 */
const SYNC_SCRIPT = `
local out = {}
for i, key in ipairs(KEYS) do
  local total = redis.call('INCRBY', key, ARGV[2 * i - 1])
  local ttl = redis.call('PTTL', key)
  if ttl < 0 then
    redis.call('PEXPIRE', key, ARGV[2 * i])
    ttl = tonumber(ARGV[2 * i])
  end
  out[#out + 1] = total
  out[#out + 1] = ttl
end
return out`;

type WithScript = Redis & { scorelineRateSync(...args: (string | number)[]): Promise<number[]> };

interface Counter {
  /** The window's total in Redis at the last sync this replica saw (its own admissions included). */
  known: number;
  /** Admitted here and not yet counted in `known`: waiting for a sync, or in one now. */
  unsynced: number;
  /** Of `unsynced`, how many the sync under way carries. */
  sending: number;
  resetAt: number;
  windowMs: number;
  /** Requests that found the local allowance used up, waiting for the next sync to decide them. */
  waiting: (() => void)[];
}

export interface SyncedCountersOptions {
  redis: Redis;
  /** How often admissions are added to Redis (one script call for every key at once). */
  syncMs: number;
  /** Share of a limit one replica may admit between syncs (the tolerance below). */
  blockShare: number;
  /** Keys kept at most; the oldest windows are forgotten first. */
  maxKeys: number;
  onSyncError(error: unknown): void;
  onSyncOk(): void;
}

export type Decision = { current: number; ttl: number } | 'unavailable';

/**
 * Per-user fixed windows counted in Redis across replicas without a Redis round trip per request. Each
 * replica admits from its own view of the window's total and adds its admissions to Redis in batches,
 * one script call per `syncMs` for every key at once. Between two syncs a replica admits at most
 * `block = max(1, floor(limit × blockShare))` requests per key (further requests wait for the next
 * sync, which they trigger at once), so across R replicas a user gets at most
 * **limit + R × block** requests per window, and never fewer than the limit.
 */
export function createSyncedCounters(options: SyncedCountersOptions) {
  const redis = options.redis as WithScript;
  if (typeof redis.scorelineRateSync !== 'function') {
    redis.defineCommand('scorelineRateSync', { lua: SYNC_SCRIPT });
  }
  const counters = new Map<string, Counter>();
  let timer: NodeJS.Timeout | undefined;
  let syncing = false;
  let lastFailed = false;

  let closed = false;
  const schedule = (now: boolean) => {
    if (syncing || closed) return;
    if (now) {
      clearTimeout(timer);
      timer = undefined;
      void sync();
    } else timer ??= setTimeout(() => void sync(), options.syncMs).unref();
  };

  async function sync(): Promise<void> {
    timer = undefined;
    const batch: [string, Counter][] = [];
    for (const entry of counters) {
      if (entry[1].unsynced > 0 || entry[1].waiting.length > 0) batch.push(entry);
    }
    if (batch.length === 0) return;
    syncing = true;
    const args: (string | number)[] = [batch.length, ...batch.map(([key]) => key)];
    for (const [, c] of batch) {
      c.sending = c.unsynced;
      args.push(c.sending, c.windowMs);
    }
    let failed = false;
    try {
      const reply = await redis.scorelineRateSync(...args);
      const now = Date.now();
      batch.forEach(([, c], i) => {
        c.unsynced -= c.sending;
        c.known = reply[2 * i]!;
        c.resetAt = now + reply[2 * i + 1]!;
      });
      options.onSyncOk();
    } catch (error) {
      failed = true;
      options.onSyncError(error);
    }
    syncing = false;
    lastFailed = failed;
    for (const [, c] of batch) {
      c.sending = 0;
      // On failure the waiters are answered 'unavailable' (the caller falls back); else decided afresh.
      for (const wake of c.waiting.splice(0)) wake();
    }
    if (failed) return;
    let unsynced = false;
    for (const c of counters.values()) {
      // Requests that arrived for other keys while this sync was under way.
      if (c.waiting.length > 0) return schedule(true);
      unsynced ||= c.unsynced > 0;
    }
    if (unsynced) schedule(false);
  }

  function counter(key: string, windowMs: number): Counter {
    const now = Date.now();
    let c = counters.get(key);
    if (c && c.resetAt <= now && c.sending === 0) {
      counters.delete(key);
      c = undefined;
    }
    if (!c) {
      c = { known: 0, unsynced: 0, sending: 0, resetAt: now + windowMs, windowMs, waiting: [] };
      counters.set(key, c);
      for (const [oldest, o] of counters) {
        if (counters.size <= options.maxKeys) break;
        if (o.sending === 0 && o.waiting.length === 0) counters.delete(oldest);
      }
    }
    return c;
  }

  /**
   * Admits (current ≤ max) or refuses (current > max) without waiting, which is what nearly every
   * request gets; undefined when this replica's allowance is used up until the next sync (then take()).
   */
  function decideNow(
    key: string,
    windowMs: number,
    max: number,
  ): { current: number; ttl: number } | undefined {
    const c = counter(key, windowMs);
    const ttl = Math.max(0, c.resetAt - Date.now());
    if (c.known + c.unsynced >= max) return { current: max + 1, ttl };
    if (c.unsynced >= Math.max(1, Math.floor(max * options.blockShare))) return undefined;
    c.unsynced += 1;
    schedule(false);
    return { current: c.known + c.unsynced, ttl };
  }

  return {
    decideNow,

    /** Admits (current ≤ max), refuses (current > max), or says Redis could not be reached. */
    async take(key: string, windowMs: number, max: number): Promise<Decision> {
      for (;;) {
        const decided = decideNow(key, windowMs, max);
        if (decided) return decided;
        // This replica's allowance is used up until Redis has heard of it: wait for that sync.
        if (closed) return 'unavailable';
        await new Promise<void>((resolve) => {
          counter(key, windowMs).waiting.push(resolve);
          schedule(true);
        });
        if (lastFailed) return 'unavailable';
      }
    },
    close() {
      closed = true;
      clearTimeout(timer);
      // Nothing syncs any more: a request still waiting for a sync is decided locally instead.
      lastFailed = true;
      for (const c of counters.values()) for (const resolve of c.waiting.splice(0)) resolve();
    },
  };
}

export type SyncedCounters = ReturnType<typeof createSyncedCounters>;
