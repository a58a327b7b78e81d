import { silentLogger } from '@scoreline/platform';
import {
  createTestDatabase,
  redisServerAvailable,
  startPrivateRedis,
  testServices,
  type PrivateRedis,
  type TestDatabase,
} from '@scoreline/platform/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEvent, INTERNAL_TOKEN, startHarness, type Harness } from '../../line-provider/test/helpers.js';
import type { EventsCache } from '../src/data-access/events-cache.js';
import { createRedisEventsCache } from '../src/data-access/events-cache-redis.js';
import { createLineProviderClient } from '../src/data-access/line-provider-client.js';
import { buildScoreMakerApi, loadApiConfig, scoreMakerMigrations, type ScoreMakerApi } from '../src/index.js';
import { JWT_SECRET, tokenFor } from './api-harness.js';

const skip = !redisServerAvailable() || !testServices().redisUrl;
const SCORES_PER_MINUTE = 5;

/**
 * Redis is a cache and a queue, never the source of truth: with it unreachable, the API keeps taking
 * scores (the outbox in PostgreSQL holds them), with per-replica rate limits in memory.
 */
describe.skipIf(skip)(`the API with Redis unreachable${skip ? ' [skipped: needs redis-server]' : ''}`, () => {
  let redis: PrivateRedis;
  let lp: Harness;
  let tdb: TestDatabase;
  let cache: EventsCache;
  let api: ScoreMakerApi;
  let lineProvider: ReturnType<typeof createLineProviderClient>;
  let eventId: number;

  beforeAll(async () => {
    redis = await startPrivateRedis();
    lp = await startHarness();
    tdb = await createTestDatabase(scoreMakerMigrations);
    const logger = silentLogger();
    cache = createRedisEventsCache({ url: redis.url, prefix: 'outage', logger });
    lineProvider = createLineProviderClient({
      address: `127.0.0.1:${lp.port}`,
      internalToken: INTERNAL_TOKEN,
      logger,
    });
    const config = loadApiConfig({
      env: {
        JWT_SECRET,
        REDIS_URL: redis.url,
        REDIS_PREFIX: 'outage',
        LINE_PROVIDER_ADDRESS: `127.0.0.1:${lp.port}`,
        RATE_LIMIT_SCORES_PER_MINUTE: String(SCORES_PER_MINUTE),
      },
      envFile: false,
    });
    api = await buildScoreMakerApi(config, { logger, db: tdb.db, cache, lineProvider });
    await api.http.ready();
    eventId = (await createEvent(lp, 'Outage cup')).id;
  });

  afterAll(async () => {
    await api?.stop();
    await cache?.close();
    lineProvider?.close();
    await tdb?.dispose();
    await lp?.dispose();
    await redis?.dispose();
  });

  const post = async (user: string, score: number) =>
    api.http.inject({
      method: 'POST',
      url: `/events/${eventId}/score`,
      headers: { authorization: `Bearer ${await tokenFor(user)}`, 'content-type': 'application/json' },
      payload: JSON.stringify({ score }),
    });

  it('when Redis stops under load, then scores are still accepted (202, never 5xx) and each one is in the outbox', async () => {
    const warm = await post('warm-user', 3);
    expect(warm.statusCode).toBe(202);
    await redis.stop();

    // 40 users × 4 scores each, 8 at a time, all while Redis is down.
    const users = Array.from({ length: 40 }, (_, i) => `user-${i}`);
    const statuses: number[] = [];
    const accepted = new Set<string>();
    for (let round = 0; round < 4; round++) {
      for (let i = 0; i < users.length; i += 8) {
        const batch = await Promise.all(users.slice(i, i + 8).map((user) => post(user, 1 + round)));
        for (const res of batch) {
          statuses.push(res.statusCode);
          if (res.statusCode === 202) accepted.add(res.json<{ id: string }>().id);
        }
      }
    }
    expect(statuses.filter((s) => s !== 202)).toEqual([]);
    expect(accepted.size).toBe(users.length);
    const { rows } = await tdb.db.query<{ n: number }>(
      `SELECT count(DISTINCT message_key)::int AS n FROM outbox WHERE type = 'ApplyScore' AND message_key = ANY($1)`,
      [[...accepted]],
    );
    expect(rows[0]!.n).toBe(users.length);
  });

  it('when Redis is down, then the per-user limit still holds in this replica: 429 with Retry-After past it', async () => {
    await redis.stop();
    const answers: number[] = [];
    for (let i = 0; i < SCORES_PER_MINUTE + 2; i++)
      answers.push((await post('eager', 1 + (i % 5))).statusCode);
    expect(answers.slice(0, SCORES_PER_MINUTE)).toEqual(Array(SCORES_PER_MINUTE).fill(202));
    const over = await post('eager', 2);
    expect(over.statusCode).toBe(429);
    expect(over.json()).toMatchObject({ code: 'RATE_LIMITED' });
    expect(Number(over.headers['retry-after'])).toBeGreaterThan(0);
  });

  it('when Redis comes back, then limits count in Redis again, shared by replicas', async () => {
    await redis.start();
    // ioredis reconnects on its own; the next request after that counts in Redis.
    let counted = false;
    for (let attempt = 0; attempt < 50 && !counted; attempt++) {
      expect((await post('returning', 4)).statusCode).toBe(202);
      const client = new Redis(redis.url);
      try {
        counted = (await client.keys('outage:rate-limit:*returning')).length > 0;
      } finally {
        client.disconnect();
      }
      if (!counted) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(counted).toBe(true);
  });
});
