import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import type { Redis } from 'ioredis';
import { AppError, type Logger } from '@scoreline/platform';
import { createSyncedCounters, type SyncedCounters } from './rate-limit-sync.js';

/** Every limit counts requests per minute (RATE_LIMIT_*_PER_MINUTE), in fixed windows. */
const WINDOW_MS = 60_000;

/** One limit: `max` requests a minute per user (per client address when signed out). */
export interface RateLimit {
  max: number;
  /** Counted apart from every other limit under this prefix (e.g. `scores:`). */
  scope: string;
  /** Admitted requests carry x-ratelimit-limit/-remaining/-reset too (refused ones always do). */
  headers: boolean;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** A route's own limit, in place of the one every other request counts against. */
    rateLimit?: RateLimit;
  }
}

type Decided = { current: number; ttl: number };

/** Per-replica fixed windows, bounded in size: what limits requests while Redis cannot be reached. */
class LocalWindows {
  private readonly windows = new Map<string, { count: number; resetAt: number }>();
  constructor(private readonly maxKeys: number) {}

  incr(key: string): Decided {
    const now = Date.now();
    let window = this.windows.get(key);
    if (!window || window.resetAt <= now) {
      this.windows.delete(key);
      window = { count: 0, resetAt: now + WINDOW_MS };
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

export interface RateLimiterOptions {
  /** Shared counters across API replicas; without it each replica counts on its own. */
  redis?: Redis;
  /** Key prefix in Redis, e.g. `scoreline:rate-limit:`. */
  namespace: string;
  logger: Logger;
  /** Keys the in-memory windows keep at most, and the synced counters. */
  localKeys?: number;
  /** How often admissions are added to Redis. Default 100 ms. */
  syncMs?: number;
  /** Share of a limit one replica may admit between syncs. Default 0.05 (see rate-limit-sync.ts). */
  blockShare?: number;
}

/**
 * Per-user rate limits as one Fastify hook. Counts go to Redis in batches, so limits hold across API
 * replicas within the tolerance createSyncedCounters states (limit + replicas × block), and a request
 * is decided in memory without waiting unless its replica's allowance is used up until the next sync.
 * While Redis is unreachable each replica counts in memory on its own: Redis is a cache and a queue
 * here, never the source of truth, so its loss must not turn score submissions into errors. A user may
 * then get up to (replicas × limit) per window; the switch is logged once each way. Past a limit:
 * 429 RATE_LIMITED with Retry-After (seconds until the window ends).
 */
export function createRateLimiter(options: RateLimiterOptions) {
  const { redis, logger } = options;
  const local = new LocalWindows(options.localKeys ?? 10_000);
  let degraded = false;
  const degrade = (error: unknown) => {
    if (degraded) return;
    degraded = true;
    logger.warn(
      { err: error },
      'Redis unreachable: rate limits now count per API replica, in memory, until it is back',
    );
  };
  const recover = () => {
    if (!degraded) return;
    degraded = false;
    logger.info('Redis reachable again: rate limits count in Redis across replicas');
  };
  const counters: SyncedCounters | undefined = redis
    ? createSyncedCounters({
        redis,
        syncMs: options.syncMs ?? 100,
        blockShare: options.blockShare ?? 0.05,
        maxKeys: options.localKeys ?? 100_000,
        onSyncError: degrade,
        onSyncOk: recover,
      })
    : undefined;

  function take(key: string, max: number, decided: (result: Decided) => void): void {
    if (!counters) return decided(local.incr(key));
    // Not connected: ioredis would fail the command at once anyway (no offline queue); count here.
    if (redis!.status !== 'ready') {
      degrade(new Error(`Redis connection is ${redis!.status}`));
      return decided(local.incr(key));
    }
    const now = counters.decideNow(options.namespace + key, WINDOW_MS, max);
    if (now) return decided(now);
    counters.take(options.namespace + key, WINDOW_MS, max).then(
      (result) => {
        if (result !== 'unavailable') return decided(result);
        degrade(new Error('rate-limit sync with Redis failed'));
        decided(local.incr(key));
      },
      (error: unknown) => {
        degrade(error);
        decided(local.incr(key));
      },
    );
  }

  return {
    /** A preHandler hook applying the limit `limitOf` picks for each request (none: not limited). */
    hook(limitOf: (request: FastifyRequest) => RateLimit | undefined) {
      return (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void => {
        const limit = limitOf(request);
        if (!limit) return done();
        take(limit.scope + (request.userId ?? request.ip), limit.max, ({ current, ttl }) => {
          const reset = Math.max(1, Math.ceil(ttl / 1000));
          if (current <= limit.max) {
            if (limit.headers) {
              void reply
                .header('x-ratelimit-limit', limit.max)
                .header('x-ratelimit-remaining', limit.max - current)
                .header('x-ratelimit-reset', reset);
            }
            return done();
          }
          void reply
            .header('x-ratelimit-limit', limit.max)
            .header('x-ratelimit-remaining', 0)
            .header('x-ratelimit-reset', reset)
            .header('retry-after', reset);
          done(
            new AppError(
              'RATE_LIMITED',
              `rate limit reached: ${limit.max} requests per minute; retry in ${reset} s`,
            ),
          );
        });
      };
    },

    /** Stops the sync timer, so nothing talks to Redis after the server has let it go. */
    close(): void {
      counters?.close();
    },
  };
}
