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
