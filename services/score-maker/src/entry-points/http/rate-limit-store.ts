import type { FastifyRateLimitStore, FastifyRateLimitStoreCtor } from '@fastify/rate-limit';
import type { Redis } from 'ioredis';
import type { Logger } from '@scoreline/platform';
import { createSyncedCounters } from './rate-limit-sync.js';

type IncrCallback = (error: Error | null, result?: { current: number; ttl: number }) => void;

/** Per-replica fixed windows, bounded in size: what limits requests while Redis cannot be reached. */
class LocalWindows {
  private readonly windows = new Map<string, { count: number; resetAt: number }>();
  constructor(private readonly maxKeys: number) {}

  incr(key: string, windowMs: number): { current: number; ttl: number } {
    const now = Date.now();
    let window = this.windows.get(key);
    if (!window || window.resetAt <= now) {
      this.windows.delete(key);
      window = { count: 0, resetAt: now + windowMs };
      this.windows.set(key, window);
      // Oldest first in a Map's order: dropping them forgets the windows nearest their end anyway.
      for (const oldest of this.windows.keys()) {
        if (this.windows.size <= this.maxKeys) break;
        this.windows.delete(oldest);
      }
    }
    window.count++;
    return { current: window.count, ttl: window.resetAt - now };
  }
}

export interface RateLimitStoreOptions {
  redis: Redis;
  /** Key prefix in Redis, e.g. `scoreline:rate-limit:`. */
  namespace: string;
  logger: Logger;
  /** Keys the in-memory fallback keeps at most (per route), and the synced counters in all. */
  localKeys?: number;
  /** How often admissions are added to Redis. Default 100 ms. */
  syncMs?: number;
  /** Share of a limit one replica may admit between syncs. Default 0.05 (see rate-limit-sync.ts). */
  blockShare?: number;
}

/**
 * A rate-limit store that counts in Redis, so limits hold across API replicas (in batches, within the
 * tolerance createSyncedCounters states: limit + replicas × block), and falls back to per-replica
 * in-memory windows while Redis is unreachable: Redis is a cache and a queue here, never the
 * source of truth, so its loss must not turn score submissions into errors. While degraded, a user may
 * get up to (replicas × limit) per window; the switch is logged once each way.
 */
export function fallbackRateLimitStore(
  options: RateLimitStoreOptions,
): FastifyRateLimitStoreCtor & { close(): void } {
  const { redis } = options;
  let degraded = false;
  const degrade = (error: unknown) => {
    if (degraded) return;
    degraded = true;
    options.logger.warn(
      { err: error },
      'Redis unreachable: rate limits now count per API replica, in memory, until it is back',
    );
  };
  const recover = () => {
    if (!degraded) return;
    degraded = false;
    options.logger.info('Redis reachable again: rate limits count in Redis across replicas');
  };
  const counters = createSyncedCounters({
    redis,
    syncMs: options.syncMs ?? 100,
    blockShare: options.blockShare ?? 0.05,
    maxKeys: options.localKeys ?? 100_000,
    onSyncError: degrade,
    onSyncOk: recover,
  });

  class Store implements FastifyRateLimitStore {
    private readonly local = new LocalWindows(options.localKeys ?? 10_000);
    constructor(private readonly key: string = options.namespace) {}

    incr(key: string, callback: IncrCallback, timeWindow: number, max: number): void {
      const fallback = (error: unknown) => {
        degrade(error);
        callback(null, this.local.incr(key, timeWindow));
      };
      // Not connected: ioredis would fail the command at once anyway (no offline queue); skip the call.
      if (redis.status !== 'ready') return fallback(new Error(`Redis connection is ${redis.status}`));
      counters.take(this.key + key, timeWindow, max).then((decision) => {
        if (decision === 'unavailable') fallback(new Error('rate-limit sync with Redis failed'));
        else callback(null, decision);
      }, fallback);
    }

    child(routeOptions: Parameters<FastifyRateLimitStore['child']>[0]): FastifyRateLimitStore {
      // The plugin passes its merged settings with the route under `routeInfo` (its types say otherwise).
      const route = (routeOptions as { routeInfo?: { method?: string; url?: string } }).routeInfo;
      return new Store(`${options.namespace}${route?.method ?? ''}${route?.url ?? ''}-`);
    }
  }
  // close() stops the sync timer, so nothing talks to Redis after the server has let it go.
  return Object.assign(Store as unknown as FastifyRateLimitStoreCtor, { close: () => counters.close() });
}
