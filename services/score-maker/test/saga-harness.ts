import { randomUUID } from 'node:crypto';
import { createMemoryBroker, createRedisBroker, silentLogger, type Broker } from '@scoreline/platform';
import {
  createTestDatabase,
  createTestRedis,
  type TestDatabase,
  type TestRedis,
} from '@scoreline/platform/testing';
import { buildLineProvider, lineProviderMigrations, type LineProvider } from '@scoreline/line-provider';
import {
  createLineProviderClient,
  type LineProviderClient,
} from '../src/data-access/line-provider-client.js';
import { type EventsCache } from '../src/data-access/events-cache.js';
import { createMemoryEventsCache } from '../src/data-access/events-cache-memory.js';
import { createRedisEventsCache } from '../src/data-access/events-cache-redis.js';
import {
  buildScoreMakerApi,
  buildScoreMakerWorker,
  loadApiConfig,
  loadWorkerConfig,
  scoreMakerMigrations,
  type ScoreMakerApi,
  type ScoreMakerWorker,
} from '../src/index.js';
import {
  ADMIN_TOKEN,
  INTERNAL_TOKEN,
  testConfig as lineProviderConfig,
} from '../../line-provider/test/helpers.js';
import { JWT_SECRET, tokenFor } from './api-harness.js';
import { checkInvariants } from './invariants.js';

export type BrokerKind = 'redis' | 'memory';

/**
 * Fast settings so that retries and sweeps happen within a test. The timeout itself stays generous so
 * that a loaded machine (test files run in parallel) does not compensate sagas a test expects to
 * confirm; tests of the timeout set their own.
 */
export const fastSaga: Record<string, string> = {
  SAGA_MAX_ATTEMPTS: '50',
  SAGA_TIMEOUT: '20s',
  SAGA_BACKOFF_INITIAL: '50ms',
  SAGA_BACKOFF_MAX: '400ms',
  SAGA_REVERT_BACKOFF_MAX: '400ms',
  SAGA_SWEEP_AFTER: '1s',
  SAGA_SWEEP_INTERVAL: '300ms',
  RECONCILE_INTERVAL: '500ms',
  OUTBOX_POLL_INTERVAL: '200ms',
  LINE_PROVIDER_CALL_TIMEOUT: '2s',
  BROKER_LOCK_DURATION: '2s',
  BROKER_STALLED_INTERVAL: '1s',
  WORKER_CONCURRENCY: '8',
};

/**
 * The whole system in this process: line-provider (gRPC on a real port, its own database), the
 * score-maker API (app.inject) and N workers, all on one broker (Redis Streams, or in-process).
 */
export class SagaSystem {
  lineProvider!: LineProvider;
  lpPort = 0;
  api!: ScoreMakerApi;
  workers: ScoreMakerWorker[] = [];
  private clients: LineProviderClient[] = [];
  private brokers: Broker[] = [];
  private caches: EventsCache[] = [];
  private constructor(
    readonly kind: BrokerKind,
    readonly lpDb: TestDatabase,
    readonly smDb: TestDatabase,
    readonly redis: TestRedis | undefined,
    readonly env: Record<string, string>,
  ) {}

  static async start(
    kind: BrokerKind,
    options: {
      workers?: number;
      env?: Record<string, string>;
      /** Settings of the API (the workers take `env`). */
      apiEnv?: Record<string, string>;
      redis?: TestRedis;
    } = {},
  ) {
    const lpDb = await createTestDatabase(lineProviderMigrations);
    const smDb = await createTestDatabase(scoreMakerMigrations);
    const redis = kind === 'redis' ? (options.redis ?? createTestRedis()) : undefined;
    const system = new SagaSystem(kind, lpDb, smDb, redis, { ...fastSaga, ...options.env });
    await system.startLineProvider();
    const logger = silentLogger();
    const client = system.client();
    system.api = await buildScoreMakerApi(
      loadApiConfig({
        env: {
          JWT_SECRET,
          REDIS_URL: redis?.url ?? 'memory://',
          REDIS_PREFIX: redis?.prefix ?? 'x',
          RATE_LIMIT_SCORES_PER_MINUTE: '1000000',
          RATE_LIMIT_READS_PER_MINUTE: '1000000',
          ...options.apiEnv,
        },
        envFile: false,
      }),
      { logger, db: smDb.db, cache: system.cache(), lineProvider: client },
    );
    await system.api.http.ready();
    for (let i = 0; i < (options.workers ?? 1); i++) await system.addWorker();
    return system;
  }

  /** One broker per "process": on Redis each is its own connection; in-process they must be shared. */
  broker(): Broker {
    if (this.kind === 'memory') {
      if (!this.brokers[0]) this.brokers.push(createMemoryBroker());
      return this.brokers[0]!;
    }
    const b = createRedisBroker({
      url: this.redis!.url,
      prefix: this.redis!.prefix,
      logger: silentLogger(),
      lockDurationMs: 2000,
      stalledIntervalMs: 1000,
    });
    this.brokers.push(b);
    return b;
  }

  cache(): EventsCache {
    const c = this.redis
      ? createRedisEventsCache({ url: this.redis.url, prefix: this.redis.prefix, logger: silentLogger() })
      : (this.caches[0] ?? createMemoryEventsCache());
    if (!this.caches.includes(c)) this.caches.push(c);
    return c;
  }

  client(callTimeoutMs = 5000): LineProviderClient {
    const c = createLineProviderClient({
      address: `127.0.0.1:${this.lpPort || 1}`,
      internalToken: INTERNAL_TOKEN,
      logger: silentLogger(),
      callTimeoutMs,
    });
    this.clients.push(c);
    return c;
  }

  /** Starts line-provider (again) on the same port and database. */
  async startLineProvider(): Promise<void> {
    const config = lineProviderConfig({
      LINE_PROVIDER_GRPC_PORT: String(this.lpPort),
      DEADLINE_CHECK_INTERVAL: '100ms',
      OUTBOX_POLL_INTERVAL: '200ms',
    });
    this.lineProvider = await buildLineProvider(config, {
      logger: silentLogger(),
      db: this.lpDb.connect(),
      broker: this.broker(),
    });
    this.lpPort = (await this.lineProvider.start()).port;
  }

  async stopLineProvider(): Promise<void> {
    await this.lineProvider.stop();
  }

  async addWorker(env: Record<string, string> = {}): Promise<ScoreMakerWorker> {
    const config = loadWorkerConfig({
      env: {
        LINE_PROVIDER_INTERNAL_TOKEN: INTERNAL_TOKEN,
        REDIS_URL: this.redis?.url ?? 'memory://',
        REDIS_PREFIX: this.redis?.prefix ?? 'x',
        ...this.env,
        ...env,
      },
      envFile: false,
    });
    const worker = await buildScoreMakerWorker(config, {
      logger: silentLogger(),
      db: this.smDb.url ? this.smDb.connect() : this.smDb.db,
      broker: this.broker(),
      cache: this.cache(),
      lineProvider: this.client(config.LINE_PROVIDER_CALL_TIMEOUT),
    });
    await worker.start();
    this.workers.push(worker);
    return worker;
  }

  async createEvent(title = 'Saga event', deadline = new Date(Date.now() + 86_400_000)): Promise<number> {
    const { v1 } = await import('@scoreline/contracts');
    const grpc = await import('@grpc/grpc-js');
    const client = new v1.EventServiceClient(`127.0.0.1:${this.lpPort}`, grpc.credentials.createInsecure());
    const metadata = new grpc.Metadata();
    metadata.set('authorization', `Bearer ${ADMIN_TOKEN}`);
    try {
      return await new Promise<number>((resolve, reject) =>
        client.createEvent(v1.CreateEventRequest.fromPartial({ title, deadline }), metadata, (e, r) =>
          e ? reject(e) : resolve(r.event!.id),
        ),
      );
    } finally {
      client.close();
    }
  }

  async closeEvent(eventId: number): Promise<void> {
    await this.lpDb.db.query(`UPDATE events SET deadline = now() - interval '1 millisecond' WHERE id = $1`, [
      eventId,
    ]);
  }

  async submit(user: string, eventId: number, score: number, idempotencyKey = randomUUID()) {
    const res = await this.api.http.inject({
      method: 'POST',
      url: `/events/${eventId}/score`,
      headers: {
        authorization: `Bearer ${await tokenFor(user)}`,
        'content-type': 'application/json',
        'idempotency-key': idempotencyKey,
      },
      payload: { score },
    });
    if (res.statusCode !== 202) throw new Error(`submit ${res.statusCode}: ${res.body}`);
    return res.json<{ id: string; version: number }>();
  }

  async score(id: string) {
    const { rows } = await this.smDb.db.query<{
      status: string;
      rate: number;
      version: number;
      confirmed_rate: number | null;
      reason: string | null;
      final: boolean;
      saga_state: string | null;
    }>('SELECT status, rate, version, confirmed_rate, reason, final, saga_state FROM scores WHERE id = $1', [
      id,
    ]);
    return rows[0]!;
  }

  async aggregates(eventId: number) {
    const { rows } = await this.lpDb.db.query<{ score_count: number; score_sum: number }>(
      'SELECT score_count, score_sum FROM events WHERE id = $1',
      [eventId],
    );
    return rows[0]!;
  }

  async pending(): Promise<number> {
    const { rows } = await this.smDb.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM scores WHERE status = 'PENDING'`,
    );
    return rows[0]!.n;
  }

  invariants() {
    return checkInvariants(this.lpDb.db, this.smDb.db);
  }

  async dispose(): Promise<void> {
    for (const w of this.workers.splice(0)) await w.stop().catch(() => undefined);
    await this.api.stop().catch(() => undefined);
    await this.lineProvider.stop().catch(() => undefined);
    for (const c of this.clients) c.close();
    for (const c of this.caches) await c.close().catch(() => undefined);
    for (const b of this.brokers) await b.close().catch(() => undefined);
    await this.smDb.dispose();
    await this.lpDb.dispose();
    await this.redis?.dispose();
  }
}
