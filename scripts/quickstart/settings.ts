import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseEnv } from 'node:util';
import { env, loadConfig } from '@scoreline/platform';

/**
 * The quick start's own settings; everything has a default, so `npm start` needs nothing. Like every
 * process it reads the environment, then `.env` in the working directory; the banner says which of
 * the three (environment, .env, default) each part of the running system came from.
 */
export const quickstartSchema = {
  /** How much the services log (JSON lines on stdout, between the banner's lines). */
  LOG_LEVEL: env.logLevel().default('warn'),
  /** Where the embedded database and generated secrets live, across restarts (npm run reset wipes it). */
  SCORELINE_DATA_DIR: env.string('.data'),
  /** Set to postgres://… to keep line-provider's data on your own PostgreSQL instead of an embedded one. */
  LINE_PROVIDER_DATABASE_URL: env.url(['postgres:', 'postgresql:', 'pglite:']).optional(),
  /** Set to postgres://… to keep score-maker's data on your own PostgreSQL instead of an embedded one. */
  SCORE_MAKER_DATABASE_URL: env.url(['postgres:', 'postgresql:', 'pglite:']).optional(),
  /** Set to redis://… to use Redis for the queues and the cache instead of the in-process broker. */
  REDIS_URL: env.url(['redis:', 'rediss:', 'memory:'], 'memory://'),
  /** Prefix of every Redis key and queue, so that several deployments can share one Redis. */
  REDIS_PREFIX: env.string('scoreline'),
  /** The API's port (on 127.0.0.1). */
  SCORE_MAKER_HTTP_PORT: env.port(8002),
  /** line-provider's gRPC port (on 127.0.0.1). */
  LINE_PROVIDER_GRPC_PORT: env.port(50051),
  /** The API's HS256 secret for user tokens; unset, npm start generates one and keeps it in its data folder. */
  JWT_SECRET: env.secret(32).optional(),
  /** line-provider's admin token; unset, npm start generates one and keeps it in its data folder. */
  LINE_PROVIDER_ADMIN_TOKEN: env.secret(16).optional(),
  /** line-provider's internal token; unset, npm start generates one and keeps it in its data folder. */
  LINE_PROVIDER_INTERNAL_TOKEN: env.secret(16).optional(),
  /** Create a few demo events when line-provider has none. */
  SCORELINE_DEMO_EVENTS: env.boolean(true),
};

export type QuickstartSettings = ReturnType<typeof loadConfig<typeof quickstartSchema>>;
export type Setting = keyof typeof quickstartSchema;
export type Source = 'environment' | '.env' | 'default';

export interface LoadedSettings {
  settings: QuickstartSettings;
  /** Where each setting's value came from, by the rule loadConfig applies (empty counts as unset). */
  sourceOf: (name: Setting) => Source;
}

export function loadQuickstartSettings(
  environment: Record<string, string | undefined> = process.env,
  envFile = '.env',
): LoadedSettings {
  const settings = loadConfig(quickstartSchema, { env: environment, envFile });
  const fromFile = existsSync(envFile) ? parseEnv(readFileSync(envFile, 'utf8')) : {};
  // Where a variable is set, if anywhere: the environment wins even when it sets it empty, which then
  // counts as unset.
  const origin = (key: string): Source | undefined =>
    key in environment ? (environment[key] ? 'environment' : undefined) : fromFile[key] ? '.env' : undefined;
  return {
    settings,
    // A secret or URL given as a file (`<NAME>_FILE`) comes from where that variable is set.
    sourceOf: (name) => origin(name) ?? origin(`${name}_FILE`) ?? 'default',
  };
}

export interface Secrets {
  adminToken: string;
  internalToken: string;
  jwtSecret: string;
}

/** The file a data folder keeps its generated secrets in (`npm run token` reads it too). */
export const secretsFile = (dataDir: string) => join(resolve(dataDir), 'secrets.json');

/**
 * Tokens and the JWT secret for this data folder: generated on first start and kept beside the
 * database, so a demo token printed yesterday still works today. A secret set in the environment or
 * `.env` is used instead of the generated one.
 */
export function loadSecrets(settings: QuickstartSettings): Secrets {
  const file = secretsFile(settings.SCORELINE_DATA_DIR);
  let generated: Secrets;
  try {
    generated = JSON.parse(readFileSync(file, 'utf8')) as Secrets;
  } catch {
    generated = {
      adminToken: randomBytes(24).toString('base64url'),
      internalToken: randomBytes(24).toString('base64url'),
      jwtSecret: randomBytes(32).toString('base64url'),
    };
    mkdirSync(resolve(settings.SCORELINE_DATA_DIR), { recursive: true });
    writeFileSync(file, JSON.stringify(generated, null, 2), { mode: 0o600 });
  }
  return {
    adminToken: settings.LINE_PROVIDER_ADMIN_TOKEN ?? generated.adminToken,
    internalToken: settings.LINE_PROVIDER_INTERNAL_TOKEN ?? generated.internalToken,
    jwtSecret: settings.JWT_SECRET ?? generated.jwtSecret,
  };
}
