import type { Redis } from 'ioredis';
import {
  createCloser,
  createMetrics,
  migrate,
  observePool,
  type Closer,
  type Database,
  type Logger,
  type Metrics,
} from '@scoreline/platform';
import type { ApiConfig } from './config.js';
import { type EventsCache } from './data-access/events-cache.js';
import { createLocalEventsCache } from './data-access/events-cache-local.js';
import { createIdempotencyRepository } from './data-access/idempotency-repository.js';
import { createLineProviderAdmin } from './data-access/line-provider-admin.js';
import { type LineProviderClient } from './data-access/line-provider-client.js';
import { createOperationsRepository } from './data-access/operations-repository.js';
import { scoreMakerMigrations } from './data-access/migrations.js';
import {
  createSagaRepository,
  SCORE_SETTLED_CHANNEL,
  type SagaRepository,
} from './data-access/saga-repository.js';
import { createScoreRepository } from './data-access/score-repository.js';
import { createAuthenticator } from './entry-points/http/auth.js';
import { buildHttpServer, type HttpServer, type HttpServerDeps } from './entry-points/http/server.js';
import { createLiveUpdates } from './entry-points/http/live-updates.js';
import { acceptedAnswer } from './entry-points/http/routes/events.js';
import { defaultWebRoot } from './entry-points/http/routes/web-app.js';
import { createSettlementWaits } from './entry-points/http/settlement-waits.js';
import {
  openEventsCache,
  openLineProviderClient,
  openRedis,
  openScoreMakerDatabase,
  type Opening,
} from './resources.js';
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

/**
 * The score-maker API's composition root. No module-level state: build as many as you like. Each part
 * defers its close on one closer as it is opened; stop() closes them in reverse order.
 */
export async function buildScoreMakerApi(config: ApiConfig, deps: ScoreMakerApiDeps): Promise<ScoreMakerApi> {
  const { logger } = deps;
  const closer = createCloser();
  const metrics = deps.metrics ?? createMetrics();
  const opening: Opening = { config, logger, closer };
  const db = await openScoreMakerDatabase(opening, 'score-maker-api', deps.db);
  await migrate(db, scoreMakerMigrations, logger);
  const redis = openRedis(opening);
  const cache = openEventsCache(opening, deps.cache);
  // The API only reads; ApplyScore/RevertScore are the worker's.
  const lineProvider = openLineProviderClient(opening, { internalToken: '', metrics }, deps.lineProvider);
  const parts = await openRequestParts(config, { db, cache, lineProvider, logger, metrics }, closer);
  let closing = false;
  const http = await buildHttpServer({
    ...parts,
    ...httpSettings(config, deps),
    logger,
    db,
    metrics,
    ops: opsSettings(config, { db, redis, lineProvider, sagas: parts.admin.sagas }, () => closing),
    rateLimit: rateLimitSettings(config, redis),
  });
  // Fastify stops accepting, answers 503 to new requests on kept-alive sockets, and waits for
  // requests in flight before resolving.
  closer.defer(() => http.close());
  // First on stop: readiness says shutting down; requests waiting on Prefer: wait answer now rather
  // than at the end of their wait; live streams end now and their clients reconnect (to another
  // replica) with Last-Event-ID.
  closer.defer(() => {
    closing = true;
    parts.waits.closeAll();
    parts.live.closeAll();
  });

  return {
    http,
    db,
    cache,
    metrics,
    start: () => listen(http, config, logger),
    // Idempotent (the closer runs once): a test harness may stop what a test already stopped.
    stop: () => closer.close(),
  };
}

/**
 * What requests use: events read through this process's memory, the submission of scores, the
 * settlement waits and live streams woken by one LISTEN connection, and the operations console.
 */
async function openRequestParts(
  config: ApiConfig,
  opened: {
    db: Database;
    cache: EventsCache;
    lineProvider: LineProviderClient;
    logger: Logger;
    metrics: Metrics;
  },
  closer: Closer,
) {
  const { db, lineProvider, logger } = opened;
  const scores = createScoreRepository();
  const admin = openAdmin(config, opened, closer);
  // In front of the shared cache: the hot paths read events from this process's memory.
  const local = createLocalEventsCache(opened.cache, { ttlMs: config.EVENTS_LOCAL_TTL });
  closer.defer(() => local.close());
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
  const unlisten = await db.listen(SCORE_SETTLED_CHANNEL, (payload) => {
    waits.notify(payload);
    void live.settled(payload);
  });
  closer.defer(unlisten);
  closer.defer(local.onInvalidate((change) => live.eventChanged(change)));
  closer.defer(observePool(opened.metrics, 'score-maker-api', () => db.poolStats?.()));
  return { events, submitScore, scores, waits, live, admin, freshnessMs: config.EVENTS_LOCAL_TTL };
}

/** The operations console's repositories, and line-provider's admin client when its token is set. */
function openAdmin(
  config: ApiConfig,
  opened: { db: Database; lineProvider: LineProviderClient },
  closer: Closer,
) {
  const admin = config.LINE_PROVIDER_ADMIN_TOKEN
    ? createLineProviderAdmin({
        address: config.LINE_PROVIDER_ADDRESS,
        adminToken: config.LINE_PROVIDER_ADMIN_TOKEN,
        callTimeoutMs: config.LINE_PROVIDER_CALL_TIMEOUT,
        tls: config.lineProviderTls,
      })
    : undefined;
  if (admin) closer.defer(() => admin.dispose());
  return {
    db: opened.db,
    sagas: createSagaRepository(),
    operations: createOperationsRepository(),
    admin,
    pingLineProvider: () => opened.lineProvider.ping(),
    stuckAfterMs: config.SAGA_STUCK_AFTER,
  };
}

/** Sign-in (tokens, and the quick start's "sign in as"), and the web app. */
function httpSettings(
  config: ApiConfig,
  deps: ScoreMakerApiDeps,
): Pick<HttpServerDeps, 'authenticate' | 'webRoot' | 'quickstartSignIn'> {
  return {
    authenticate: createAuthenticator({
      secret: config.JWT_SECRET,
      jwksUrl: config.JWT_JWKS_URL,
      issuer: config.JWT_ISSUER,
      audience: config.JWT_AUDIENCE,
      adminClaim: config.ADMIN_ROLE_CLAIM,
      adminRole: config.ADMIN_ROLE,
    }),
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
  };
}

/** /readyz (with the sagas in flight) and /metrics. */
function opsSettings(
  config: ApiConfig,
  opened: { db: Database; redis: Redis | undefined; lineProvider: LineProviderClient; sagas: SagaRepository },
  closing: () => boolean,
): HttpServerDeps['ops'] {
  const { db, redis, lineProvider, sagas } = opened;
  return {
    closing,
    // Sagas in flight and compensations that keep failing, from the database both processes share.
    details: async () => ({ sagas: await sagas.counts(db, config.SAGA_STUCK_AFTER) }),
    checks: {
      database: () => db.ping(),
      ...(redis ? { redis: async () => void (await redis.ping()) } : {}),
      'line-provider': () => lineProvider.ping(),
    },
  };
}

function rateLimitSettings(config: ApiConfig, redis: Redis | undefined): HttpServerDeps['rateLimit'] {
  return {
    redis,
    prefix: config.REDIS_PREFIX,
    scoresPerMinute: config.RATE_LIMIT_SCORES_PER_MINUTE,
    readsPerMinute: config.RATE_LIMIT_READS_PER_MINUTE,
  };
}

async function listen(http: HttpServer, config: ApiConfig, logger: Logger): Promise<{ port: number }> {
  await http.listen({ host: config.SCORE_MAKER_HTTP_HOST, port: config.SCORE_MAKER_HTTP_PORT });
  const address = http.server.address();
  const port = typeof address === 'object' && address ? address.port : config.SCORE_MAKER_HTTP_PORT;
  logger.info({ port }, 'score-maker API listening (HTTP)');
  return { port };
}
