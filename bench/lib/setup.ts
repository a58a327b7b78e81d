import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { setTimeout as delay } from 'node:timers/promises';
import * as grpc from '@grpc/grpc-js';
import { Redis } from 'ioredis';
import { v1 } from '@scoreline/contracts';
import { env, loadConfig, openDatabase, silentLogger, type Database } from '@scoreline/platform';
import { ROOT, freePort, spawnNode, stopAllChildren, waitUntilReady } from './children.js';

/**
 * What every bench does around its figures: databases of its own on BENCH_DATABASE_URL's server
 * (dropped and recreated at start, dropped at the end), Redis keys under a prefix of its own (deleted at
 * the end), line-provider, the score-maker API and workers as child processes configured as in a
 * deployment on this machine (LOG_LEVEL=warn, `--set` on top), events through line-provider's gRPC
 * admin API, and a cleanup that runs on every way out (done, error, Ctrl-C, SIGTERM).
 */
export const config = loadConfig({
  BENCH_DATABASE_URL: env.url(['postgres:', 'postgresql:'], 'postgres://postgres@127.0.0.1:5432/postgres'),
  BENCH_REDIS_URL: env.url(['redis:', 'rediss:'], 'redis://127.0.0.1:6379'),
  /** The physical-limit baseline script; the files beside it hold its schema and transactions. */
  PG_BASELINE_SCRIPT: env.string(join(ROOT, '..', 'shared', 'bench', 'pg-baseline.sh')),
  /** Passed on to the children. */
  PATH: env.string('/usr/local/bin:/usr/bin:/bin'),
});
export const ADMIN_TOKEN = 'bench-admin-token-0123456789';
export const INTERNAL_TOKEN = 'bench-internal-token-0123456789';
export const JWT_SECRET = 'bench-jwt-secret-0123456789-0123456789';

/**
 * Runs `main` with the bench's databases created, and cleans up on every way out. `bench.env` is the
 * children's environment (PATH, LOG_LEVEL=warn, Redis, then the `--set` overrides); `open` a pool on a
 * bench database; `onCleanup` a step run at cleanup, last registered first.
 */
export async function runBench(
  setup: { name: string; databases: string[]; redis: boolean; overrides: Record<string, string> },
  main: (bench: Bench) => Promise<void>,
): Promise<void> {
  const redisPrefix = `scoreline-bench-${setup.name}-${randomBytes(4).toString('hex')}`;
  const redis = setup.redis ? new Redis(config.BENCH_REDIS_URL, { maxRetriesPerRequest: 1 }) : undefined;
  const steps: (() => unknown)[] = [];
  const admin = await pool(config.BENCH_DATABASE_URL, 1);
  const dropAll = async () => {
    for (const db of setup.databases) await admin.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
  };
  let cleaning: Promise<void> | undefined;
  const cleanup = () =>
    (cleaning ??= (async () => {
      for (const step of steps.reverse()) await quietly(step);
      await stopAllChildren();
      if (redis) await deleteKeys(redis, redisPrefix);
      // A pool interrupted mid-query may never finish closing: the databases are dropped WITH (FORCE).
      await dropAll().catch((error: unknown) => console.error(`cleanup: ${String(error)}`));
      await Promise.race([admin.close().catch(() => undefined), delay(2000)]);
    })());
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      console.error(`\n${signal}: stopping the load and the servers, dropping the bench's databases`);
      void cleanup().finally(() => process.exit(130));
    });
  }
  try {
    await dropAll();
    for (const db of setup.databases) await admin.query(`CREATE DATABASE ${db}`);
    await main(await openBench(admin, redis, redisPrefix, setup.overrides, steps));
  } catch (error) {
    // After a signal the cleanup closes what main() is still using: its errors say nothing new.
    if (!cleaning)
      console.error(
        `bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
      );
    process.exitCode = 1;
  } finally {
    await cleanup();
  }
}

async function openBench(
  admin: Database,
  redis: Redis | undefined,
  redisPrefix: string,
  overrides: Record<string, string>,
  steps: (() => unknown)[],
) {
  const url = (database: string) =>
    Object.assign(new URL(config.BENCH_DATABASE_URL), { pathname: `/${database}` }).href;
  const { rows } = await admin.query<{ v: string }>("SELECT current_setting('server_version') AS v");
  const redisServer = redis ? await redis.info('server') : 'redis_version:not used';
  return {
    admin,
    redis,
    redisPrefix,
    pgVersion: rows[0]!.v.split(' ')[0]!,
    redisVersion: /redis_version:(.+)/.exec(redisServer)?.[1]?.trim() ?? '?',
    env: {
      PATH: config.PATH,
      LOG_LEVEL: 'warn',
      REDIS_URL: redis ? config.BENCH_REDIS_URL : 'memory://',
      ...(redis && { REDIS_PREFIX: redisPrefix }),
      ...overrides,
    } as Record<string, string>,
    url,
    async open(database: string, connections = 2) {
      const db = await pool(url(database), connections);
      steps.push(() => Promise.race([db.close(), delay(2000)]));
      return db;
    },
    onCleanup: (step: () => unknown) => void steps.push(step),
  };
}
export type Bench = Awaited<ReturnType<typeof openBench>>;
const pool = (url: string, maxConnections: number) =>
  openDatabase({ url, logger: silentLogger(), maxConnections });
const quietly = (step: () => unknown) =>
  Promise.resolve()
    .then(step)
    .catch(() => undefined);

async function deleteKeys(redis: Redis, prefix: string) {
  try {
    let [cursor, deleted] = ['0', 0];
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) deleted += await redis.del(...keys);
    } while (cursor !== '0');
    console.error(`cleanup: deleted ${deleted} Redis keys under ${prefix}:`);
  } catch (error) {
    console.error(`cleanup: could not delete Redis keys ${prefix}:* (${(error as Error).message})`);
  } finally {
    redis.disconnect();
  }
}

type Callback<Res> = (error: grpc.ServiceError | null, response: Res) => void;
/** One unary gRPC call, with a bearer token if given. */
export function grpcCall<Res>(
  token: string | undefined,
  invoke: (metadata: grpc.Metadata, options: grpc.CallOptions, callback: Callback<Res>) => unknown,
  deadlineMs = 10_000,
): Promise<Res> {
  const metadata = new grpc.Metadata();
  if (token) metadata.set('authorization', `Bearer ${token}`);
  return new Promise((resolve, reject) =>
    invoke(metadata, { deadline: Date.now() + deadlineMs }, (e, r) => (e ? reject(e) : resolve(r))),
  );
}

/** `node --import tsx <script>` with `env`, then the bench's environment (so `--set` wins). */
const service = (bench: Bench, name: string, script: string, nodeArgs = '', env: Record<string, string>) =>
  spawnNode(name, [...nodeArgs.split(' ').filter(Boolean), '--import', 'tsx', script], {
    ...env,
    ...bench.env,
  });

/** line-provider on `database`, ready (ListEvents answers), with a client to it. */
export async function startLineProvider(bench: Bench, database: string, nodeArgs?: string) {
  const port = await freePort();
  const child = service(bench, 'line-provider', 'services/line-provider/src/main.ts', nodeArgs, {
    LINE_PROVIDER_DATABASE_URL: bench.url(database),
    LINE_PROVIDER_GRPC_HOST: '127.0.0.1',
    LINE_PROVIDER_GRPC_PORT: String(port),
    LINE_PROVIDER_HTTP_PORT: '0',
    LINE_PROVIDER_ADMIN_TOKEN: ADMIN_TOKEN,
    LINE_PROVIDER_INTERNAL_TOKEN: INTERNAL_TOKEN,
  });
  const address = `127.0.0.1:${port}`;
  const client = new v1.EventServiceClient(address, grpc.credentials.createInsecure());
  bench.onCleanup(() => client.close());
  await waitUntilReady('line-provider', child, () =>
    grpcCall(undefined, (m, o, cb) => client.listEvents(v1.ListEventsRequest.fromPartial({}), m, o, cb)),
  );
  return {
    child,
    address,
    client,
    /** `count` new events open for 30 days, "<title> 1" … */
    async createEvents(count: number, title: string) {
      const ids: number[] = [];
      const deadline = new Date(Date.now() + 30 * 86_400_000);
      for (let i = 1; i <= count; i++) {
        const request = { title: `${title} ${i}`, deadline };
        const { event } = await grpcCall<v1.CreateEventResponse>(ADMIN_TOKEN, (m, o, cb) =>
          client.createEvent(request, m, o, cb),
        );
        ids.push(event!.id);
      }
      return ids;
    },
    /** The events' aggregates, summed, through line-provider's public read (GetEvent). */
    async aggregates(ids: readonly number[]) {
      const sums = { count: 0, sum: 0 };
      for (const eventId of ids) {
        const { event } = await grpcCall<v1.GetEventResponse>(undefined, (m, o, cb) =>
          client.getEvent({ eventId }, m, o, cb),
        );
        sums.count += event?.scores?.count ?? 0;
        sums.sum += event?.scores?.sum ?? 0;
      }
      return sums;
    },
  };
}

/** Rate limits at the configuration's maxima: far above what 2 cores can send, so nothing is refused. */
export const UNLIMITED = { RATE_LIMIT_SCORES_PER_MINUTE: '1000000', RATE_LIMIT_READS_PER_MINUTE: '10000000' };

/** The score-maker API on `database`, ready (/readyz answers 200). */
export async function startApi(bench: Bench, database: string, lpAddress: string, nodeArgs?: string) {
  const port = await freePort();
  const child = service(bench, 'score-maker API', 'services/score-maker/src/main-api.ts', nodeArgs, {
    SCORE_MAKER_DATABASE_URL: bench.url(database),
    SCORE_MAKER_HTTP_HOST: '127.0.0.1',
    SCORE_MAKER_HTTP_PORT: String(port),
    LINE_PROVIDER_ADDRESS: lpAddress,
    JWT_SECRET,
    ...UNLIMITED,
  });
  const base = `http://127.0.0.1:${port}`;
  await waitForReadyz('score-maker API', child, base);
  return { child, port, base };
}

/** A score-maker worker on `database`, its ops port on `port` (not waited for: see waitForReadyz). */
export const startWorker = (
  bench: Bench,
  name: string,
  db: string,
  lp: string,
  port: number,
  nodeArgs?: string,
) =>
  service(bench, name, 'services/score-maker/src/main-worker.ts', nodeArgs, {
    SCORE_MAKER_DATABASE_URL: bench.url(db),
    LINE_PROVIDER_ADDRESS: lp,
    LINE_PROVIDER_INTERNAL_TOKEN: INTERNAL_TOKEN,
    WORKER_HTTP_HOST: '127.0.0.1',
    WORKER_HTTP_PORT: String(port),
  });

export const waitForReadyz = (name: string, child: ChildProcess, base: string) =>
  waitUntilReady(name, child, async () => {
    const res = await fetch(`${base}/readyz`);
    if (res.status !== 200) throw new Error(`GET /readyz: ${res.status} ${await res.text()}`);
  });

/** The outbox's NOTIFY trigger off (`--no-notify-trigger`): the relays find rows by polling only. */
export const disableNotify = (db: Database) => db.query('ALTER TABLE outbox DISABLE TRIGGER outbox_notify');
