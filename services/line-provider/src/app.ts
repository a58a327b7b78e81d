import { legacy, readDescriptorSet, v1 } from '@scoreline/contracts';
import {
  createMetrics,
  createOutboxRelay,
  migrate,
  observeOutbox,
  observePool,
  openBroker,
  openDatabase,
  readOutboxBacklog,
  probeReadiness,
  startOpsServer,
  type Broker,
  type Database,
  type Logger,
  type Metrics,
  type OpsServer,
} from '@scoreline/platform';
import type { LineProviderConfig } from './config.js';
import { createEventRepository } from './data-access/event-repository.js';
import { lineProviderMigrations } from './data-access/migrations.js';
import { createScoreLedgerRepository } from './data-access/score-ledger-repository.js';
import { createDeadlineCloser } from './entry-points/deadline-closer.js';
import { createEventService } from './entry-points/grpc/event-service.js';
import { createHealth } from './entry-points/grpc/health.js';
import { createLegacyService } from './entry-points/grpc/legacy-service.js';
import { metricsInterceptor } from './entry-points/grpc/metrics-interceptor.js';
import { addReflection } from './entry-points/grpc/reflection.js';
import { RequestCheckingServer } from './entry-points/grpc/request-decoding.js';
import { serverCredentials } from './entry-points/grpc/server-credentials.js';
import { outboxStatus } from './data-access/outbox-status.js';
import { createEventUseCases } from './use-cases/events.js';
import { createScoreUseCases } from './use-cases/scores.js';

export interface LineProvider {
  /** Opens the database (migrating it), binds the port, starts the relay and the deadline closer. */
  start(): Promise<{ port: number; httpPort: number | undefined }>;
  /** Stops taking calls, lets those in flight finish, then stops background work and closes. */
  stop(): Promise<void>;
  readonly db: Database;
  readonly broker: Broker;
  readonly metrics: Metrics;
}

export interface LineProviderDeps {
  logger: Logger;
  /** Shared instances (the one-process mode, tests); otherwise opened from the configuration. */
  db?: Database;
  broker?: Broker;
  /** The process's metrics (the quick start shares one between its services); default its own. */
  metrics?: Metrics;
  /** Serve /healthz, /readyz and /metrics on LINE_PROVIDER_HTTP_PORT (the standalone process does). */
  http?: boolean;
}

const SERVICE_NAMES = ['scoreline.line_provider.v1.EventService', 'EventService'];

/** line-provider's composition root. No module-level state: build as many as you like. */
export async function buildLineProvider(
  config: LineProviderConfig,
  deps: LineProviderDeps,
): Promise<LineProvider> {
  const { logger } = deps;
  const db =
    deps.db ??
    (await openDatabase({
      url: config.LINE_PROVIDER_DATABASE_URL,
      logger,
      maxConnections: config.LINE_PROVIDER_DATABASE_POOL_SIZE,
      applicationName: 'line-provider',
    }));
  const broker = deps.broker ?? openBroker({ url: config.REDIS_URL, prefix: config.REDIS_PREFIX, logger });

  const events = createEventUseCases({ db, events: createEventRepository() });
  const scores = createScoreUseCases({
    db,
    ledger: createScoreLedgerRepository(),
    grouping: {
      maxInFlight: config.LINE_PROVIDER_SINGLE_CALL_CONCURRENCY,
      maxBatch: config.LINE_PROVIDER_SINGLE_CALL_BATCH_SIZE,
    },
  });
  const tokens = { admin: config.LINE_PROVIDER_ADMIN_TOKEN, internal: config.LINE_PROVIDER_INTERNAL_TOKEN };

  // channelz (grpc-js's per-call counters and timestamps for its debugging service) is off: nothing
  // here serves or reads it, and it is work on every call. A request that does not decode answers
  // INVALID_ARGUMENT, not grpc-js's INTERNAL.
  const metrics = deps.metrics ?? createMetrics();
  const server = new RequestCheckingServer({
    'grpc.enable_channelz': 0,
    interceptors: [metricsInterceptor(metrics)],
  });
  server.addService(
    v1.EventServiceService,
    createEventService({ events, scores, tokens, logger, outboxStatus: () => outboxStatus(db) }),
  );
  server.addService(
    legacy.EventServiceService,
    createLegacyService({
      events,
      scores,
      tokens,
      requireToken: config.LINE_PROVIDER_LEGACY_REQUIRE_TOKEN,
      logger,
    }),
  );
  // What gRPC health and /readyz both ask.
  const readinessChecks = { database: () => db.ping() };
  const health = createHealth(readinessChecks);
  health.addTo(server, SERVICE_NAMES);
  addReflection(server, readDescriptorSet(), [...SERVICE_NAMES, 'grpc.health.v1.Health']);

  const relay = createOutboxRelay({
    db,
    broker,
    logger: logger.child({ component: 'outbox-relay' }),
    batchSize: config.OUTBOX_BATCH_SIZE,
    pollIntervalMs: config.OUTBOX_POLL_INTERVAL,
    retentionMs: config.OUTBOX_RETENTION,
  });
  const closer = createDeadlineCloser({
    events,
    logger: logger.child({ component: 'deadline-closer' }),
    intervalMs: config.DEADLINE_CHECK_INTERVAL,
  });

  const unobserve = [
    observePool(metrics, 'line-provider', () => db.poolStats?.()),
    observeOutbox(metrics, 'line-provider', () => readOutboxBacklog(db)),
  ];
  let ops: OpsServer | undefined;

  let started = false;
  return {
    db,
    broker,
    metrics,
    async start() {
      await migrate(db, lineProviderMigrations, logger);
      const port = await new Promise<number>((resolve, reject) => {
        server.bindAsync(
          `${config.LINE_PROVIDER_GRPC_HOST}:${config.LINE_PROVIDER_GRPC_PORT}`,
          serverCredentials(config.grpcTls),
          (error, boundPort) => (error ? reject(error) : resolve(boundPort)),
        );
      });
      await relay.start();
      closer.start();
      health.start();
      started = true;
      if (deps.http) {
        ops = await startOpsServer({
          host: config.LINE_PROVIDER_HTTP_HOST,
          port: config.LINE_PROVIDER_HTTP_PORT,
          metrics,
          logger,
          readiness: async () => {
            const { ready, checks } = await probeReadiness(readinessChecks, { logger });
            return { ready, body: { status: ready ? 'ready' : 'not ready', checks } };
          },
        });
      }
      const tls = !config.grpcTls ? 'off' : config.grpcTls.ca ? 'mutual' : 'on';
      logger.info({ port, httpPort: ops?.port, tls }, 'line-provider listening (gRPC)');
      return { port, httpPort: ops?.port };
    },
    async stop() {
      health.setNotServing();
      if (started) {
        await new Promise<void>((resolve) => {
          // In-flight calls finish; after the grace period the rest are cancelled.
          const force = setTimeout(
            () => server.forceShutdown(),
            Math.max(1000, config.SHUTDOWN_TIMEOUT - 5000),
          );
          server.tryShutdown(() => {
            clearTimeout(force);
            resolve();
          });
        });
      } else {
        server.forceShutdown();
      }
      health.stop();
      await ops?.close();
      for (const stop of unobserve) stop();
      await closer.stop();
      await relay.stop();
      if (!deps.broker) await broker.close();
      if (!deps.db) await db.close();
    },
  };
}
