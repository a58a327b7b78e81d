export * from './errors.js';
export { loadConfig, ConfigError, type Env, type LoadConfigOptions } from './config/load-config.js';
export { env, envInfo, envInfoOf, readsFromFile, parseDuration, type EnvInfo } from './config/env.js';
export {
  readTlsFiles,
  lineProviderClientTls,
  type TlsMaterial,
  type FileSetting,
  type ClientTls,
  type LineProviderClientTlsSettings,
} from './config/tls-files.js';
export { createLogger, silentLogger, type Logger, type LoggerSettings } from './logger.js';
export * from './db/database.js';
export { createPostgresDatabase, type PostgresOptions } from './db/postgres.js';
export { createPgliteDatabase, openPglite, type PgliteInstance, type PgliteOptions } from './db/pglite.js';
export { openDatabase, type DatabaseSettings } from './db/open-database.js';
export { migrate, loadMigrations, migrationsChecksum, type Migration } from './db/migrate.js';
export * from './broker/broker.js';
export { createMemoryBroker } from './broker/memory-broker.js';
export { createRedisBroker, type RedisBrokerOptions } from './broker/redis-broker.js';
export { openBroker, type BrokerSettings } from './broker/open-broker.js';
export {
  outboxMigrations,
  OUTBOX_CHANNEL,
  OUTBOX_QUIET_WINDOW_MS,
  OUTBOX_TRACEPARENT_SETTING,
} from './outbox/outbox-schema.js';
export { createOutboxRelay, type OutboxRelay, type OutboxRelayOptions } from './outbox/outbox-relay.js';
export { createShutdown, type Shutdown, type ShutdownOptions } from './shutdown.js';
export { createCloser, type Closer, type CloseStep } from './closer.js';
export {
  activeTraceparent,
  contextOf,
  formatTraceparent,
  inBatchSpan,
  itemSpans,
  parseTraceparent,
  SpanKind,
  traceIdOf,
  tracer,
  type BatchSpanOptions,
} from './telemetry/trace-context.js';
export { runService, type Runnable } from './run-service.js';
export {
  CRASH_AT_VARIABLE,
  CRASH_POINTS,
  CRASH_POINT_NAMES,
  armCrashPoints,
  crashMarker,
  crashPoint,
  parseCrashAt,
  type CrashPointName,
  type CrashTrigger,
} from './crash-points.js';
export {
  createMetrics,
  httpRequestDuration,
  grpcHandlingSeconds,
  grpcPathLabels,
  grpcCodeName,
  observePool,
  observeOutbox,
  observeQueues,
  DURATION_BUCKETS,
  LATENCY_BUCKETS,
  type Metrics,
  type MetricsOptions,
  type PoolStats,
  type OutboxBacklog,
} from './telemetry/metrics.js';
export { startOpsServer, type OpsServer, type OpsServerOptions } from './telemetry/ops-server.js';
export {
  probeReadiness,
  type ProbeOptions,
  type ReadinessChecks,
  type ReadinessProbe,
} from './telemetry/readiness.js';
export { periodic, type Periodic, type PeriodicOptions } from './periodic.js';
export { readOutboxBacklog } from './outbox/outbox-backlog.js';
export { createGroupCommit, type GroupCommit, type GroupCommitOptions } from './group-commit.js';
