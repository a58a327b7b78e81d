import { SignJWT } from 'jose';
import { silentLogger, type Database } from '@scoreline/platform';
import {
  createTestDatabase,
  createTestRedis,
  testServices,
  type TestDatabase,
  type TestRedis,
} from '@scoreline/platform/testing';
import { createLineProviderClient } from '../src/data-access/line-provider-client.js';
import { type EventsCache } from '../src/data-access/events-cache.js';
import { createMemoryEventsCache } from '../src/data-access/events-cache-memory.js';
import { createRedisEventsCache } from '../src/data-access/events-cache-redis.js';
import {
  buildScoreMakerApi,
  loadApiConfig,
  scoreMakerMigrations,
  type ScoreMakerApi,
  type ScoreMakerApiDeps,
} from '../src/index.js';
import { INTERNAL_TOKEN, startHarness, type Harness } from '../../line-provider/test/helpers.js';

export const JWT_SECRET = 'test-jwt-secret-of-at-least-32-characters!';

export async function tokenFor(
  user: string,
  options: { expiresIn?: string; secret?: string } = {},
): Promise<string> {
  return new SignJWT({})
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(user)
    .setIssuedAt()
    .setExpirationTime(options.expiresIn ?? '1h')
    .sign(new TextEncoder().encode(options.secret ?? JWT_SECRET));
}

export interface ApiHarness {
  lp: Harness;
  api: ScoreMakerApi;
  db: Database;
  cache: EventsCache;
  tdb: TestDatabase;
  auth(user: string): Promise<{ authorization: string }>;
  /** Another API replica on the same database, Redis and line-provider (stopped by dispose()). */
  replica(): Promise<ScoreMakerApi>;
  dispose(): Promise<void>;
}

/**
 * The score-maker API (app.inject, no port) over its own test database, a real line-provider on a
 * real port with its own database, and the events cache on Redis (memory when Redis is absent).
 */
export async function startApi(
  env: Record<string, string> = {},
  deps: Pick<ScoreMakerApiDeps, 'quickstartSignIn' | 'webRoot'> = {},
): Promise<ApiHarness> {
  const lp = await startHarness();
  const tdb = await createTestDatabase(scoreMakerMigrations);
  const logger = silentLogger();
  const { redisUrl } = testServices();
  const redis: TestRedis | undefined = redisUrl ? createTestRedis() : undefined;
  const cache = redis
    ? createRedisEventsCache({ url: redis.url, prefix: redis.prefix, logger })
    : createMemoryEventsCache({ logger });
  const config = loadApiConfig({
    env: {
      JWT_SECRET,
      REDIS_URL: redis?.url ?? 'memory://',
      REDIS_PREFIX: redis?.prefix ?? 'scoreline-test',
      LINE_PROVIDER_ADDRESS: `127.0.0.1:${lp.port}`,
      SCORE_MAKER_HTTP_PORT: '0',
      SCORE_MAKER_HTTP_HOST: '127.0.0.1',
      ...env,
    },
    envFile: false,
  });
  const lineProvider = createLineProviderClient({
    address: `127.0.0.1:${lp.port}`,
    internalToken: INTERNAL_TOKEN,
    logger,
  });
  const api = await buildScoreMakerApi(config, { logger, db: tdb.db, cache, lineProvider, ...deps });
  await api.http.ready();
  const replicas: ScoreMakerApi[] = [];
  const replicaCaches: EventsCache[] = [];
  return {
    lp,
    api,
    db: tdb.db,
    cache,
    tdb,
    auth: async (user) => ({ authorization: `Bearer ${await tokenFor(user)}` }),
    async replica() {
      // Its own events cache connection, as a separate process would have.
      const own = redis
        ? createRedisEventsCache({ url: redis.url, prefix: redis.prefix, logger })
        : createMemoryEventsCache({ logger });
      replicaCaches.push(own);
      const replica = await buildScoreMakerApi(config, { logger, db: tdb.db, cache: own, lineProvider });
      await replica.http.ready();
      replicas.push(replica);
      return replica;
    },
    async dispose() {
      for (const replica of replicas) await replica.stop();
      for (const own of replicaCaches) await own.close();
      await api.stop();
      await cache.close();
      lineProvider.close();
      await tdb.dispose();
      await redis?.dispose();
      await lp.dispose();
    },
  };
}

export async function count(db: Database, table: 'scores' | 'outbox' | 'idempotency_keys'): Promise<number> {
  const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`);
  return rows[0]!.n;
}
