import { EVENT_CHANGED_TOPIC } from '@scoreline/contracts';
import {
  createCloser,
  createMetrics,
  createOutboxRelay,
  migrate,
  observeOutbox,
  observePool,
  observeQueues,
  periodic,
  probeReadiness,
  readOutboxBacklog,
  startOpsServer,
  type Broker,
  type Closer,
  type Consumer,
  type Database,
  type Logger,
  type Metrics,
  type OpsServer,
} from '@scoreline/platform';
import type { WorkerConfig } from './config.js';
import { type EventsCache } from './data-access/events-cache.js';
import { createIdempotencyRepository } from './data-access/idempotency-repository.js';
import { type LineProviderClient } from './data-access/line-provider-client.js';
import { scoreMakerMigrations } from './data-access/migrations.js';
import { createSagaRepository, type SagaRepository } from './data-access/saga-repository.js';
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
import {
  openEventsCache,
  openLineProviderClient,
  openScoreMakerDatabase,
  openWorkerBroker,
  type Opening,
} from './resources.js';
import { createEventChanges } from './use-cases/event-changes.js';
import { createSaga, type Saga } from './use-cases/saga.js';
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
 * consumer, the sweeper and the reconciliation. Any number of replicas can run at once. Each part
 * defers its stop on one closer as it is built; stop() runs them in reverse order.
 */
export async function buildScoreMakerWorker(
  config: WorkerConfig,
  deps: ScoreMakerWorkerDeps,
): Promise<ScoreMakerWorker> {
  const { logger } = deps;
  const closer = createCloser();
  const metrics = deps.metrics ?? createMetrics();
  const opening: Opening = { config, logger, closer };
  const db = await openScoreMakerDatabase(opening, 'score-maker-worker', deps.db);
  const broker = openWorkerBroker(
    opening,
    { lockDurationMs: config.BROKER_LOCK_DURATION, stalledIntervalMs: config.BROKER_STALLED_INTERVAL },
    deps.broker,
  );
  const cache = openEventsCache(opening, deps.cache);
  const lineProvider = openLineProviderClient(
    opening,
    { internalToken: config.LINE_PROVIDER_INTERNAL_TOKEN, metrics },
    deps.lineProvider,
  );
  const sagas = createSagaRepository();
  observeWorker(config, { db, broker, sagas, metrics }, closer);
  const handlers = createHandlers(config, { db, sagas, cache, lineProvider, broker, logger, metrics });
  const sweep = () => handlers.saga.redrive(config.SAGA_SWEEP_AFTER);
  const reconcile = () => handlers.saga.reconcile();
  const parts = { db, broker, lineProvider, sagas, handlers, sweep, reconcile, logger, metrics };
  const start = prepareStart(config, deps, parts, closer);
  return { db, broker, metrics, sweep, reconcile, start, stop: () => closer.close() };
}

/** What the worker opened and built, for the parts it starts. */
interface WorkerParts {
  db: Database;
  broker: Broker;
  lineProvider: LineProviderClient;
  sagas: SagaRepository;
  handlers: Handlers;
  sweep: () => Promise<number>;
  reconcile: () => Promise<number>;
  logger: Logger;
  metrics: Metrics;
}

/**
 * What start() starts: the queues' consumers, the outbox relay, the periodic jobs and the health
 * endpoint. Their stops are deferred now, so that stop() runs them before closing what they use.
 */
function prepareStart(
  config: WorkerConfig,
  deps: ScoreMakerWorkerDeps,
  parts: WorkerParts,
  closer: Closer,
): ScoreMakerWorker['start'] {
  const { db, broker, logger, metrics } = parts;
  const relay = createOutboxRelay({
    db,
    broker,
    logger: logger.child({ component: 'outbox-relay' }),
    batchSize: config.OUTBOX_BATCH_SIZE,
    pollIntervalMs: config.OUTBOX_POLL_INTERVAL,
    retentionMs: config.OUTBOX_RETENTION,
  });
  const jobs = periodicJobs(config, parts);
  const consumers: Consumer[] = [];
  let server: OpsServer | undefined;
  let closing = false;
  // In reverse on stop: stop taking work first; let handlers in flight finish; then the relay, the
  // timers and the health endpoint.
  closer.defer(() => server?.close());
  closer.defer(() => Promise.all(jobs.map((j) => j.stop())));
  closer.defer(() => relay.stop());
  closer.defer(() => Promise.all(consumers.splice(0).map((c) => c.close())));
  closer.defer(() => {
    closing = true;
  });
  const readiness = workerReadiness(config, parts, () => closing);

  return async () => {
    await migrate(db, scoreMakerMigrations, logger);
    consumers.push(...consumeQueues(config, broker, parts.handlers));
    await relay.start();
    for (const job of jobs) job.start();
    if (deps.http) {
      const { WORKER_HTTP_HOST: host, WORKER_HTTP_PORT: port } = config;
      server = await startOpsServer({ host, port, metrics, logger, readiness });
    }
    const port = server?.port;
    logger.info(
      { port, concurrency: config.WORKER_CONCURRENCY, batchSize: config.WORKER_BATCH_SIZE },
      'score-maker worker started',
    );
    return { port };
  };
}

/** Gauges read on scrape, not on the hot path; removed at stop (the quick start's registry outlives us). */
function observeWorker(
  config: WorkerConfig,
  parts: { db: Database; broker: Broker; sagas: SagaRepository; metrics: Metrics },
  closer: Closer,
): void {
  const { db, broker, sagas, metrics } = parts;
  closer.defer(observePool(metrics, 'score-maker-worker', () => db.poolStats?.()));
  closer.defer(observeOutbox(metrics, 'score-maker', () => readOutboxBacklog(db)));
  closer.defer(
    observeQueues(metrics, [APPLY_TOPIC, REVERT_TOPIC, EVENT_CHANGED_TOPIC], (topic) => broker.depth(topic)),
  );
  closer.defer(observeSagaCounts(metrics, () => sagas.counts(db, config.SAGA_STUCK_AFTER)));
}

interface Handlers {
  saga: Saga;
  eventChanges: ReturnType<typeof createEventChanges>;
  /** Observes each EventChanged batch's lag once handled. */
  eventChangedHandled: ReturnType<typeof eventChangedLag>;
}

/** What handles the queues' messages: the saga's steps and the EventChanged consumer. */
function createHandlers(
  config: WorkerConfig,
  parts: {
    db: Database;
    sagas: SagaRepository;
    cache: EventsCache;
    lineProvider: LineProviderClient;
    broker: Broker;
    logger: Logger;
    metrics: Metrics;
  },
): Handlers {
  const { db, sagas, cache, lineProvider, broker, logger, metrics } = parts;
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
  return { saga, eventChanges, eventChangedHandled };
}

/** The sweeper, the reconciler and the housekeeping of expired idempotency keys and inbox rows. */
function periodicJobs(
  config: WorkerConfig,
  parts: Pick<WorkerParts, 'db' | 'sagas' | 'sweep' | 'reconcile' | 'logger'>,
) {
  const { db, sagas, sweep, reconcile, logger } = parts;
  const idempotency = createIdempotencyRepository();
  return [
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
}

/** The consumers of ApplyScore, RevertScore and EventChanged. */
function consumeQueues(config: WorkerConfig, broker: Broker, handlers: Handlers): Consumer[] {
  const { saga, eventChanges, eventChangedHandled } = handlers;
  const backoff = { initialMs: config.SAGA_BACKOFF_INITIAL, maxMs: config.SAGA_BACKOFF_MAX, jitter: true };
  const batches = { concurrency: config.WORKER_CONCURRENCY, maxBatch: config.WORKER_BATCH_SIZE };
  const handleEventChanged = eventChangedDeliveries(eventChanges);
  return [
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
      { ...batches, maxAttempts: UNLIMITED, backoff },
    ),
  ];
}

/** /readyz: the dependencies' checks and the sagas in flight; not ready once stopping. */
function workerReadiness(
  config: WorkerConfig,
  parts: Pick<WorkerParts, 'db' | 'broker' | 'lineProvider' | 'sagas' | 'logger'>,
  closing: () => boolean,
) {
  const { db, broker, lineProvider, sagas, logger } = parts;
  return async () => {
    const probe = await probeReadiness(
      { database: () => db.ping(), broker: () => broker.ping(), 'line-provider': () => lineProvider.ping() },
      { logger },
    );
    const { checks } = probe;
    const sagaCounts = await sagas.counts(db, config.SAGA_STUCK_AFTER).catch(() => undefined);
    const ready = !closing() && probe.ready;
    return {
      ready,
      body: {
        status: ready ? 'ready' : closing() ? 'shutting down' : 'not ready',
        checks,
        sagas: sagaCounts,
      },
    };
  };
}
