import { ConfigError, env, loadConfig, type LoadConfigOptions } from '@scoreline/platform';

/** Settings shared by the API and the worker. */
const common = {
  LOG_LEVEL: env.logLevel(),
  /** postgres://… for a server; pglite://<folder> for an embedded database. */
  SCORE_MAKER_DATABASE_URL: env.url(['postgres:', 'postgresql:', 'pglite:'], 'pglite://.data/score-maker'),
  SCORE_MAKER_DATABASE_POOL_SIZE: env.integer(20, { min: 1, max: 200 }),
  /** Cache, queue and rate-limit counters: redis://… or memory:// (in-process, one-process mode only). */
  REDIS_URL: env.url(['redis:', 'rediss:', 'memory:'], 'redis://127.0.0.1:6379'),
  REDIS_PREFIX: env.string('scoreline'),
  LINE_PROVIDER_ADDRESS: env.string('127.0.0.1:50051'),
  LINE_PROVIDER_CALL_TIMEOUT: env.duration('2s'),
  SHUTDOWN_TIMEOUT: env.duration('20s'),
  /** A compensation still running after this long counts as stuck (in /readyz and `npm run sagas`). */
  SAGA_STUCK_AFTER: env.duration('2m'),
};

export const apiConfigSchema = {
  ...common,
  SCORE_MAKER_HTTP_HOST: env.string('0.0.0.0'),
  SCORE_MAKER_HTTP_PORT: env.port(8002),
  /** HS256 secret for user tokens (at least 32 characters); or JWT_JWKS_URL for asymmetric keys. */
  JWT_SECRET: env.secret(32).optional(),
  JWT_JWKS_URL: env.url(['https:', 'http:']).optional(),
  JWT_ISSUER: env.string().optional(),
  JWT_AUDIENCE: env.string().optional(),
  EVENTS_CACHE_TTL: env.duration('5s'),
  RATE_LIMIT_SCORES_PER_MINUTE: env.integer(120, { min: 1, max: 1_000_000 }),
  RATE_LIMIT_READS_PER_MINUTE: env.integer(1200, { min: 1, max: 10_000_000 }),
};

export type ApiConfig = ReturnType<typeof loadApiConfig>;

export function loadApiConfig(options?: LoadConfigOptions) {
  const config = loadConfig(apiConfigSchema, options);
  if (!config.JWT_SECRET && !config.JWT_JWKS_URL) {
    throw new ConfigError([
      'JWT_SECRET: set a secret of at least 32 characters, or JWT_JWKS_URL (it is not set)',
    ]);
  }
  return config;
}

export const workerConfigSchema = {
  ...common,
  /** Token for ApplyScore/RevertScore on line-provider (LINE_PROVIDER_INTERNAL_TOKEN there). */
  LINE_PROVIDER_INTERNAL_TOKEN: env.secret(16),
  EVENTS_CACHE_TTL: env.duration('5s'),
  /** ApplyScore deliveries before the timeout's compensation (RevertScore, then UNAVAILABLE). */
  SAGA_MAX_ATTEMPTS: env.integer(8, { min: 1, max: 1000 }),
  /** A saga older than this compensates at its next transient failure instead of retrying. */
  SAGA_TIMEOUT: env.duration('30s'),
  /** Retry backoff: first delay and cap (exponential, with jitter). */
  SAGA_BACKOFF_INITIAL: env.duration('100ms'),
  SAGA_BACKOFF_MAX: env.duration('5s'),
  /** RevertScore retries without limit; its backoff is capped here. */
  SAGA_REVERT_BACKOFF_MAX: env.duration('30s'),
  /** Sagas unsettled for this long are re-driven from the database (lost jobs, a flushed Redis). */
  SAGA_SWEEP_AFTER: env.duration('10s'),
  SAGA_SWEEP_INTERVAL: env.duration('5s'),
  /** How often events with scores not yet final are checked against line-provider. */
  RECONCILE_INTERVAL: env.duration('1m'),
  WORKER_CONCURRENCY: env.integer(32, { min: 1, max: 1000 }),
  /** How long a job a dead worker held waits before another worker takes it (BullMQ lock). */
  BROKER_LOCK_DURATION: env.duration('30s'),
  BROKER_STALLED_INTERVAL: env.duration('15s'),
  OUTBOX_POLL_INTERVAL: env.duration('1s'),
  OUTBOX_BATCH_SIZE: env.integer(200, { min: 1, max: 5000 }),
  OUTBOX_RETENTION: env.duration('24h'),
  /** The worker's own health endpoint (/healthz, /readyz with saga counts); 0 picks a free port. */
  WORKER_HTTP_PORT: env.port(8003),
  WORKER_HTTP_HOST: env.string('0.0.0.0'),
};

export type WorkerConfig = ReturnType<typeof loadWorkerConfig>;

export function loadWorkerConfig(options?: LoadConfigOptions) {
  return loadConfig(workerConfigSchema, options);
}
