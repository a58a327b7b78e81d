import { env, loadConfig, type LoadConfigOptions } from '@scoreline/platform';

/**
 * Every setting line-provider reads. The comment above each one is its description in
 * docs/configuration.md and .env.example (`npm run docs:config` writes both).
 */
export const lineProviderConfigSchema = {
  /** How much the process logs (JSON lines on stdout). */
  LOG_LEVEL: env.logLevel(),
  /** line-provider's database: postgres://user:password@host:5432/database, or pglite://<folder>. */
  LINE_PROVIDER_DATABASE_URL: env.url(
    ['postgres:', 'postgresql:', 'pglite:'],
    'pglite://.data/line-provider',
  ),
  /** Connections in line-provider's database pool. */
  LINE_PROVIDER_DATABASE_POOL_SIZE: env.integer(10, { min: 1, max: 200 }),
  /** Where EventChanged messages go: redis://… (rediss:// for TLS), or memory:// (one process only). */
  REDIS_URL: env.url(['redis:', 'rediss:', 'memory:'], 'redis://127.0.0.1:6379'),
  /** Prefix of every Redis key and queue, so that several deployments can share one Redis. */
  REDIS_PREFIX: env.string('scoreline'),
  /** The interface the gRPC server listens on (0.0.0.0: every interface). */
  LINE_PROVIDER_GRPC_HOST: env.string('0.0.0.0'),
  /** The gRPC port. */
  LINE_PROVIDER_GRPC_PORT: env.port(50051),
  /** Token for CreateEvent/UpdateEvent/CloseEvent/CancelEvent (the admin CLI sends it). */
  LINE_PROVIDER_ADMIN_TOKEN: env.secret(16),
  /** Token for ApplyScore/RevertScore (score-maker's worker sends it). */
  LINE_PROVIDER_INTERNAL_TOKEN: env.secret(16),
  /** The original contract had no auth; set true to make it require the internal token too. */
  LINE_PROVIDER_LEGACY_REQUIRE_TOKEN: env.boolean(false),
  /** How often the deadline closer looks for open events past their deadline. */
  DEADLINE_CHECK_INTERVAL: env.duration('1s'),
  /** How often the outbox relay looks for new rows when no NOTIFY has woken it. */
  OUTBOX_POLL_INTERVAL: env.duration('1s'),
  /** Outbox rows the relay claims, publishes and marks in one transaction. */
  OUTBOX_BATCH_SIZE: env.integer(200, { min: 1, max: 5000 }),
  /** How long published outbox rows are kept before they are deleted. */
  OUTBOX_RETENTION: env.duration('24h'),
  /** How long the process may take to stop after SIGTERM or SIGINT before it exits anyway. */
  SHUTDOWN_TIMEOUT: env.duration('20s'),
};

export type LineProviderConfig = ReturnType<typeof loadLineProviderConfig>;

export function loadLineProviderConfig(options?: LoadConfigOptions) {
  return loadConfig(lineProviderConfigSchema, options);
}
