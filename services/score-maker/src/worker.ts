import { EVENT_CHANGED_TOPIC } from '@scoreline/contracts';
import {
  createMetrics,
  createOutboxRelay,
  migrate,
  observeOutbox,
  observePool,
  observeQueues,
  openBroker,
  openDatabase,
  periodic,
  probeReadiness,
  readOutboxBacklog,
  startOpsServer,
  type Broker,
  type Consumer,
  type Database,
  type Logger,
  type Metrics,
  type OpsServer,
} from '@scoreline/platform';
import type { WorkerConfig } from './config.js';
import { type EventsCache } from './data-access/events-cache.js';
import { createMemoryEventsCache } from './data-access/events-cache-memory.js';
import { createRedisEventsCache } from './data-access/events-cache-redis.js';
import { createIdempotencyRepository } from './data-access/idempotency-repository.js';
import { createLineProviderClient, type LineProviderClient } from './data-access/line-provider-client.js';
import { scoreMakerMigrations } from './data-access/migrations.js';
import { createSagaRepository } from './data-access/saga-repository.js';
import {
  APPLY_TOPIC,
  REVERT_TOPIC,
  type ApplyScoreCommand,
  type RevertScoreCommand,
} from './domain/score.js';
import {
  applyDeliveries,
  applyExhausted,
  eventChangedDeliveries,
  revertDeliveries,
} from './entry-points/worker/deliveries.js';
import { eventChangedLag, observeSagaCounts } from './entry-points/worker/worker-metrics.js';
import { createEventChanges } from './use-cases/event-changes.js';
import { createSaga } from './use-cases/saga.js';
import { createSagaMetrics } from './use-cases/saga-metrics.js';

const UNLIMITED = 2 ** 31 - 1;

export interface ScoreMakerWorker {
  readonly db: Database;
  readonly broker: Broker;
  readonly metrics: Metrics;
  start(): Promise<{ port: number | undefined }>;
  stop(): Promise<void>;
  /** One sweep now (tests, operations); returns the sagas re-driven. */
  sweep(): Promise<number>;
  reconcile(): Promise<number>;
}

export interface ScoreMakerWorkerDeps {
  logger: Logger;
  db?: Database;
  broker?: Broker;
  cache?: EventsCache;
  lineProvider?: LineProviderClient;
  /** The process's metrics (the quick start shares one between its services); default its own. */
  metrics?: Metrics;
  /** Serve /healthz, /readyz and /metrics on WORKER_HTTP_PORT (the standalone process does). */
  http?: boolean;
}

/**
 * The worker's composition root: the outbox relay feeding the queues, the saga steps, the EventChanged
 * consumer, the sweeper and the reconciliation. Any number of replicas can run at once.
 */
export async function buildScoreMakerWorker(
  config: WorkerConfig,
  deps: ScoreMakerWorkerDeps,
): Promise<ScoreMakerWorker> {
  const { logger } = deps;
  const owned: (() => Promise<void> | void)[] = [];
  const metrics = deps.metrics ?? createMetrics();
  const db =
    deps.db ??
    (await openDatabase({
      url: config.SCORE_MAKER_DATABASE_URL,
      logger,
      maxConnections: config.SCORE_MAKER_DATABASE_POOL_SIZE,
      applicationName: 'score-maker-worker',
    }));
  if (!deps.db) owned.push(() => db.close());
  const broker =
    deps.broker ??
    openBroker({
      url: config.REDIS_URL,
      prefix: config.REDIS_PREFIX,
      logger,
      lockDurationMs: config.BROKER_LOCK_DURATION,
      stalledIntervalMs: config.BROKER_STALLED_INTERVAL,
    });
  if (!deps.broker) owned.push(() => broker.close());
  const cache =
    deps.cache ??
    (config.REDIS_URL.startsWith('memory:')
      ? createMemoryEventsCache({ logger, ttlMs: config.EVENTS_CACHE_TTL })
      : createRedisEventsCache({
          url: config.REDIS_URL,
          prefix: config.REDIS_PREFIX,
          logger,
          ttlMs: config.EVENTS_CACHE_TTL,
        }));
  if (!deps.cache) owned.push(() => cache.close());
  const lineProvider =
    deps.lineProvider ??
    createLineProviderClient({
      address: config.LINE_PROVIDER_ADDRESS,
      internalToken: config.LINE_PROVIDER_INTERNAL_TOKEN,
      logger,
      callTimeoutMs: config.LINE_PROVIDER_CALL_TIMEOUT,
      tls: config.lineProviderTls,
      metrics,
    });
  if (!deps.lineProvider) owned.push(() => lineProvider.close());

  const sagas = createSagaRepository();
  // Read on scrape, not on the hot path; removed at stop (the quick start's registry outlives us).
  owned.push(
    observePool(metrics, 'score-maker-worker', () => db.poolStats?.()),
    observeOutbox(metrics, 'score-maker', () => readOutboxBacklog(db)),
    observeQueues(metrics, [APPLY_TOPIC, REVERT_TOPIC, EVENT_CHANGED_TOPIC], (topic) => broker.depth(topic)),
    observeSagaCounts(metrics, () => sagas.counts(db, config.SAGA_STUCK_AFTER)),
  );
  const eventChangedHandled = eventChangedLag(metrics);
  const saga = createSaga({
    db,
    sagas,
    lineProvider,
    broker,
    logger: logger.child({ component: 'saga' }),
    settings: { maxAttempts: config.SAGA_MAX_ATTEMPTS, timeoutMs: config.SAGA_TIMEOUT },
    observer: createSagaMetrics(metrics),
  });
  const eventChanges = createEventChanges({
    db,
    sagas,
    cache,
    logger: logger.child({ component: 'event-changed' }),
  });
  const relay = createOutboxRelay({
    db,
    broker,
    logger: logger.child({ component: 'outbox-relay' }),
    batchSize: config.OUTBOX_BATCH_SIZE,
    pollIntervalMs: config.OUTBOX_POLL_INTERVAL,
    retentionMs: config.OUTBOX_RETENTION,
  });
  const sweep = () => saga.redrive(config.SAGA_SWEEP_AFTER);
  const reconcile = () => saga.reconcile();
  const idempotency = createIdempotencyRepository();
  const jobs = [
    periodic('sweeper', config.SAGA_SWEEP_INTERVAL, async () => void (await sweep()), logger),
    periodic('reconciler', config.RECONCILE_INTERVAL, async () => void (await reconcile()), logger),
    periodic(
      'housekeeping',
      10 * 60_000,
      async () => {
        await idempotency.purgeExpired(db);
        await sagas.purgeInbox(db, 7 * 24 * 3600_000);
      },
      logger,
    ),
  ];
  const backoff = { initialMs: config.SAGA_BACKOFF_INITIAL, maxMs: config.SAGA_BACKOFF_MAX, jitter: true };
  const consumers: Consumer[] = [];
  let server: OpsServer | undefined;
  let closing = false;

  const readiness = async () => {
    const probe = await probeReadiness(
      { database: () => db.ping(), broker: () => broker.ping(), 'line-provider': () => lineProvider.ping() },
      { logger },
    );
    const { checks } = probe;
    const sagaCounts = await sagas.counts(db, config.SAGA_STUCK_AFTER).catch(() => undefined);
    const ready = !closing && probe.ready;
    return {
      ready,
      body: { status: ready ? 'ready' : closing ? 'shutting down' : 'not ready', checks, sagas: sagaCounts },
    };
  };

  return {
    db,
    broker,
    metrics,
    sweep,
    reconcile,
    async start() {
      await migrate(db, scoreMakerMigrations, logger);
      const handleEventChanged = eventChangedDeliveries(eventChanges);
      const batches = { concurrency: config.WORKER_CONCURRENCY, maxBatch: config.WORKER_BATCH_SIZE };
      consumers.push(
        broker.consumeBatch<ApplyScoreCommand>(APPLY_TOPIC, applyDeliveries(saga), {
          ...batches,
          // apply() compensates at SAGA_MAX_ATTEMPTS; the broker's limit is only a safety net behind it.
          maxAttempts: config.SAGA_MAX_ATTEMPTS + 1,
          backoff,
          onExhausted: applyExhausted(saga),
        }),
        broker.consumeBatch<RevertScoreCommand>(REVERT_TOPIC, revertDeliveries(saga), {
          ...batches,
          maxAttempts: UNLIMITED,
          backoff: { ...backoff, maxMs: config.SAGA_REVERT_BACKOFF_MAX },
        }),
        broker.consumeBatch(
          EVENT_CHANGED_TOPIC,
          async (deliveries) => {
            await handleEventChanged(deliveries);
            eventChangedHandled(deliveries);
          },
          {
            ...batches,
            maxAttempts: UNLIMITED,
            backoff,
          },
        ),
      );
      await relay.start();
      for (const job of jobs) job.start();
      if (deps.http) {
        server = await startOpsServer({
          host: config.WORKER_HTTP_HOST,
          port: config.WORKER_HTTP_PORT,
          metrics,
          logger,
          readiness,
        });
      }
      const port = server?.port;
      logger.info(
        { port, concurrency: config.WORKER_CONCURRENCY, batchSize: config.WORKER_BATCH_SIZE },
        'score-maker worker started',
      );
      return { port };
    },
    async stop() {
      closing = true;
      // Stop taking work first; let handlers in flight finish; then the relay and the timers.
      await Promise.all(consumers.splice(0).map((c) => c.close()));
      await relay.stop();
      await Promise.all(jobs.map((j) => j.stop()));
      await server?.close();
      for (const close of owned.reverse()) await close();
    },
  };
}
