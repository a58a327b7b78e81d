import { Redis } from 'ioredis';
import {
  openBroker,
  openDatabase,
  type Broker,
  type Closer,
  type Database,
  type Logger,
  type Metrics,
} from '@scoreline/platform';
import type { ApiConfig, WorkerConfig } from './config.js';
import type { EventsCache } from './data-access/events-cache.js';
import { createMemoryEventsCache } from './data-access/events-cache-memory.js';
import { createRedisEventsCache } from './data-access/events-cache-redis.js';
import { createLineProviderClient, type LineProviderClient } from './data-access/line-provider-client.js';

/**
 * What the API and the worker both open, from the settings both configurations share; each opener
 * defers the close of what it opened on `closer`. A shared instance given instead (the one-process
 * mode, tests) is returned as it is: its giver closes it.
 */
export interface Opening {
  config: Pick<
    ApiConfig & WorkerConfig,
    | 'SCORE_MAKER_DATABASE_URL'
    | 'SCORE_MAKER_DATABASE_POOL_SIZE'
    | 'REDIS_URL'
    | 'REDIS_PREFIX'
    | 'EVENTS_CACHE_TTL'
    | 'LINE_PROVIDER_ADDRESS'
    | 'LINE_PROVIDER_CALL_TIMEOUT'
    | 'lineProviderTls'
  >;
  logger: Logger;
  closer: Closer;
}

function owned<T>(closer: Closer, shared: T | undefined, open: () => T, close: (opened: T) => unknown): T {
  if (shared) return shared;
  const opened = open();
  closer.defer(() => close(opened));
  return opened;
}

const inMemory = (config: Opening['config']) => config.REDIS_URL.startsWith('memory:');

export async function openScoreMakerDatabase(
  { config, logger, closer }: Opening,
  applicationName: string,
  shared?: Database,
): Promise<Database> {
  if (shared) return shared;
  const db = await openDatabase({
    url: config.SCORE_MAKER_DATABASE_URL,
    logger,
    maxConnections: config.SCORE_MAKER_DATABASE_POOL_SIZE,
    applicationName,
    planEveryCall: true,
  });
  closer.defer(() => db.close());
  return db;
}

/** A plain Redis client (the API's rate limits and readiness); none on memory://. */
export function openRedis({ config, logger, closer }: Opening): Redis | undefined {
  if (inMemory(config)) return undefined;
  const redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: 1, enableOfflineQueue: false });
  redis.on('error', (error) =>
    logger.warn({ err: error }, 'Redis connection error (rate limits, readiness)'),
  );
  closer.defer(() =>
    redis.quit().then(
      () => undefined,
      () => redis.disconnect(),
    ),
  );
  return redis;
}

/** The worker's queues (Redis, or in memory on memory://). */
export function openWorkerBroker(
  { config, logger, closer }: Opening,
  settings: { lockDurationMs: number; stalledIntervalMs: number },
  shared?: Broker,
): Broker {
  return owned(
    closer,
    shared,
    () => openBroker({ url: config.REDIS_URL, prefix: config.REDIS_PREFIX, logger, ...settings }),
    (broker) => broker.close(),
  );
}

/** The events cache shared by every process: in Redis, or in memory on memory://. */
export function openEventsCache({ config, logger, closer }: Opening, shared?: EventsCache): EventsCache {
  const { REDIS_URL: url, REDIS_PREFIX: prefix, EVENTS_CACHE_TTL: ttlMs } = config;
  return owned(
    closer,
    shared,
    () =>
      inMemory(config)
        ? createMemoryEventsCache({ logger, ttlMs })
        : createRedisEventsCache({ url, prefix, logger, ttlMs }),
    (cache) => cache.close(),
  );
}

/** `internalToken`: the worker's, for ApplyScore/RevertScore; empty for a client that only reads. */
export function openLineProviderClient(
  { config, logger, closer }: Opening,
  client: { internalToken: string; metrics: Metrics },
  shared?: LineProviderClient,
): LineProviderClient {
  return owned(
    closer,
    shared,
    () =>
      createLineProviderClient({
        address: config.LINE_PROVIDER_ADDRESS,
        internalToken: client.internalToken,
        logger,
        callTimeoutMs: config.LINE_PROVIDER_CALL_TIMEOUT,
        tls: config.lineProviderTls,
        metrics: client.metrics,
      }),
    (lineProvider) => lineProvider.close(),
  );
}
