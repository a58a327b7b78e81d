import { Redis } from 'ioredis';
import {
  createMetrics,
  migrate,
  observePool,
  openDatabase,
  type Database,
  type Logger,
  type Metrics,
} from '@scoreline/platform';
import type { ApiConfig } from './config.js';
import { type EventsCache } from './data-access/events-cache.js';
import { createMemoryEventsCache } from './data-access/events-cache-memory.js';
import { createRedisEventsCache } from './data-access/events-cache-redis.js';
import { createLocalEventsCache } from './data-access/events-cache-local.js';
import { createIdempotencyRepository } from './data-access/idempotency-repository.js';
import { createLineProviderAdmin } from './data-access/line-provider-admin.js';
import { createLineProviderClient, type LineProviderClient } from './data-access/line-provider-client.js';
import { createOperationsRepository } from './data-access/operations-repository.js';
import { scoreMakerMigrations } from './data-access/migrations.js';
import { createSagaRepository, SCORE_SETTLED_CHANNEL } from './data-access/saga-repository.js';
import { createScoreRepository } from './data-access/score-repository.js';
import { createAuthenticator } from './entry-points/http/auth.js';
import { buildHttpServer, type HttpServer } from './entry-points/http/server.js';
import { createLiveUpdates } from './entry-points/http/live-updates.js';
import { acceptedAnswer } from './entry-points/http/routes/events.js';
import { defaultWebRoot } from './entry-points/http/routes/web-app.js';
import { createSettlementWaits } from './entry-points/http/settlement-waits.js';
import { createEventReads } from './use-cases/event-reads.js';
import { createSubmitScore } from './use-cases/submit-score.js';

export interface ScoreMakerApi {
  readonly http: HttpServer;
  readonly db: Database;
  readonly cache: EventsCache;
  readonly metrics: Metrics;
  start(): Promise<{ port: number }>;
  stop(): Promise<void>;
}

export interface ScoreMakerApiDeps {
  logger: Logger;
  /** Shared instances (the one-process mode, tests); otherwise opened from the configuration. */
  db?: Database;
  cache?: EventsCache;
  lineProvider?: LineProviderClient;
  /** The process's metrics (the quick start shares one between its services); default its own. */
  metrics?: Metrics;
  /**
   * "Sign in as <name>": the quick start sets it, and only when the API runs on the secret it
   * generated; no setting turns it on, so a deployed API never offers it.
   */
  quickstartSignIn?: boolean;
  /** The built web app to serve at `/`; default web/dist in this repository. */
  webRoot?: string;
}

/** The score-maker API's composition root. No module-level state: build as many as you like. */
export async function buildScoreMakerApi(config: ApiConfig, deps: ScoreMakerApiDeps): Promise<ScoreMakerApi> {
  const { logger } = deps;
  const owned: (() => Promise<void> | void)[] = [];
  const metrics = deps.metrics ?? createMetrics();
  const db =
    deps.db ??
    (await openDatabase({
      url: config.SCORE_MAKER_DATABASE_URL,
      logger,
      maxConnections: config.SCORE_MAKER_DATABASE_POOL_SIZE,
      applicationName: 'score-maker-api',
    }));
  if (!deps.db) owned.push(() => db.close());
  await migrate(db, scoreMakerMigrations, logger);

  const useRedis = !config.REDIS_URL.startsWith('memory:');
  const redis = useRedis
    ? new Redis(config.REDIS_URL, { maxRetriesPerRequest: 1, enableOfflineQueue: false })
    : undefined;
  if (redis) {
    redis.on('error', (error) =>
      logger.warn({ err: error }, 'Redis connection error (rate limits, readiness)'),
    );
    owned.push(() =>
      redis.quit().then(
        () => undefined,
        () => redis.disconnect(),
      ),
    );
  }
  const cache =
    deps.cache ??
    (useRedis
      ? createRedisEventsCache({
          url: config.REDIS_URL,
          prefix: config.REDIS_PREFIX,
          logger,
          ttlMs: config.EVENTS_CACHE_TTL,
        })
      : createMemoryEventsCache({ logger, ttlMs: config.EVENTS_CACHE_TTL }));
  if (!deps.cache) owned.push(() => cache.close());
  const lineProvider =
    deps.lineProvider ??
    createLineProviderClient({
      address: config.LINE_PROVIDER_ADDRESS,
      internalToken: '', // the API only reads; ApplyScore/RevertScore are the worker's
      logger,
      callTimeoutMs: config.LINE_PROVIDER_CALL_TIMEOUT,
      tls: config.lineProviderTls,
      metrics,
    });
  if (!deps.lineProvider) owned.push(() => lineProvider.close());

  const scores = createScoreRepository();
  const lineProviderAdmin = config.LINE_PROVIDER_ADMIN_TOKEN
    ? createLineProviderAdmin({
        address: config.LINE_PROVIDER_ADDRESS,
        adminToken: config.LINE_PROVIDER_ADMIN_TOKEN,
        callTimeoutMs: config.LINE_PROVIDER_CALL_TIMEOUT,
        tls: config.lineProviderTls,
      })
    : undefined;
  if (lineProviderAdmin) owned.push(() => lineProviderAdmin.dispose());
  const sagas = createSagaRepository();
  // In front of the shared cache: the hot paths read events from this process's memory.
  const local = createLocalEventsCache(cache, { ttlMs: config.EVENTS_LOCAL_TTL });
  owned.push(() => local.close());
  const events = createEventReads({ cache: local, lineProvider });
  const submitScore = createSubmitScore({
    db,
    scores,
    idempotency: createIdempotencyRepository(),
    loadEvent: events.load,
    logger,
    answerOf: acceptedAnswer,
    submitter: { maxInFlight: config.SUBMIT_CONCURRENCY, maxBatch: config.SUBMIT_BATCH_SIZE },
  });
  // One LISTEN connection for the whole process wakes every request waiting for a settlement, and
  // feeds the live update streams; so do the events cache's invalidations (EventChanged).
  const waits = createSettlementWaits();
  const live = createLiveUpdates({
    db,
    scores,
    loadEvent: events.load,
    logger,
    maxConnections: config.STREAM_MAX_CONNECTIONS,
    heartbeatMs: config.STREAM_HEARTBEAT,
  });
  owned.push(
    await db.listen(SCORE_SETTLED_CHANNEL, (payload) => {
      waits.notify(payload);
      void live.settled(payload);
    }),
  );
  const unsubscribe = local.onInvalidate((change) => live.eventChanged(change));
  owned.push(unsubscribe);
  owned.push(observePool(metrics, 'score-maker-api', () => db.poolStats?.()));
  let closing = false;
  let stopped: Promise<void> | undefined;

  const http = await buildHttpServer({
    logger,
    authenticate: createAuthenticator({
      secret: config.JWT_SECRET,
      jwksUrl: config.JWT_JWKS_URL,
      issuer: config.JWT_ISSUER,
      audience: config.JWT_AUDIENCE,
      adminClaim: config.ADMIN_ROLE_CLAIM,
      adminRole: config.ADMIN_ROLE,
    }),
    events,
    freshnessMs: config.EVENTS_LOCAL_TTL,
    submitScore,
    db,
    scores,
    waits,
    live,
    admin: {
      db,
      sagas,
      operations: createOperationsRepository(),
      admin: lineProviderAdmin,
      pingLineProvider: () => lineProvider.ping(),
      stuckAfterMs: config.SAGA_STUCK_AFTER,
    },
    webRoot: deps.webRoot ?? defaultWebRoot,
    ...(deps.quickstartSignIn && config.JWT_SECRET
      ? {
          quickstartSignIn: {
            secret: config.JWT_SECRET,
            adminClaim: config.ADMIN_ROLE_CLAIM,
            adminRole: config.ADMIN_ROLE,
          },
        }
      : {}),
    metrics,
    ops: {
      closing: () => closing,
      // Sagas in flight and compensations that keep failing, from the database both processes share.
      details: async () => ({ sagas: await sagas.counts(db, config.SAGA_STUCK_AFTER) }),
      checks: {
        database: () => db.ping(),
        ...(redis ? { redis: async () => void (await redis.ping()) } : {}),
        'line-provider': () => lineProvider.ping(),
      },
    },
    rateLimit: {
      redis,
      prefix: config.REDIS_PREFIX,
      scoresPerMinute: config.RATE_LIMIT_SCORES_PER_MINUTE,
      readsPerMinute: config.RATE_LIMIT_READS_PER_MINUTE,
    },
  });

  return {
    http,
    db,
    cache,
    metrics,
    async start() {
      await http.listen({ host: config.SCORE_MAKER_HTTP_HOST, port: config.SCORE_MAKER_HTTP_PORT });
      const address = http.server.address();
      const port = typeof address === 'object' && address ? address.port : config.SCORE_MAKER_HTTP_PORT;
      logger.info({ port }, 'score-maker API listening (HTTP)');
      return { port };
    },
    stop() {
      // Idempotent: a test harness may stop what a test already stopped.
      stopped ??= (async () => {
        closing = true;
        // Requests waiting on Prefer: wait answer now rather than at the end of their wait.
        waits.closeAll();
        // Live streams end now; clients reconnect (to another replica) with Last-Event-ID.
        live.closeAll();
        // Fastify stops accepting, answers 503 to new requests on kept-alive sockets, and waits for
        // requests in flight before resolving.
        await http.close();
        for (const close of owned.reverse()) await close();
      })();
      return stopped;
    },
  };
}
