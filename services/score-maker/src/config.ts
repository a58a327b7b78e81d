import {
  ConfigError,
  env,
  lineProviderClientTls,
  loadConfig,
  type LoadConfigOptions,
} from '@scoreline/platform';

/**
 * Settings shared by the API and the worker. The comment above each setting is its description in
 * docs/configuration.md and .env.example (`npm run docs:config` writes both).
 */
const common = {
  /** How much the process logs (JSON lines on stdout). */
  LOG_LEVEL: env.logLevel(),
  /** score-maker's database: postgres://user:password@host:5432/database, or pglite://<folder>. */
  SCORE_MAKER_DATABASE_URL: env.url(['postgres:', 'postgresql:', 'pglite:'], 'pglite://.data/score-maker'),
  /** Connections in score-maker's database pool (each API and worker process has its own). */
  SCORE_MAKER_DATABASE_POOL_SIZE: env.integer(20, { min: 1, max: 200 }),
  /**
   * Queues, events cache and rate-limit counters: redis://… (rediss:// for TLS), or memory://
   * (in-process, one process only).
   */
  REDIS_URL: env.url(['redis:', 'rediss:', 'memory:'], 'redis://127.0.0.1:6379'),
  /** Prefix of every Redis key and queue, so that several deployments can share one Redis. */
  REDIS_PREFIX: env.string('scoreline'),
  /** host:port of line-provider's gRPC server. */
  LINE_PROVIDER_ADDRESS: env.string('127.0.0.1:50051'),
  /** The deadline of each gRPC call to line-provider; a batch call gets one per 100 items. */
  LINE_PROVIDER_CALL_TIMEOUT: env.duration('2s'),
  /**
   * Call line-provider over TLS, checking its certificate against the default public roots; on by
   * itself when the CA file, the server name or the client certificate below is set.
   */
  LINE_PROVIDER_TLS: env.boolean(false),
  /** PEM CA certificates line-provider's server certificate must chain to (turns TLS on). */
  LINE_PROVIDER_TLS_CA_FILE: env.file().optional(),
  /**
   * The name line-provider's certificate is checked for, when it differs from the host in
   * LINE_PROVIDER_ADDRESS (turns TLS on).
   */
  LINE_PROVIDER_TLS_SERVER_NAME: env.string().optional(),
  /**
   * PEM client certificate presented to line-provider, for mutual TLS (with
   * LINE_PROVIDER_CLIENT_KEY_FILE; turns TLS on).
   */
  LINE_PROVIDER_CLIENT_CERT_FILE: env.file().optional(),
  /** PEM private key of LINE_PROVIDER_CLIENT_CERT_FILE. */
  LINE_PROVIDER_CLIENT_KEY_FILE: env.file().optional(),
  /** How long the process may take to stop after SIGTERM or SIGINT before it exits anyway. */
  SHUTDOWN_TIMEOUT: env.duration('20s'),
  /** A compensation still running after this long counts as stuck (in /readyz and `npm run sagas`). */
  SAGA_STUCK_AFTER: env.duration('2m'),
};

export const apiConfigSchema = {
  ...common,
  /** The interface the HTTP server listens on (0.0.0.0: every interface). */
  SCORE_MAKER_HTTP_HOST: env.string('0.0.0.0'),
  /** The HTTP port (the original API's). */
  SCORE_MAKER_HTTP_PORT: env.port(8002),
  /**
   * Statements writing scores (T1) that run at once; submissions arriving while they all run go
   * together in the next one (without an Idempotency-Key), so a busy API commits many scores at once.
   * Few beats many: bench:api at 32 connections took 5,500-6,700 POST/s at 2, 4,400-5,100 at 4 and
   * 4,300 at 8.
   */
  SUBMIT_CONCURRENCY: env.integer(2, { min: 1, max: 200 }),
  /** The most submissions one T1 statement writes; 1 writes each in a statement of its own. */
  SUBMIT_BATCH_SIZE: env.integer(200, { min: 1, max: 1000 }),
  /** HS256 secret for user tokens (npm run token signs with it); the API needs it or JWT_JWKS_URL. */
  JWT_SECRET: env.secret(32).optional(),
  /** Your identity provider's JWKS URL, for RS256/PS256/ES256/EdDSA user tokens (instead of JWT_SECRET). */
  JWT_JWKS_URL: env.url(['https:', 'http:']).optional(),
  /** When set, user tokens must carry this issuer (`iss`). */
  JWT_ISSUER: env.string().optional(),
  /** When set, user tokens must carry this audience (`aud`). */
  JWT_AUDIENCE: env.string().optional(),
  /** How long an event stays cached (EventChanged messages invalidate it sooner). */
  EVENTS_CACHE_TTL: env.duration('5s'),
  /**
   * How long the API serves an event (the POST's event check, GET /events/{event_id}) or a GET /events
   * page from its own memory; EventChanged invalidations (Redis pub/sub) drop them sooner. Also the
   * max-age of those responses' Cache-Control: the longest they may be stale when an invalidation is lost.
   */
  EVENTS_LOCAL_TTL: env.duration('1s'),
  /** Score submissions (POST /events/{event_id}/score) per user per minute. */
  RATE_LIMIT_SCORES_PER_MINUTE: env.integer(120, { min: 1, max: 1_000_000 }),
  /** Other requests per user (or per address, without a token) per minute. */
  RATE_LIMIT_READS_PER_MINUTE: env.integer(1200, { min: 1, max: 10_000_000 }),
  /** Live update streams (Server-Sent Events) one API process holds at most; more answer 503. */
  STREAM_MAX_CONNECTIONS: env.integer(2000, { min: 1, max: 1_000_000 }),
  /** How often an idle live update stream sends a keep-alive comment, so that proxies keep it open. */
  STREAM_HEARTBEAT: env.duration('15s'),
  /**
   * The user token claim that carries roles, for the operations console (/console, /admin/…): a string,
   * a space-separated list or an array; a dotted path reaches into objects (`realm_access.roles`).
   */
  ADMIN_ROLE_CLAIM: env.string('roles'),
  /** The role in ADMIN_ROLE_CLAIM that opens the operations console. */
  ADMIN_ROLE: env.string('admin'),
  /**
   * line-provider's admin token, for the console's create, close and cancel of events; unset, those
   * answer 503 and the rest of the console works.
   */
  LINE_PROVIDER_ADMIN_TOKEN: env.secret(16).optional(),
};

export type ApiConfig = ReturnType<typeof loadApiConfig>;

export function loadApiConfig(options?: LoadConfigOptions) {
  const config = loadConfig(apiConfigSchema, options);
  if (!config.JWT_SECRET && !config.JWT_JWKS_URL) {
    throw new ConfigError([
      'JWT_SECRET: set a secret of at least 32 characters, or JWT_JWKS_URL (it is not set)',
    ]);
  }
  return Object.freeze({ ...config, lineProviderTls: lineProviderClientTls(config) });
}

export const workerConfigSchema = {
  ...common,
  /** Token for ApplyScore/RevertScore (score-maker's worker sends it). */
  LINE_PROVIDER_INTERNAL_TOKEN: env.secret(16),
  /** How long an event stays cached (EventChanged messages invalidate it sooner). */
  EVENTS_CACHE_TTL: env.duration('5s'),
  /** ApplyScore deliveries before the timeout's compensation (RevertScore, then UNAVAILABLE). */
  SAGA_MAX_ATTEMPTS: env.integer(8, { min: 1, max: 1000 }),
  /**
   * A saga older than this compensates at its next transient failure instead of retrying (from its
   * step's second delivery on: a saga that aged in a backlog gets one retry first).
   */
  SAGA_TIMEOUT: env.duration('30s'),
  /** The first delay of the saga's retries (exponential backoff, with jitter). */
  SAGA_BACKOFF_INITIAL: env.duration('100ms'),
  /** The cap of the saga's retry delay. */
  SAGA_BACKOFF_MAX: env.duration('5s'),
  /** RevertScore retries without limit; its backoff is capped here. */
  SAGA_REVERT_BACKOFF_MAX: env.duration('30s'),
  /** Sagas unsettled for this long are re-driven from the database (lost jobs, a flushed Redis). */
  SAGA_SWEEP_AFTER: env.duration('10s'),
  /** How often the sweeper looks for sagas unsettled for SAGA_SWEEP_AFTER. */
  SAGA_SWEEP_INTERVAL: env.duration('5s'),
  /** How often events with scores not yet final are checked against line-provider. */
  RECONCILE_INTERVAL: env.duration('1m'),
  /**
   * Batches of saga steps one worker process handles at once, per queue. A batch is whatever is
   * waiting, up to WORKER_BATCH_SIZE: at low load each batch holds one step. Few and large beats many:
   * concurrent batches queue on the same events' row locks in line-provider (a 10,000-score drain over
   * 50 events: 2,800-3,500 settled/s at 2, 3,000 at 4, 1,900 at 8).
   */
  WORKER_CONCURRENCY: env.integer(2, { min: 1, max: 1000 }),
  /** The most saga steps in one batch: one load, one line-provider call and one settling statement. */
  WORKER_BATCH_SIZE: env.integer(200, { min: 1, max: 1000 }),
  /** How long messages a dead worker was handed wait before another worker takes them. */
  BROKER_LOCK_DURATION: env.duration('30s'),
  /** How often a worker looks for messages whose worker died. */
  BROKER_STALLED_INTERVAL: env.duration('15s'),
  /** How often the outbox relay looks for new rows when no NOTIFY has woken it. */
  OUTBOX_POLL_INTERVAL: env.duration('1s'),
  /** Outbox rows the relay claims, publishes and marks in one transaction. */
  OUTBOX_BATCH_SIZE: env.integer(200, { min: 1, max: 5000 }),
  /** How long published outbox rows are kept before they are deleted. */
  OUTBOX_RETENTION: env.duration('24h'),
  /** The worker's own health endpoint (/healthz, /readyz with saga counts); 0 picks a free port. */
  WORKER_HTTP_PORT: env.port(8003),
  /** The interface the worker's health endpoint listens on. */
  WORKER_HTTP_HOST: env.string('0.0.0.0'),
};

export type WorkerConfig = ReturnType<typeof loadWorkerConfig>;

export function loadWorkerConfig(options?: LoadConfigOptions) {
  const config = loadConfig(workerConfigSchema, options);
  return Object.freeze({ ...config, lineProviderTls: lineProviderClientTls(config) });
}
