/**
 * The score-maker REST API under load, with its references measured in the same run.
 *
 *   npm run bench:api -- [--seconds 15] [--connections 32] [--warmup 3] [--get-connections 50]
 *        [--events 100] [--users 10000] [--pool N] [--submit-batch N] [--no-notify-trigger] [--no-baseline] [--no-get]
 *        [--profile DIR] [--api-memory-redis]
 *
 * 1. Creates scoreline_bench_api_lp and scoreline_bench_api_sm on BENCH_DATABASE_URL's server (dropped
 *    and recreated at start, dropped at the end), starts line-provider and the score-maker API as child
 *    processes on them (Redis at BENCH_REDIS_URL under a key prefix of its own, deleted at the end).
 * 2. Creates events through line-provider's gRPC admin API and signs user tokens.
 * 3. POST /events/{id}/score with autocannon: random user, event and score per request.
 * 4. pg-baseline.sh at the same concurrency: the same durable work straight into PostgreSQL.
 * 5. GET /events (served from the API's memory) against a Fastify hello-world, same autocannon settings,
 *    and the same GET revalidated with If-None-Match (304s).
 * The last options are experiments: the API's pool size, its SUBMIT_BATCH_SIZE (1: a statement per score), the outbox NOTIFY trigger disabled on the bench
 * database, phases left out, a V8 CPU profile of the API process (written to DIR when it stops; open
 * it in Chrome DevTools), and the API on REDIS_URL=memory:// (in-process events cache and rate-limit
 * counters: what the two Redis round trips of a request cost). Not a test: it prints figures and ratios.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { Redis } from 'ioredis';
import { v1 } from '@scoreline/contracts';
import pg from 'pg';
import { env, loadConfig } from '@scoreline/platform';
import type autocannon from 'autocannon';
import { freePort, spawnNode, stopAllChildren, waitUntilReady } from './api-children.js';
import { describeCpu, sampleCpu, type CpuSample } from './api-cpu.js';
import { count, latency, rate, runLoad, statusCounts, stopLoad } from './api-load.js';
import { userTokens } from './user-tokens.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const LP_DB = 'scoreline_bench_api_lp';
const SM_DB = 'scoreline_bench_api_sm';
const ADMIN_TOKEN = 'bench-api-admin-token-0123456789';
const INTERNAL_TOKEN = 'bench-api-internal-token-0123456789';
const JWT_SECRET = 'bench-api-jwt-secret-0123456789-0123456789';
/** The configuration's maxima (config.ts): far above what 2 cores can send in a minute. */
const SCORES_PER_MINUTE = 1_000_000;
const READS_PER_MINUTE = 10_000_000;
/** From the issue: the API's write rate as a share of "the baseline", the explicit-transaction figure. */
const TARGET = 0.65;

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '15' },
    connections: { type: 'string', default: '32' },
    warmup: { type: 'string', default: '3' },
    'get-connections': { type: 'string', default: '50' },
    events: { type: 'string', default: '100' },
    users: { type: 'string', default: '10000' },
    pool: { type: 'string' },
    'submit-batch': { type: 'string' },
    'no-notify-trigger': { type: 'boolean', default: false },
    'no-baseline': { type: 'boolean', default: false },
    'no-get': { type: 'boolean', default: false },
    profile: { type: 'string' },
    'api-memory-redis': { type: 'boolean', default: false },
  },
});
const seconds = Number(args.seconds);
const connections = Number(args.connections);
const warmup = Number(args.warmup);
const getConnections = Number(args['get-connections']);
const eventCount = Number(args.events);
const userCount = Number(args.users);
const config = loadConfig({
  BENCH_DATABASE_URL: env.url(['postgres:', 'postgresql:'], 'postgres://postgres@127.0.0.1:5432/postgres'),
  BENCH_REDIS_URL: env.url(['redis:', 'rediss:'], 'redis://127.0.0.1:6379'),
  /** The physical-limit baseline script (prints baseline_tps and baseline_tx_tps). */
  PG_BASELINE_SCRIPT: env.string('/work/shared/bench/pg-baseline.sh'),
  /** Passed on to the children. */
  PATH: env.string('/usr/local/bin:/usr/bin:/bin'),
});
const redisPrefix = `scoreline-bench-api-${randomBytes(4).toString('hex')}`;
const cores = availableParallelism();

let adminDb: pg.Client | undefined;
let smDb: pg.Client | undefined;
let lpClient: v1.EventServiceClient | undefined;
let baselineChild: ChildProcess | undefined;
let cleaning: Promise<void> | undefined;
let interrupted = false;

/** Stops whatever was started; safe to call more than once (a signal during cleanup). */
function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    stopLoad();
    if (baselineChild?.pid !== undefined && baselineChild.exitCode === null) {
      // pg-baseline.sh runs in a process group of its own: end it and its pgbench.
      try {
        process.kill(-baselineChild.pid, 'SIGTERM');
      } catch {
        // already gone
      }
    }
    lpClient?.close();
    await stopAllChildren();
    await smDb?.end().catch(() => undefined);
    const redis = new Redis(config.BENCH_REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      await redis.connect();
      let cursor = '0';
      let deleted = 0;
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${redisPrefix}:*`, 'COUNT', 1000);
        cursor = next;
        if (keys.length > 0) deleted += await redis.del(...keys);
      } while (cursor !== '0');
      console.error(`cleanup: deleted ${deleted} Redis keys under ${redisPrefix}:`);
    } catch (error) {
      console.error(`cleanup: could not delete Redis keys ${redisPrefix}:* (${(error as Error).message})`);
    } finally {
      redis.disconnect();
    }
    for (const db of [LP_DB, SM_DB]) {
      await adminDb?.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`).catch(() => undefined);
    }
    await adminDb?.end().catch(() => undefined);
  })();
  return cleaning;
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    interrupted = true;
    console.error(`\n${signal}: stopping the servers, dropping ${LP_DB} and ${SM_DB}, deleting Redis keys`);
    void cleanup().finally(() => process.exit(130));
  });
}

/**
 * One connection held for the whole run (not a pool, whose idle connection would be closed and, on a
 * shared server near max_connections, might not come back).
 */
async function connect(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, application_name: 'bench-api' });
  client.on('error', (error) => console.error(`bench connection: ${error.message}`));
  await client.connect();
  return client;
}

function withDatabase(url: string, name: string) {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.href;
}

/** pg-baseline.sh <clients> <seconds>: "baseline_tps N clients C" and "baseline_tx_tps N clients C". */
async function pgBaseline(): Promise<{ tps: number; txTps: number } | string> {
  if (!existsSync(config.PG_BASELINE_SCRIPT)) return `not run: ${config.PG_BASELINE_SCRIPT} not found`;
  const admin = new URL(config.BENCH_DATABASE_URL);
  const child = spawn('bash', [config.PG_BASELINE_SCRIPT, String(connections), String(seconds)], {
    env: {
      PATH: config.PATH,
      PGHOST: admin.hostname,
      PGPORT: admin.port || '5432',
      PGUSER: decodeURIComponent(admin.username) || 'postgres',
      ...(admin.password && { PGPASSWORD: decodeURIComponent(admin.password) }),
    },
    stdio: ['ignore', 'pipe', 2],
    detached: true,
  });
  baselineChild = child;
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  const [code] = (await once(child, 'exit')) as [number | null];
  baselineChild = undefined;
  const tps = /baseline_tps (\d+)/.exec(out)?.[1];
  const txTps = /baseline_tx_tps (\d+)/.exec(out)?.[1];
  if (code !== 0 || !tps || !txTps) return `failed (exit ${code}): ${out.trim() || 'no output'}`;
  return { tps: Number(tps), txTps: Number(txTps) };
}

/**
 * CPU time per answered request of each named process, and of every postgres and redis-server process
 * together (all databases: on a shared machine this includes others' work). /proc ticks are 10 ms.
 */
function cpuPerRequest(
  before: CpuSample,
  after: CpuSample,
  pids: Record<string, number | undefined>,
  requests: number,
): string {
  const seconds = (include: (pid: number, comm: string) => boolean) => {
    let ticks = 0;
    for (const [pid, now] of after.processes) {
      if (!include(pid, now.comm)) continue;
      const then = before.processes.get(pid);
      ticks += then && then.start === now.start ? now.ticks - then.ticks : now.ticks;
    }
    return ticks / 100;
  };
  const us = (s: number) => `${Math.round((s / Math.max(1, requests)) * 1e6)} µs`;
  const parts = Object.entries(pids).map(([name, pid]) => `${name} ${us(seconds((p) => p === pid))}`);
  parts.push(`postgres ${us(seconds((_, comm) => comm === 'postgres'))}`);
  parts.push(`redis ${us(seconds((_, comm) => comm === 'redis-server'))}`);
  parts.push(`autocannon ${us(seconds((p) => p === process.pid))}`);
  return parts.join(', ');
}

/** A warm-up run (results kept for the row counts), then the measured run with CPU sampled around it. */
async function phase(
  options: autocannon.Options,
  pids: Record<string, number | undefined>,
): Promise<{
  warm: autocannon.Result | undefined;
  result: autocannon.Result;
  cpu: string;
  perRequest: string;
  other: number;
}> {
  const warm = warmup > 0 ? await runLoad({ ...options, duration: warmup }) : undefined;
  const before: CpuSample = sampleCpu();
  const result = await runLoad({ ...options, duration: seconds });
  const after = sampleCpu();
  const cpu = describeCpu(before, after, pids, cores, [LP_DB, SM_DB]);
  const perRequest = cpuPerRequest(before, after, pids, answered(result));
  return { warm, result, cpu: cpu.text, perRequest, other: cpu.other };
}

const answered = (r: autocannon.Result) =>
  Object.values(r.statusCodeStats).reduce((sum, { count: n }) => sum + Number(n), 0);

function problems(r: autocannon.Result): string {
  const parts = [];
  if (r.non2xx > 0) parts.push(`non-2xx by status: ${statusCounts(r)}`);
  if (r.errors > 0) parts.push(`connection errors ${r.errors} (timeouts ${r.timeouts})`);
  return parts.join('; ');
}

const fmt = (n: number) => Math.round(n).toString().padStart(6);

async function main() {
  const numbers = [seconds, connections, warmup, getConnections, eventCount, userCount];
  if (!numbers.every((n) => Number.isInteger(n) && n >= 0) || !seconds || !connections || !eventCount) {
    throw new Error(
      '--seconds, --connections, --warmup, --get-connections, --events, --users take whole numbers',
    );
  }
  if (userCount < 1 || getConnections < 1)
    throw new Error('--users and --get-connections must be at least 1');
  adminDb = await connect(config.BENCH_DATABASE_URL);
  for (const db of [LP_DB, SM_DB]) {
    await adminDb.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
    await adminDb.query(`CREATE DATABASE ${db}`);
  }
  const { rows: versionRows } = await adminDb.query<{ server_version: string }>('SHOW server_version');
  const pgVersion = versionRows[0]!.server_version.split(' ')[0]!;
  const redisInfo = new Redis(config.BENCH_REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  let redisVersion = '?';
  try {
    await redisInfo.connect();
    redisVersion = /redis_version:(\S+)/.exec(await redisInfo.info('server'))?.[1] ?? '?';
  } finally {
    redisInfo.disconnect();
  }

  const [lpPort, apiPort, helloPort] = [await freePort(), await freePort(), await freePort()];
  const common = {
    PATH: config.PATH,
    REDIS_URL: config.BENCH_REDIS_URL,
    REDIS_PREFIX: redisPrefix,
    LOG_LEVEL: 'warn',
  };
  const lp = spawnNode(
    'line-provider',
    ['--import', 'tsx', 'services/line-provider/src/main.ts'],
    {
      ...common,
      LINE_PROVIDER_DATABASE_URL: withDatabase(config.BENCH_DATABASE_URL, LP_DB),
      LINE_PROVIDER_GRPC_HOST: '127.0.0.1',
      LINE_PROVIDER_GRPC_PORT: String(lpPort),
      LINE_PROVIDER_HTTP_PORT: '0',
      LINE_PROVIDER_ADMIN_TOKEN: ADMIN_TOKEN,
      LINE_PROVIDER_INTERNAL_TOKEN: INTERNAL_TOKEN,
    },
    ROOT,
  );
  const api = spawnNode(
    'score-maker API',
    [
      ...(args.profile ? ['--cpu-prof', `--cpu-prof-dir=${args.profile}`] : []),
      '--import',
      'tsx',
      'services/score-maker/src/main-api.ts',
    ],
    {
      ...common,
      SCORE_MAKER_DATABASE_URL: withDatabase(config.BENCH_DATABASE_URL, SM_DB),
      SCORE_MAKER_HTTP_HOST: '127.0.0.1',
      SCORE_MAKER_HTTP_PORT: String(apiPort),
      LINE_PROVIDER_ADDRESS: `127.0.0.1:${lpPort}`,
      JWT_SECRET,
      RATE_LIMIT_SCORES_PER_MINUTE: String(SCORES_PER_MINUTE),
      RATE_LIMIT_READS_PER_MINUTE: String(READS_PER_MINUTE),
      ...(args.pool && { SCORE_MAKER_DATABASE_POOL_SIZE: args.pool }),
      ...(args['submit-batch'] && { SUBMIT_BATCH_SIZE: args['submit-batch'] }),
      ...(args['api-memory-redis'] && { REDIS_URL: 'memory://' }),
    },
    ROOT,
  );
  const hello = args['no-get']
    ? undefined
    : spawnNode(
        'hello-world',
        ['--import', 'tsx', 'bench/api-hello.ts', String(helloPort)],
        { PATH: config.PATH },
        ROOT,
      );
  const base = `http://127.0.0.1:${apiPort}`;

  await waitUntilReady('score-maker API', api, async () => {
    if (lp.exitCode !== null || lp.signalCode !== null)
      throw new Error('line-provider exited; see its output above');
    const res = await fetch(`${base}/readyz`);
    if (res.status !== 200) throw new Error(`GET /readyz: ${res.status} ${await res.text()}`);
  });
  if (hello) {
    await waitUntilReady('hello-world', hello, async () => {
      if (!(await fetch(`http://127.0.0.1:${helloPort}/`)).ok) throw new Error('not 200');
    });
  }
  smDb = await connect(withDatabase(config.BENCH_DATABASE_URL, SM_DB));
  if (args['no-notify-trigger']) await smDb.query('ALTER TABLE outbox DISABLE TRIGGER outbox_notify');

  // Events, through line-provider's admin API.
  lpClient = new v1.EventServiceClient(`127.0.0.1:${lpPort}`, grpc.credentials.createInsecure());
  const client = lpClient;
  const metadata = new grpc.Metadata();
  metadata.set('authorization', `Bearer ${ADMIN_TOKEN}`);
  const eventIds: number[] = [];
  for (let i = 0; i < eventCount; i++) {
    const request = v1.CreateEventRequest.fromPartial({
      title: `Bench event ${i + 1}`,
      deadline: new Date(Date.now() + 30 * 86_400_000),
    });
    const response = await new Promise<v1.CreateEventResponse>((resolve, reject) =>
      client.createEvent(request, metadata, { deadline: Date.now() + 10_000 }, (error, res) =>
        error ? reject(error) : resolve(res),
      ),
    );
    eventIds.push(response.event!.id);
  }

  // User tokens, as an identity provider would issue them.
  const tokens = await userTokens(JWT_SECRET, userCount, 'u');
  const pick = <T>(list: readonly T[]) => list[Math.floor(Math.random() * list.length)]!;

  // 3. POST /events/{id}/score.
  const post = await phase(
    {
      url: base,
      connections,
      timeout: 10,
      requests: [
        {
          method: 'POST',
          setupRequest: (request) => ({
            ...request,
            method: 'POST',
            path: `/events/${pick(eventIds)}/score`,
            headers: { authorization: pick(tokens), 'content-type': 'application/json' },
            body: `{"score":${1 + Math.floor(Math.random() * 5)}}`,
          }),
        },
      ],
    },
    { 'score-maker API': api.pid, 'line-provider': lp.pid },
  );
  // Requests in flight when autocannon stopped are answered to nobody but may still commit.
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const { rows: countRows } = await smDb.query<{ scores: number; outbox: number }>(
    'SELECT (SELECT count(*) FROM scores)::int AS scores, (SELECT count(*) FROM outbox)::int AS outbox',
  );
  const rowCounts = countRows[0]!;
  const runs = [post.warm, post.result].filter((r): r is autocannon.Result => r !== undefined);
  const accepted = runs.reduce((sum, r) => sum + count(r, 202), 0);
  const unanswered = runs.reduce((sum, r) => sum + Math.max(0, r.requests.sent - answered(r)), 0);
  const outboxOk =
    rowCounts.outbox === accepted
      ? 'ok'
      : rowCounts.outbox > accepted && rowCounts.outbox <= accepted + unanswered
        ? `ok (+${rowCounts.outbox - accepted} from requests in flight at a stop)`
        : 'MISMATCH';

  // 4. The physical-limit baseline, same concurrency and duration.
  const baseline = args['no-baseline'] ? 'not run (--no-baseline)' : await pgBaseline();

  // 5. GET /events (the cache) against Fastify's hello-world.
  let get: Awaited<ReturnType<typeof phase>> | undefined;
  let helloPhase: Awaited<ReturnType<typeof phase>> | undefined;
  let revalidate: Awaited<ReturnType<typeof phase>> | undefined;
  let firstPage = 0;
  if (hello) {
    const first = await fetch(`${base}/events`);
    const page = (await first.json()) as { events?: unknown[] };
    firstPage = page.events?.length ?? 0;
    const etag = first.headers.get('etag') ?? '';
    get = await phase(
      { url: `${base}/events`, connections: getConnections, timeout: 10 },
      {
        'score-maker API': api.pid,
        'line-provider': lp.pid,
      },
    );
    // Revalidations with the ETag just read: 304 while the page is unchanged (no scores flow now).
    revalidate = await phase(
      {
        url: `${base}/events`,
        connections: getConnections,
        timeout: 10,
        headers: { 'if-none-match': etag },
      },
      { 'score-maker API': api.pid, 'line-provider': lp.pid },
    );
    helloPhase = await phase(
      { url: `http://127.0.0.1:${helloPort}/`, connections: getConnections, timeout: 10 },
      {
        'hello-world': hello.pid,
      },
    );
  }

  // Summary.
  const postRate = rate(post.result);
  const postLat = latency(post.result);
  const experiments = [
    args.pool ? `SCORE_MAKER_DATABASE_POOL_SIZE=${args.pool}` : undefined,
    args['submit-batch'] ? `SUBMIT_BATCH_SIZE=${args['submit-batch']}` : undefined,
    args['no-notify-trigger'] ? 'outbox NOTIFY trigger DISABLED on the bench database' : undefined,
    args.profile ? `API under --cpu-prof (profile in ${args.profile}; slower than without)` : undefined,
    args['api-memory-redis']
      ? 'API on REDIS_URL=memory:// (in-process events cache and rate-limit counters; not a production setup)'
      : undefined,
  ].filter(Boolean);
  const lines = [
    `score-maker API benchmark (${cores} cores; PostgreSQL ${pgVersion}; Redis ${redisVersion}; ${connections} connections; ${seconds} s each after ${warmup} s warm-up)`,
    `POST /events/{id}/score   ${fmt(postRate)} req/s  p50 ${postLat.p50}  p99 ${postLat.p99}   non-2xx ${post.result.non2xx}   outbox rows = 202s: ${outboxOk}`,
  ];
  let belowTarget = false;
  if (typeof baseline === 'string') {
    lines.push(`pg baseline: ${baseline}`);
  } else {
    const ratioTx = postRate / baseline.txTps;
    belowTarget = ratioTx < TARGET;
    lines.push(
      `pg baseline (one statement) ${fmt(baseline.tps)} tps     ratio ${(postRate / baseline.tps).toFixed(2)}`,
      `pg baseline (transaction)   ${fmt(baseline.txTps)} tps     ratio ${ratioTx.toFixed(2)}  (target >= ${TARGET.toFixed(2)}${belowTarget ? ': BELOW TARGET' : ': met'})`,
    );
  }
  if (get && helloPhase) {
    const getLat = latency(get.result);
    const helloLat = latency(helloPhase.result);
    lines.push(
      `GET /events (cache)       ${fmt(rate(get.result))} req/s  p50 ${getLat.p50}  p99 ${getLat.p99}   non-2xx ${get.result.non2xx}  (${getConnections} connections)`,
      `Fastify hello-world       ${fmt(rate(helloPhase.result))} req/s  p50 ${helloLat.p50}  p99 ${helloLat.p99}   ratio ${(rate(get.result) / rate(helloPhase.result)).toFixed(2)}`,
    );
    if (revalidate) {
      const revalidateLat = latency(revalidate.result);
      const notModified = count(revalidate.result, 304);
      const total = answered(revalidate.result);
      lines.push(
        `GET /events → 304         ${fmt(total / seconds)} req/s  p50 ${revalidateLat.p50}  p99 ${revalidateLat.p99}   304s ${notModified} of ${total}   ratio to hello-world ${(total / seconds / rate(helloPhase.result)).toFixed(2)}`,
      );
    }
  }
  lines.push(
    '',
    `setup: line-provider and the score-maker API in child processes (LOG_LEVEL=warn) on databases ${LP_DB} and ${SM_DB}, Redis key prefix ${redisPrefix}; autocannon in this process`,
    `rate limiter: still registered (${args['api-memory-redis'] ? 'in-process counters' : 'counted in process, added to Redis in batches'}) but set to the configuration's maxima, RATE_LIMIT_SCORES_PER_MINUTE=${SCORES_PER_MINUTE} and RATE_LIMIT_READS_PER_MINUTE=${READS_PER_MINUTE}, so it refuses nothing`,
    `POST mix: each request a random one of ${userCount} users (HS256 JWT), a random one of ${eventCount} events, score 1-5, no Idempotency-Key (the one-statement path); the warm-up also fills the event cache`,
    `ratios: the API's req/s over pgbench's tps at ${connections} clients for ${seconds} s; "one statement" is the physical limit, the target (${TARGET}) is against "the baseline" of the issue, the explicit-transaction figure`,
    `rows after the POST phase: scores ${rowCounts.scores}, outbox ${rowCounts.outbox}; 202s received ${accepted} (warm-up included), requests unanswered at a stop ${unanswered}`,
  );
  if (experiments.length) lines.push(`experiment: ${experiments.join('; ')}`);
  if (problems(post.result)) lines.push(`POST problems: ${problems(post.result)}`);
  if (post.warm && problems(post.warm)) lines.push(`POST warm-up problems: ${problems(post.warm)}`);
  lines.push(`CPU, POST phase: ${post.cpu}  (% of one core)`);
  lines.push(`CPU per request, POST: ${post.perRequest}`);
  if (get && helloPhase) {
    if (problems(get.result)) lines.push(`GET problems: ${problems(get.result)}`);
    lines.push(
      `GET /events: default listing (open events, limit 50: ${firstPage} events a page), served from the API's memory (serialised page, refilled from the Redis page cache every EVENTS_LOCAL_TTL or on an invalidation)`,
      `CPU, GET phase:   ${get.cpu}`,
      `CPU, hello phase: ${helloPhase.cpu}`,
      `CPU per request, GET:   ${get.perRequest}`,
      `CPU per request, hello: ${helloPhase.perRequest}`,
    );
    if (revalidate) {
      lines.push(`CPU, 304 phase:   ${revalidate.cpu}`, `CPU per request, 304:   ${revalidate.perRequest}`);
    }
  }
  const busiest = Math.max(post.other, get?.other ?? 0, revalidate?.other ?? 0, helloPhase?.other ?? 0);
  if (busiest > 0.25) {
    lines.push(
      `WARNING: other (or ended) processes used up to ${Math.round(busiest * 100)}% of a core during a phase: a shared machine; these figures understate`,
    );
  }
  console.log(lines.join('\n'));
  if (outboxOk === 'MISMATCH' || post.result.non2xx > 0) process.exitCode = 1;
}

try {
  await main();
} catch (error) {
  // After Ctrl-C the run fails as its servers stop: that is no news.
  if (!interrupted) {
    console.error(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  }
  process.exitCode = 1;
} finally {
  await cleanup();
}
