import { env, loadConfig, type LoadConfigOptions } from '@scoreline/platform';

/** Every setting line-provider reads; `.env.example` documents each one. */
export const lineProviderConfigSchema = {
  LOG_LEVEL: env.logLevel(),
  /** postgres://… for a server; pglite://<folder> for an embedded database. */
  LINE_PROVIDER_DATABASE_URL: env.url(
    ['postgres:', 'postgresql:', 'pglite:'],
    'pglite://.data/line-provider',
  ),
  LINE_PROVIDER_DATABASE_POOL_SIZE: env.integer(10, { min: 1, max: 200 }),
  /** Where EventChanged messages go: redis://… or memory:// (in-process, for the one-process mode). */
  REDIS_URL: env.url(['redis:', 'rediss:', 'memory:'], 'redis://127.0.0.1:6379'),
  REDIS_PREFIX: env.string('scoreline'),
  LINE_PROVIDER_GRPC_HOST: env.string('0.0.0.0'),
  LINE_PROVIDER_GRPC_PORT: env.port(50051),
  /** Token for CreateEvent/UpdateEvent/CloseEvent/CancelEvent (the admin CLI sends it). */
  LINE_PROVIDER_ADMIN_TOKEN: env.secret(16),
  /** Token for ApplyScore/RevertScore (score-maker's worker sends it). */
  LINE_PROVIDER_INTERNAL_TOKEN: env.secret(16),
  /** The original contract had no auth; set true to make it require the internal token too. */
  LINE_PROVIDER_LEGACY_REQUIRE_TOKEN: env.boolean(false),
  DEADLINE_CHECK_INTERVAL: env.duration('1s'),
  OUTBOX_POLL_INTERVAL: env.duration('1s'),
  OUTBOX_BATCH_SIZE: env.integer(200, { min: 1, max: 5000 }),
  OUTBOX_RETENTION: env.duration('24h'),
  SHUTDOWN_TIMEOUT: env.duration('20s'),
};

export type LineProviderConfig = ReturnType<typeof loadLineProviderConfig>;

export function loadLineProviderConfig(options?: LoadConfigOptions) {
  return loadConfig(lineProviderConfigSchema, options);
}
