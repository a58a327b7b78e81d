/**
 * The saga end to end: under a steady open-loop load (the time from 202 to CONFIRMED, the confirmed
 * scores a second the system sustains without a growing backlog, the outbox lag), and draining a
 * backlog (settled/s and CPU per score, against pgbench's explicit-transaction baseline).
 *
 *   npm run bench:saga -- [--mode open-loop|drain|hot|all] [--workers 1] [--events 50]
 *        [--rate 500] [--seconds 20] [--warmup 5] [--users 5000] [--poll-ms 0]
 *        [--ramp 1000,1500,2000,2500] [--step-seconds 8] [--refine 2] [--no-ramp]
 *        [--drain-scores 10000] [--drain-timeout 600] [--baseline-clients 32] [--baseline-seconds 10]
 *        [--no-baseline] [--set KEY=VALUE ...] [--no-notify-trigger] [--no-score-events]
 *
 * Modes: `open-loop` (the default, as before: steps 3-5 below), `drain` (the baseline and the
 * spread-out drain, step 6), `hot` (the same plus the hot-event drain), `all` (the drains, then the
 * open-loop run). The open-loop run stays the default because it answers the latency question on its
 * own in about three minutes; `all` takes several more (two drains of 10,000 scores and the baseline).
 *
 * 1. Creates scoreline_bench_saga_lp and scoreline_bench_saga_sm on BENCH_DATABASE_URL's server
 *    (dropped and recreated at start, dropped at the end) and starts line-provider and the score-maker
 *    API as child processes, each configured as in a deployment on this machine (Redis at
 *    BENCH_REDIS_URL under a key prefix of its own, deleted at the end). `--workers` score-maker workers
 *    are started for the open-loop run (ready when their /readyz answers 200), and for each drain once
 *    its backlog is in. Everything goes through the children's documented settings, the API, gRPC and
 *    the databases, never through their code, so it measures whichever worker the checkout has.
 * 2. Creates events through line-provider's gRPC admin API and signs user tokens (each part its own).
 * 3. Open-loop load (saga-load.ts): POST /events/{id}/score at `--rate` a second for `--seconds`, after a
 *    `--warmup` at the same rate; random user, event and score. Every 202's (score id, version) is
 *    looked up in the database once the phase has settled (saga-watch.ts), never over the API;
 *    `--poll-ms N` also polls the scores in flight every N ms during the load, as a cross-check.
 * 4. The stage breakdown of that phase (saga-stages.ts).
 * 5. A ramp: `--ramp` rates for `--step-seconds` each, the backlog drained between steps; rates above
 *    one not sustained are skipped (the first step always runs), then `--refine` steps bisect between
 *    the highest rate sustained (the fixed phase counts) and the lowest not.
 * 6. Drains (saga-drain.ts), each after a CHECKPOINT: `--drain-scores` submissions over `--events` new events, one per new user,
 *    with no worker running; once the outbox holds them all, the workers start, and the drain reports
 *    settled/s from the first settlement to the last (scores.updated_at), CPU ms per score by process
 *    (/proc for PostgreSQL's processes, line-provider, the workers, the API and the machine; INFO cpu
 *    for Redis) and line-provider's aggregates against the CONFIRMED scores. `hot` and `all` repeat it
 *    with every score on one new event. Printed beside the targets: drain settled/s >= 0.40 x baseline
 *    tps, <= 0.6 ms of machine CPU per score, hot/spread >= 0.8. Last, the explicit-transaction case of
 *    ../shared/bench/pg-baseline.sh alone for `--baseline-seconds` at `--baseline-clients`
 *    (saga-baseline.ts; PG_BASELINE_SCRIPT points elsewhere), so that its WAL and dead rows stay out
 *    of the drains.
 * Experiments: `--set KEY=VALUE` passes a setting to every child (WORKER_CONCURRENCY,
 * OUTBOX_POLL_INTERVAL, pool sizes, …); `--no-notify-trigger` disables the outbox's NOTIFY trigger on
 * both bench databases (the relays then find rows by polling only: pair it with a short
 * OUTBOX_POLL_INTERVAL); `--no-score-events` makes line-provider's bench database drop the EventChanged
 * rows that ApplyScore/RevertScore write (a trigger; events cache invalidations by score stop), to
 * measure what those messages cost.
 * The machine is shared with other work: figures move from run to run; compare ratios within one run.
 * Not a test: it prints figures.
 */
import http from 'node:http';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';
import type { ChildProcess } from 'node:child_process';
import * as grpc from '@grpc/grpc-js';
import { Redis } from 'ioredis';
import { EVENT_CHANGED_TOPIC, v1 } from '@scoreline/contracts';
import {
  env,
  loadConfig,
  openBroker,
  openDatabase,
  silentLogger,
  type Broker,
  type Database,
} from '@scoreline/platform';
import { explicitTransactionBaseline, stopBaseline } from './saga-baseline.js';
import { freePort, spawnNode, stopAllChildren, stopChild, waitUntilReady } from './saga-children.js';
import { cpuSeconds, describeCpu, sampleCpu } from './saga-cpu.js';
import { runDrain, stopDrain } from './saga-drain.js';
import { runOpenLoop, stopSending, type LoadResult, type LoadTarget } from './saga-load.js';
import { stageBreakdown } from './saga-stages.js';
import { describeWork, snapshotWork } from './saga-work.js';
import { describe, int, ms, slope, summarize } from './saga-stats.js';
import {
  startSampler,
  startSettleTracker,
  type Sample,
  type Sampler,
  type SettleTracker,
} from './saga-watch.js';
import { userTokens } from './user-tokens.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const LP_DB = 'scoreline_bench_saga_lp';
const SM_DB = 'scoreline_bench_saga_sm';
const BASELINE_DB = 'scoreline_bench_saga_baseline';
const ADMIN_TOKEN = 'bench-saga-admin-token-0123456789';
const INTERNAL_TOKEN = 'bench-saga-internal-token-0123456789';
const JWT_SECRET = 'bench-saga-jwt-secret-0123456789-0123456789';
/** services/score-maker/src/domain/score.ts: the ApplyScore queue's name (EventChanged's is in the contracts). */
const APPLY_TOPIC = 'score-maker.apply-score';
/** From the issue. */
const TARGET_P99_MS = 50;
const TARGET_P99_RATE = 500;
const TARGET_SUSTAINED = 2000;
/** A drain's settled/s at least this share of pgbench's explicit-transaction tps. */
const TARGET_DRAIN_RATIO = 0.4;
/** The whole machine's CPU per settled score in a drain (ms). */
const TARGET_MACHINE_MS_PER_SCORE = 0.6;
/** The hot-event drain's rate at least this share of the spread-out drain's. */
const TARGET_HOT_RATIO = 0.8;
const MODES = ['open-loop', 'drain', 'hot', 'all'] as const;
/** A backlog that grows by more than this share of the offered rate each second is "growing". */
const GROWTH_THRESHOLD = 0.05;

const { values: args } = parseArgs({
  options: {
    rate: { type: 'string', default: '500' },
    seconds: { type: 'string', default: '20' },
    workers: { type: 'string', default: '1' },
    warmup: { type: 'string', default: '5' },
    events: { type: 'string', default: '50' },
    users: { type: 'string', default: '5000' },
    'poll-ms': { type: 'string', default: '0' },
    ramp: { type: 'string', default: '1000,1500,2000,2500' },
    'step-seconds': { type: 'string', default: '8' },
    refine: { type: 'string', default: '2' },
    'no-ramp': { type: 'boolean', default: false },
    'no-notify-trigger': { type: 'boolean', default: false },
    'no-score-events': { type: 'boolean', default: false },
    set: { type: 'string', multiple: true, default: [] },
    mode: { type: 'string', default: 'open-loop' },
    'drain-scores': { type: 'string', default: '10000' },
    'drain-timeout': { type: 'string', default: '600' },
    'baseline-clients': { type: 'string', default: '32' },
    'baseline-seconds': { type: 'string', default: '10' },
    'no-baseline': { type: 'boolean', default: false },
  },
});
const mode = args.mode as (typeof MODES)[number];
if (!MODES.includes(mode)) throw new Error(`--mode takes ${MODES.join(', ')}, not ${args.mode}`);
const runsDrains = mode !== 'open-loop';
const runsOpenLoop = mode === 'open-loop' || mode === 'all';
const drainScores = Number(args['drain-scores']);
const drainTimeout = Number(args['drain-timeout']);
const baselineClients = Number(args['baseline-clients']);
const baselineSeconds = Number(args['baseline-seconds']);
const rate = Number(args.rate);
const seconds = Number(args.seconds);
const workerCount = Number(args.workers);
const warmup = Number(args.warmup);
const eventCount = Number(args.events);
const userCount = Number(args.users);
const pollMs = Number(args['poll-ms']);
const stepSeconds = Number(args['step-seconds']);
const refine = Number(args.refine);
const rampRates = args['no-ramp'] ? [] : args.ramp.split(',').map((r) => Number(r.trim()));
const overrides: Record<string, string> = {};
for (const pair of args.set) {
  const at = pair.indexOf('=');
  if (at < 1) throw new Error(`--set takes KEY=VALUE, not ${pair}`);
  overrides[pair.slice(0, at)] = pair.slice(at + 1);
}
const config = loadConfig({
  BENCH_DATABASE_URL: env.url(['postgres:', 'postgresql:'], 'postgres://postgres@127.0.0.1:5432/postgres'),
  BENCH_REDIS_URL: env.url(['redis:', 'rediss:'], 'redis://127.0.0.1:6379'),
  /** The physical-limit baseline script; the drains run its explicit-transaction case (the files beside it). */
  PG_BASELINE_SCRIPT: env.string(join(ROOT, '..', 'shared', 'bench', 'pg-baseline.sh')),
  /** Passed on to the children. */
  PATH: env.string('/usr/local/bin:/usr/bin:/bin'),
});
const redisPrefix = `scoreline-bench-saga-${randomBytes(4).toString('hex')}`;
const cores = availableParallelism();

let adminDb: Database | undefined;
const opened: Database[] = [];
let redis: Redis | undefined;
/** The platform's broker on the children's Redis prefix: queue depths, whatever it keeps in Redis. */
let broker: Broker | undefined;
let lpClient: v1.EventServiceClient | undefined;
let tracker: SettleTracker | undefined;
let sampler: Sampler | undefined;
let agent: http.Agent | undefined;
let cleaning: Promise<void> | undefined;

/** Stops whatever was started; safe to call more than once (a signal during cleanup). */
function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    stopSending();
    stopDrain();
    stopBaseline();
    await tracker?.stop().catch(() => undefined);
    await sampler?.stop().catch(() => undefined);
    agent?.destroy();
    lpClient?.close();
    await broker?.close().catch(() => undefined);
    await stopAllChildren();
    for (const db of opened) await db.close().catch(() => undefined);
    const keys = redis ?? new Redis(config.BENCH_REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      if (keys.status !== 'ready') await keys.connect();
      let cursor = '0';
      let deleted = 0;
      do {
        const [next, found] = await keys.scan(cursor, 'MATCH', `${redisPrefix}:*`, 'COUNT', 1000);
        cursor = next;
        if (found.length > 0) deleted += await keys.del(...found);
      } while (cursor !== '0');
      console.error(`cleanup: deleted ${deleted} Redis keys under ${redisPrefix}:`);
    } catch (error) {
      console.error(`cleanup: could not delete Redis keys ${redisPrefix}:* (${(error as Error).message})`);
    } finally {
      keys.disconnect();
    }
    for (const db of [LP_DB, SM_DB, BASELINE_DB]) {
      await adminDb?.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`).catch(() => undefined);
    }
    await adminDb?.close().catch(() => undefined);
  })();
  return cleaning;
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.error(
      `\n${signal}: stopping the load and the servers, dropping ${LP_DB} and ${SM_DB}, deleting Redis keys`,
    );
    void cleanup().finally(() => process.exit(130));
  });
}

function withDatabase(url: string, name: string) {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.href;
}

const sleep = (msec: number) => new Promise((resolve) => setTimeout(resolve, msec));

interface PhaseFigures {
  load: LoadResult;
  lines: string[];
  /** Settled a second over the sending window (less its first second). */
  confirmedPerSecond: number;
  growing: boolean;
  /** The EventChanged queue (line-provider → score-maker) grew. */
  ecGrowing: boolean;
  trendPerSecond: number;
  p50: number;
  p99: number;
  pendingFirst: number;
  pendingLast: number;
  pendingMax: number;
  smLagMaxMs: number;
  lpLagMaxMs: number;
  drained: boolean;
  cpu: string;
}

/** The figures of one phase, from its load result, the tracked scores and the samples. */
function figures(
  name: string,
  load: LoadResult,
  samples: readonly Sample[],
  drained: boolean,
  cpu: string,
): PhaseFigures {
  const entries = tracker!.all.filter((e) => e.phase === name);
  const settled = entries.filter((e) => e.settledAt !== undefined);
  const replaced = entries.filter((e) => e.replaced).length;
  const unsettled = entries.length - settled.length - replaced;
  const confirmed = settled.filter((e) => e.status === 'CONFIRMED').length;
  const dbLatency = summarize(settled.map((e) => Math.max(0, e.settledAt! - e.acceptedAt)));
  const settledEarly = settled.filter((e) => e.settledAt! < e.acceptedAt).length;
  const seen = settled.filter((e) => e.observedAt !== undefined);
  const polled = summarize(seen.map((e) => e.observedAt! - e.acceptedAt));
  const accept = summarize(load.acceptLatency);

  // Settles (of any phase) per second of the sending window, by the database's settle time.
  const allSettled = tracker!.all.filter((e) => e.settledAt !== undefined);
  const buckets = new Array<number>(Math.ceil(load.seconds)).fill(0);
  for (const e of allSettled) {
    const i = Math.floor((e.settledAt! - load.startedAt) / 1000);
    if (i >= 0 && i < buckets.length) buckets[i]!++;
  }
  const steady = buckets.length > 2 ? buckets.slice(1) : buckets;
  const confirmedPerSecond = steady.reduce((a, b) => a + b, 0) / steady.length;

  const during = samples.filter((s) => s.phase === name);
  const pending = during.map((s) => s.pending);
  const trend = slope(during.slice(1).map((s) => ({ x: (s.at - load.startedAt) / 1000, y: s.pending })));
  const growing = trend > Math.max(10, GROWTH_THRESHOLD * load.rate);
  const eventChanged = during.map((s) => s.eventChangedWaiting);
  const ecTrend = slope(
    during.slice(1).map((s) => ({ x: (s.at - load.startedAt) / 1000, y: s.eventChangedWaiting })),
  );
  const ecGrowing = ecTrend > Math.max(10, GROWTH_THRESHOLD * load.rate);
  const lag = (pick: (s: Sample) => { rows: number; ageS: number }) => {
    const rows = during.map((s) => pick(s).rows);
    const ages = during.map((s) => pick(s).ageS * 1000);
    const avg = (list: number[]) =>
      list.length ? list.reduce((a, b) => a + b, 0) / list.length : Number.NaN;
    return {
      text: `unpublished rows max ${int(Math.max(...rows))} avg ${avg(rows).toFixed(1)}; oldest unpublished max ${ms(Math.max(...ages))} avg ${ms(avg(ages))}`,
      maxMs: Math.max(...ages),
    };
  };
  const smLag = lag((s) => s.smOutbox);
  const lpLag = lag((s) => s.lpOutbox);
  const refused = [...load.refused].map(([k, v]) => `${k}: ${v}`).join(', ') || 'none';
  const sentRate = load.sent / load.seconds;

  const lines = [
    `  submissions sent ${load.sent} (${sentRate.toFixed(1)}/s; the generator fell at most ${ms(load.maxBehindMs)} behind its schedule, event-loop delay p99 ${ms(load.loopDelayP99Ms)}), 202s ${load.accepted}, non-202 by status: ${refused}${load.unanswered ? `, unanswered ${load.unanswered}` : ''}`,
    `  settled ${settled.length}: CONFIRMED ${confirmed}, REJECTED ${settled.length - confirmed}; left out because the same user scored that event again before the settle time was read ${replaced}; unsettled ${unsettled}${drained ? '' : ' (drain timed out)'}`,
    `  202 -> settled (database clock):       ${describe(dbLatency)}${settledEarly ? `; ${settledEarly} settled before their 202 arrived, counted as 0` : ''}`,
    ...(seen.length ? [`  202 -> settled (first poll that saw it): ${describe(polled)}`] : []),
    `  due -> 202 (the API, open loop):        ${describe(accept)}`,
    `  settled/s over the window (first second left out): ${confirmedPerSecond.toFixed(1)}; by second: ${buckets.join(' ')}`,
    `  PENDING sagas, sampled each second: ${pending.join(' ') || 'n/a'}; max ${int(Math.max(...pending))}, last ${int(pending[pending.length - 1] ?? Number.NaN)}, trend ${trend >= 0 ? '+' : ''}${trend.toFixed(1)}/s: ${growing ? 'GROWING' : 'not growing'}`,
    `  outbox lag, score-maker:   ${smLag.text}`,
    `  outbox lag, line-provider: ${lpLag.text}`,
    `  queues (waiting or delayed, not in flight): ApplyScore max ${int(Math.max(...during.map((s) => s.applyWaiting)))}; EventChanged (score-maker's cache invalidations) max ${int(Math.max(...eventChanged))}, last ${int(eventChanged[eventChanged.length - 1] ?? Number.NaN)}, trend ${ecTrend >= 0 ? '+' : ''}${ecTrend.toFixed(1)}/s: ${ecGrowing ? 'GROWING' : 'not growing'}`,
    `  CPU (% of one core, from the first request until the last saga settled): ${cpu}`,
  ];
  return {
    load,
    lines,
    confirmedPerSecond,
    growing,
    ecGrowing,
    trendPerSecond: trend,
    p50: dbLatency.p50,
    p99: dbLatency.p99,
    pendingFirst: pending[0] ?? Number.NaN,
    pendingLast: pending[pending.length - 1] ?? Number.NaN,
    pendingMax: Math.max(...pending),
    smLagMaxMs: smLag.maxMs,
    lpLagMaxMs: lpLag.maxMs,
    drained,
    cpu,
  };
}

/**
 * Whether a phase at `r` a second was sustained: neither the sagas in flight nor the EventChanged queue
 * grew, 95% of the rate settled, the generator kept to its schedule.
 */
function verdictOf(r: number, load: LoadResult, g: PhaseFigures) {
  const generatorKept = load.sent / load.seconds >= 0.98 * r && load.maxBehindMs < 100;
  const sustained =
    generatorKept &&
    !g.growing &&
    !g.ecGrowing &&
    g.confirmedPerSecond >= 0.95 * r &&
    load.accepted >= 0.99 * load.sent;
  const verdict = !generatorKept
    ? `generator could not keep up (${ms(load.maxBehindMs)} behind)`
    : sustained
      ? 'sustained'
      : g.growing
        ? 'backlog GROWING'
        : g.ecGrowing
          ? 'EventChanged backlog GROWING'
          : 'NOT sustained (settled under 95% of the rate, or refusals)';
  return { generatorKept, sustained, verdict };
}

async function main() {
  const numbers = [
    rate,
    seconds,
    workerCount,
    warmup,
    eventCount,
    userCount,
    pollMs,
    stepSeconds,
    refine,
    ...rampRates,
    drainScores,
    drainTimeout,
    baselineClients,
    baselineSeconds,
  ];
  if (
    !numbers.every((n) => Number.isFinite(n) && n >= 0) ||
    !rate ||
    !seconds ||
    !workerCount ||
    !eventCount ||
    !userCount ||
    !drainScores ||
    !drainTimeout ||
    !baselineClients ||
    !baselineSeconds
  ) {
    throw new Error(
      '--rate, --seconds, --workers, --events, --users, --poll-ms, --step-seconds, --ramp, --drain-scores, --drain-timeout, --baseline-clients and --baseline-seconds take positive numbers',
    );
  }
  adminDb = await openDatabase({ url: config.BENCH_DATABASE_URL, logger: silentLogger(), maxConnections: 1 });
  for (const db of [LP_DB, SM_DB]) {
    await adminDb.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
    await adminDb.query(`CREATE DATABASE ${db}`);
  }
  const { rows: versionRows } = await adminDb.query<{ server_version: string }>('SHOW server_version');
  const pgVersion = versionRows[0]!.server_version.split(' ')[0]!;
  const { rows: settingRows } = await adminDb.query<{ autovacuum: string; sync: string }>(
    "SELECT current_setting('autovacuum') AS autovacuum, current_setting('synchronous_commit') AS sync",
  );
  const { autovacuum, sync: syncCommit } = settingRows[0]!;
  // Every process opens its pools lazily: warn now if the server may run out of connections under load.
  const { rows: connRows } = await adminDb.query<{ max: number; used: number }>(
    "SELECT current_setting('max_connections')::int AS max, (SELECT count(*)::int FROM pg_stat_activity WHERE backend_type = 'client backend') AS used",
  );
  const pool = (key: string, fallback: number) => Number(overrides[key] ?? fallback);
  const needed =
    pool('LINE_PROVIDER_DATABASE_POOL_SIZE', 10) +
    1 +
    pool('SCORE_MAKER_DATABASE_POOL_SIZE', 20) * (1 + workerCount) +
    workerCount +
    5;
  if (connRows[0]!.used + needed > connRows[0]!.max) {
    console.error(
      `warning: this run may open up to ${needed} PostgreSQL connections; ${connRows[0]!.used} of max_connections ${connRows[0]!.max} are in use already (other users of this server)`,
    );
  }

  // The processes, as a deployment on this machine would run them.
  const [lpPort, apiPort] = [await freePort(), await freePort()];
  const common = {
    PATH: config.PATH,
    REDIS_URL: config.BENCH_REDIS_URL,
    REDIS_PREFIX: redisPrefix,
    LOG_LEVEL: 'warn',
  };
  const smUrl = withDatabase(config.BENCH_DATABASE_URL, SM_DB);
  const lpUrl = withDatabase(config.BENCH_DATABASE_URL, LP_DB);
  const lp = spawnNode(
    'line-provider',
    ['--import', 'tsx', 'services/line-provider/src/main.ts'],
    {
      ...common,
      LINE_PROVIDER_DATABASE_URL: lpUrl,
      LINE_PROVIDER_GRPC_HOST: '127.0.0.1',
      LINE_PROVIDER_GRPC_PORT: String(lpPort),
      LINE_PROVIDER_HTTP_PORT: '0',
      LINE_PROVIDER_ADMIN_TOKEN: ADMIN_TOKEN,
      LINE_PROVIDER_INTERNAL_TOKEN: INTERNAL_TOKEN,
      ...overrides,
    },
    ROOT,
  );
  const api = spawnNode(
    'score-maker API',
    ['--import', 'tsx', 'services/score-maker/src/main-api.ts'],
    {
      ...common,
      SCORE_MAKER_DATABASE_URL: smUrl,
      SCORE_MAKER_HTTP_HOST: '127.0.0.1',
      SCORE_MAKER_HTTP_PORT: String(apiPort),
      LINE_PROVIDER_ADDRESS: `127.0.0.1:${lpPort}`,
      JWT_SECRET,
      RATE_LIMIT_SCORES_PER_MINUTE: '1000000',
      RATE_LIMIT_READS_PER_MINUTE: '10000000',
      ...overrides,
    },
    ROOT,
  );
  const base = `http://127.0.0.1:${apiPort}`;
  await waitUntilReady('score-maker API', api, async () => {
    if (lp.exitCode !== null || lp.signalCode !== null)
      throw new Error('line-provider exited; see its output above');
    const res = await fetch(`${base}/readyz`);
    if (res.status !== 200) throw new Error(`GET /readyz: ${res.status} ${await res.text()}`);
  });
  // The workers: started for the open-loop run, and for each drain once its backlog is in (after the
  // API has migrated the database; they would migrate it safely too). Ready when /readyz answers 200.
  const workerPorts: number[] = [];
  for (let i = 0; i < workerCount; i++) workerPorts.push(await freePort());
  let workers: ChildProcess[] = [];
  const startWorkers = () => {
    workers = workerPorts.map((port, i) =>
      spawnNode(
        `score-maker worker ${i + 1}`,
        ['--import', 'tsx', 'services/score-maker/src/main-worker.ts'],
        {
          ...common,
          SCORE_MAKER_DATABASE_URL: smUrl,
          LINE_PROVIDER_ADDRESS: `127.0.0.1:${lpPort}`,
          LINE_PROVIDER_INTERNAL_TOKEN: INTERNAL_TOKEN,
          WORKER_HTTP_HOST: '127.0.0.1',
          WORKER_HTTP_PORT: String(port),
          ...overrides,
        },
        ROOT,
      ),
    );
    return workers;
  };
  const stopWorkers = async () => {
    await Promise.all(workers.map((w) => stopChild(w)));
    workers = [];
  };

  // Events, through line-provider's admin API.
  lpClient = new v1.EventServiceClient(`127.0.0.1:${lpPort}`, grpc.credentials.createInsecure());
  const client = lpClient;
  const metadata = new grpc.Metadata();
  metadata.set('authorization', `Bearer ${ADMIN_TOKEN}`);
  const createEvents = async (count: number, title: string) => {
    const ids: number[] = [];
    for (let i = 0; i < count; i++) {
      const request = v1.CreateEventRequest.fromPartial({
        title: `${title} ${i + 1}`,
        deadline: new Date(Date.now() + 30 * 86_400_000),
      });
      const response = await new Promise<v1.CreateEventResponse>((resolve, reject) =>
        client.createEvent(request, metadata, { deadline: Date.now() + 10_000 }, (error, res) =>
          error ? reject(error) : resolve(res),
        ),
      );
      ids.push(response.event!.id);
    }
    return ids;
  };
  /** line-provider's aggregates of some events, summed, through its public read (GetEvent). */
  const aggregates = async (ids: readonly number[]) => {
    let count = 0;
    let sum = 0;
    for (const id of ids) {
      const response = await new Promise<v1.GetEventResponse>((resolve, reject) =>
        client.getEvent(
          v1.GetEventRequest.fromPartial({ eventId: id }),
          new grpc.Metadata(),
          { deadline: Date.now() + 10_000 },
          (error, res) => (error ? reject(error) : resolve(res)),
        ),
      );
      count += response.event?.scores?.count ?? 0;
      sum += response.event?.scores?.sum ?? 0;
    }
    return { count, sum };
  };

  // The watchers: their own connections, so that neither waits for the other.
  const open = async (url: string, connections: number) => {
    const db = await openDatabase({ url, logger: silentLogger(), maxConnections: connections });
    opened.push(db);
    return db;
  };
  const smSample = await open(smUrl, 2);
  const lpSample = await open(lpUrl, 2);
  if (args['no-notify-trigger']) {
    for (const db of [smSample, lpSample]) await db.query('ALTER TABLE outbox DISABLE TRIGGER outbox_notify');
  }
  if (args['no-score-events']) {
    await lpSample.exec(`
      CREATE FUNCTION bench_drop_score_events() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.type = 'EventChanged'
          AND NEW.payload->>'kind' IN ('EVENT_CHANGE_KIND_SCORE_APPLIED', 'EVENT_CHANGE_KIND_SCORE_REVERTED') THEN
          RETURN NULL;
        END IF;
        RETURN NEW;
      END $$;
      CREATE TRIGGER bench_drop_score_events BEFORE INSERT ON outbox
        FOR EACH ROW EXECUTE FUNCTION bench_drop_score_events();`);
  }
  redis = new Redis(config.BENCH_REDIS_URL, { maxRetriesPerRequest: 1 });
  const { redis_version: redisVersion } = Object.fromEntries(
    (await redis.info('server')).split('\r\n').map((line) => line.split(':') as [string, string]),
  );
  agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  broker = openBroker({ url: config.BENCH_REDIS_URL, prefix: redisPrefix, logger: silentLogger() });

  /**
   * The drains (`--mode drain`, `hot`, `all`): the spread-out drain, then (hot, all) the same on one
   * event, then pgbench's explicit-transaction baseline while nothing else of the bench runs.
   */
  const drains = async (out: string[]) => {
    // Each drain (and the baseline) starts right after a checkpoint, so a checkpoint that pgbench or
    // the previous drain made due does not fall into the next measurement by chance.
    const checkpoint = () => adminDb!.query('CHECKPOINT');
    const drain = async (label: string, eventIds: number[]) => (
      await checkpoint(),
      runDrain({
        label,
        api: { host: '127.0.0.1', port: apiPort, agent: agent! },
        sm: smSample,
        lp: lpSample,
        redis: redis!,
        eventChangedWaiting: () => broker!.depth(EVENT_CHANGED_TOPIC),
        benchDatabases: [SM_DB, LP_DB],
        eventIds,
        scores: drainScores,
        userTag: `drain-${label}`,
        jwtSecret: JWT_SECRET,
        timeoutMs: drainTimeout * 1000,
        startWorkers,
        stopWorkers,
        others: { 'score-maker API': api.pid, 'line-provider': lp.pid },
        aggregates,
      })
    );
    const spread = await drain('spread', await createEvents(eventCount, 'Saga drain event'));
    out.push(
      '',
      `drain, spread out: ${drainScores} scores over ${eventCount} events, one user each (${drainScores} users), score 1-5 at random, submitted with no worker running, then ${workerCount} worker(s) started:`,
      ...spread.lines,
    );
    let hot: typeof spread | undefined;
    if (mode === 'hot' || mode === 'all') {
      hot = await drain('hot', await createEvents(1, 'Saga hot event'));
      out.push(
        '',
        `drain, hot event: the same with every score on one event (${drainScores} users):`,
        ...hot.lines,
      );
    }
    // The baseline last: its WAL and dead rows stay out of the drains.
    await checkpoint();
    const baseline = args['no-baseline']
      ? 'not run (--no-baseline)'
      : await (async () => {
          console.error(
            `baseline: pgbench, explicit transaction, ${baselineClients} clients for ${baselineSeconds} s`,
          );
          return explicitTransactionBaseline({
            script: config.PG_BASELINE_SCRIPT,
            serverUrl: config.BENCH_DATABASE_URL,
            database: BASELINE_DB,
            clients: baselineClients,
            seconds: baselineSeconds,
            path: config.PATH,
          });
        })();
    const met = (ok: boolean) => (ok ? 'met' : 'NOT met');
    out.push('', 'drain summary:');
    if (typeof baseline === 'string') {
      out.push(`  pgbench baseline (explicit transaction): ${baseline}`);
    } else {
      const ratio = spread.rate / baseline.tps;
      out.push(
        `  pgbench baseline, explicit transaction (../shared/bench write_tx.sql: BEGIN, score upsert, outbox insert, COMMIT), ${baseline.clients} clients, ${baseline.seconds} s: ${baseline.tps.toFixed(0)} tps`,
        `  drain settled/s / baseline tps: ${spread.rate.toFixed(1)} / ${baseline.tps.toFixed(0)} = ${ratio.toFixed(3)} (target >= ${TARGET_DRAIN_RATIO.toFixed(2)}: ${met(ratio >= TARGET_DRAIN_RATIO)})`,
      );
    }
    out.push(
      `  machine CPU per settled score over the drain window: ${spread.machineMsPerScore.toFixed(3)} ms (target <= ${TARGET_MACHINE_MS_PER_SCORE} ms: ${met(spread.machineMsPerScore <= TARGET_MACHINE_MS_PER_SCORE)}; on a shared machine it includes other users' work: see "everything else" above)`,
    );
    if (hot) {
      const ratio = hot.rate / spread.rate;
      out.push(
        `  hot-event drain settled/s / spread-out drain settled/s: ${hot.rate.toFixed(1)} / ${spread.rate.toFixed(1)} = ${ratio.toFixed(2)} (target >= ${TARGET_HOT_RATIO}: ${met(ratio >= TARGET_HOT_RATIO)}); machine CPU per score ${hot.machineMsPerScore.toFixed(3)} ms`,
      );
    }
    for (const [name, d] of [
      ['spread-out', spread],
      ['hot-event', hot],
    ] as const) {
      if (!d) continue;
      if (!d.correct) {
        out.push(
          `  WARNING: the ${name} drain's line-provider aggregates disagree with its CONFIRMED scores`,
        );
      }
      if (!d.complete) out.push(`  WARNING: the ${name} drain did not settle every score it submitted`);
      if (d.notConfirmed > 0) {
        out.push(
          `  WARNING: the ${name} drain settled ${d.notConfirmed} scores otherwise than CONFIRMED, on open events: compensations (the workers' warnings above say why)`,
        );
      }
      if (!d.correct || !d.complete) process.exitCode = 1;
    }
  };

  const out: string[] = [];
  const settings = Object.entries(overrides).map(([k, v]) => `${k}=${v}`);
  if (args['no-notify-trigger']) settings.push('outbox NOTIFY trigger DISABLED on both bench databases');
  if (args['no-score-events'])
    settings.push(
      "line-provider's EventChanged rows for SCORE_APPLIED/SCORE_REVERTED DROPPED by a bench trigger",
    );
  out.push(
    `saga benchmark, mode ${mode}: ${cores} cores (shared with whatever else runs on this machine: compare ratios within one run), PostgreSQL ${pgVersion} (autovacuum ${autovacuum}, synchronous_commit ${syncCommit}), Redis ${redisVersion}; line-provider, score-maker API and ${workerCount} score-maker worker(s) in child processes (LOG_LEVEL=warn; every other setting at its default${settings.length ? `; experiment: ${settings.join(', ')}` : ''})`,
  );
  if (runsDrains) await drains(out);
  if (!runsOpenLoop) {
    console.log(out.join('\n'));
    return;
  }

  // The open-loop run: workers up and ready, events and users of its own.
  startWorkers();
  for (const [i, worker] of workers.entries()) {
    await waitUntilReady(`score-maker worker ${i + 1}`, worker, async () => {
      const res = await fetch(`http://127.0.0.1:${workerPorts[i]}/readyz`);
      if (res.status !== 200) throw new Error(`GET /readyz: ${res.status} ${await res.text()}`);
    });
  }
  const eventIds = await createEvents(eventCount, 'Saga bench event');
  // User tokens, as an identity provider would issue them.
  const tokens = await userTokens(JWT_SECRET, userCount, 'u');

  tracker = startSettleTracker(pollMs > 0 ? await open(smUrl, 1) : smSample, pollMs);
  sampler = startSampler({
    sm: smSample,
    lp: lpSample,
    broker,
    applyTopic: APPLY_TOPIC,
    eventChangedTopic: EVENT_CHANGED_TOPIC,
  });
  const target: LoadTarget = { host: '127.0.0.1', port: apiPort, agent, eventIds, tokens };
  const pids: Record<string, number | undefined> = {
    'score-maker API': api.pid,
    'line-provider': lp.pid,
    ...Object.fromEntries(workers.map((w, i) => [`worker ${i + 1}`, w.pid])),
  };

  /** One phase: load at `r` a second for `s` seconds, then wait for its sagas to settle. */
  const phase = async (name: string, r: number, s: number, drainMs: number) => {
    sampler!.phase = name;
    console.error(`${name}: ${r}/s for ${s} s`);
    const workBefore = await snapshotWork(smSample, lpSample, redis!);
    const before = sampleCpu();
    const load = await runOpenLoop(target, r, s, (a) =>
      tracker!.add({ id: a.id, version: a.version, phase: name, acceptedAt: a.at }),
    );
    sampler!.phase = `${name} (draining)`;
    const giveUpAt = Date.now() + drainMs;
    let drained = await tracker!.settle(drainMs);
    // The EventChanged queue too, so that no phase inherits another's backlog.
    while ((await broker!.depth(EVENT_CHANGED_TOPIC)) > 0) {
      if (Date.now() > giveUpAt) {
        drained = false;
        break;
      }
      await sleep(100);
    }
    // CPU from the first request until the last saga settled: all the work this phase caused.
    const after = sampleCpu();
    const cpu = describeCpu(before, after, pids, cores);
    const perScore = Object.entries(cpuSeconds(before, after, pids))
      .map(([who, sec]) => `${who} ${ms((sec * 1000) / Math.max(1, load.accepted))}`)
      .join(', ');
    // Let the sampler see the drained system once more, and PostgreSQL flush its statistics.
    await sleep(1100);
    const work = describeWork(workBefore, await snapshotWork(smSample, lpSample, redis!), load.accepted);
    return {
      load,
      drained,
      cpu: `${cpu.text}\n  CPU time per accepted score (T1 and its saga): ${perScore}\n  work per accepted score: ${work}`,
      other: cpu.other,
    };
  };

  out.push(
    '',
    `open loop: ${eventCount} events, ${userCount} users, score 1-5 at random; load from this process (node:http, keep-alive)`,
    `method: "202 -> settled" is scores.updated_at of the settled (id, version), set by the settling UPDATE (PostgreSQL clock, microseconds), minus the time the 202 arrived here (this machine's clock, the same clock, microseconds); read once each phase has no saga in flight, so nothing polls per score during the load${pollMs > 0 ? `; cross-checked by a live poller (every ${pollMs} ms + query, by primary key, the oldest 200 in flight) with the first poll that saw each version settled, an upper bound late by up to one poll period` : ''}`,
  );
  if (warmup > 0) {
    const w = await phase('warm-up', rate, warmup, 30_000);
    if (!w.drained) out.push(`warning: the warm-up's sagas had not all settled after 30 s`);
  }
  const fixed = await phase('fixed', rate, seconds, 60_000);
  const f = figures('fixed', fixed.load, sampler.samples, fixed.drained, fixed.cpu);
  out.push(
    '',
    `fixed rate ${rate}/s for ${seconds} s${warmup > 0 ? ` (after a ${warmup} s warm-up at the same rate, not counted)` : ''}:`,
    ...f.lines,
  );
  if (fixed.other > 0.25)
    out.push(
      `  WARNING: other processes used ${Math.round(fixed.other * 100)}% of a core: a shared machine; these figures understate`,
    );
  const fixedVerdict = verdictOf(rate, fixed.load, f);
  out.push(`  verdict at ${rate}/s: ${fixedVerdict.verdict}`);
  if (rate === TARGET_P99_RATE) {
    out.push(
      `  target p99 < ${TARGET_P99_MS} ms at ${TARGET_P99_RATE}/s: ${f.p99 < TARGET_P99_MS ? 'met' : 'NOT met'} (p99 ${ms(f.p99)})`,
    );
  }
  const poller = tracker.stats();
  if (poller) {
    out.push(
      `  live settle poller so far: ${poller.polls} polls, one every ${ms(poller.meanPeriodMs)} on average, query ${ms(poller.meanQueryMs)} for ${poller.meanIds.toFixed(1)} ids; busy ${(poller.busyShare * 100).toFixed(1)}% of the time (one connection)`,
    );
  }
  out.push(
    '',
    ...(await stageBreakdown({
      sm: smSample,
      lp: lpSample,
      entries: tracker.all.filter((e) => e.phase === 'fixed'),
    })),
  );

  if (rampRates.length > 0) {
    out.push(
      '',
      `ramp: ${stepSeconds} s a step, open loop, the backlog drained between steps; a step is sustained when neither its PENDING sagas nor the EventChanged queue grow (trend under ${GROWTH_THRESHOLD * 100}% of the rate a second), it settles at least 95% of the rate and the generator kept to its schedule. Steps above a rate not sustained are skipped (the first one always runs), then up to ${refine} more steps halve the gap between the highest rate sustained and the lowest not:`,
      `  ${'rate/s'.padStart(6)} ${'sent/s'.padStart(7)} ${'202/s'.padStart(7)} ${'settled/s'.padStart(9)} ${'p50'.padStart(9)} ${'p99'.padStart(9)}  ${'PENDING first/max/last, trend'.padEnd(34)} ${'outbox lag max sm/lp'.padEnd(22)} verdict`,
    );
    let lo = fixedVerdict.sustained ? rate : undefined;
    let hi = fixedVerdict.sustained ? undefined : rate;
    let saturated = 0;
    const details: string[] = [];
    const step = async (r: number) => {
      const name = `ramp ${r}/s`;
      const result = await phase(name, r, stepSeconds, 30_000);
      const g = figures(name, result.load, sampler!.samples, result.drained, result.cpu);
      const v = verdictOf(r, result.load, g);
      out.push(
        `  ${String(r).padStart(6)} ${(result.load.sent / stepSeconds).toFixed(0).padStart(7)} ${(result.load.accepted / stepSeconds).toFixed(0).padStart(7)} ${g.confirmedPerSecond.toFixed(0).padStart(9)} ${ms(g.p50).padStart(9)} ${ms(g.p99).padStart(9)}  ${`${int(g.pendingFirst)}/${int(g.pendingMax)}/${int(g.pendingLast)}, ${g.trendPerSecond >= 0 ? '+' : ''}${g.trendPerSecond.toFixed(0)}/s`.padEnd(34)} ${`${ms(g.smLagMaxMs)}/${ms(g.lpLagMaxMs)}`.padEnd(22)} ${v.verdict}`,
      );
      details.push(`${name}:`, ...g.lines);
      if (v.sustained) lo = Math.max(lo ?? 0, r);
      else {
        hi = Math.min(hi ?? Infinity, r);
        if (v.generatorKept) saturated = Math.max(saturated, g.confirmedPerSecond);
      }
    };
    const skipped: number[] = [];
    for (const [i, r] of rampRates.entries()) {
      if (i > 0 && hi !== undefined && r >= hi) skipped.push(r);
      else await step(r);
    }
    if (skipped.length) out.push(`  (${skipped.join(', ')}/s not run: above a rate not sustained)`);
    for (let i = 0; i < refine && hi !== undefined; i++) {
      const floor = lo ?? 0;
      const mid = Math.round((floor + hi) / 2 / 50) * 50;
      if (hi - floor <= 100 || mid <= floor || mid >= hi) break;
      await step(mid);
    }
    out.push(
      `highest rate sustained without a growing backlog: ${lo === undefined ? 'none measured' : `${lo}/s`}${hi !== undefined ? ` (lowest not sustained: ${hi}/s${saturated ? `; settled/s at saturation up to ${saturated.toFixed(0)}` : ''})` : ''} (target ${TARGET_SUSTAINED}/s: ${lo !== undefined && lo >= TARGET_SUSTAINED ? 'met' : 'NOT met'})`,
      '',
      'ramp details:',
      ...details,
    );
  }
  const lost = tracker.all.filter((e) => e.settledAt === undefined && !e.replaced).length;
  if (lost > 0) out.push('', `WARNING: ${lost} accepted scores had not settled when the bench ended`);
  console.log(out.join('\n'));
  if (lost > 0) process.exitCode = 1;
}

try {
  await main();
} catch (error) {
  // After a signal the cleanup closes what main() is still using: its errors say nothing new.
  if (!cleaning) {
    console.error(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  }
  process.exitCode = 1;
} finally {
  await cleanup();
}
