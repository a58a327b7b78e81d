import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { env, loadConfig } from '@scoreline/platform';

/** The quick start's own settings; everything has a default, so `npm start` needs nothing. */
export const quickstartSchema = {
  /** How much the services log (JSON lines on stdout, between the banner's lines). */
  LOG_LEVEL: env.logLevel().default('warn'),
  /** Where the embedded databases and generated secrets live, across restarts (npm run reset wipes it). */
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
  /** Create a few demo events when line-provider has none. */
  SCORELINE_DEMO_EVENTS: env.boolean(true),
};

export type QuickstartSettings = ReturnType<typeof loadQuickstartSettings>;

export function loadQuickstartSettings() {
  return loadConfig(quickstartSchema);
}

export interface Secrets {
  adminToken: string;
  internalToken: string;
  jwtSecret: string;
}

/**
 * Tokens and the JWT secret for this data folder: generated on first start and kept beside the
 * databases, so a demo token printed yesterday still works today. Never used outside the quick start.
 */
export function loadSecrets(dataDir: string): Secrets {
  const file = join(resolve(dataDir), 'secrets.json');
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Secrets;
  } catch {
    const secrets: Secrets = {
      adminToken: randomBytes(24).toString('base64url'),
      internalToken: randomBytes(24).toString('base64url'),
      jwtSecret: randomBytes(32).toString('base64url'),
    };
    mkdirSync(resolve(dataDir), { recursive: true });
    writeFileSync(file, JSON.stringify(secrets, null, 2), { mode: 0o600 });
    return secrets;
  }
}
