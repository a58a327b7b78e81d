/**
 * The score-maker REST API under load, with its references measured in the same run.
 *
 *   npm run bench:api -- [--seconds 15] [--warmup 3] [--connections 32] [--get-connections 50]
 *        [--events 100] [--users 10000] [--no-baseline] [--no-get]
 *        [--set KEY=VALUE ...] [--node-args "..."] [--no-notify-trigger]      (--help lists them)
 *
 * 1. Creates scoreline_bench_api_lp and scoreline_bench_api_sm on BENCH_DATABASE_URL's server (dropped
 *    and recreated at start, dropped at the end), starts line-provider and the score-maker API as child
 *    processes on them (Redis at BENCH_REDIS_URL under a key prefix of its own, deleted at the end).
 * 2. Creates events through line-provider's gRPC admin API and signs user tokens.
 * 3. POST /events/{id}/score with autocannon: random user, event and score per request; then checks
 *    that the outbox holds a row per 202.
 * 4. The baseline of ../shared/bench/pg-baseline.sh (lib/pg-baseline.ts) at the same concurrency and
 *    duration: the same durable work straight into PostgreSQL with pgbench, one statement (the physical
 *    limit) and an explicit transaction (the target's base).
 * 5. GET /events (served from the API's memory) against a Fastify hello-world, same autocannon settings:
 *    as it is, with Accept-Encoding: gzip (the page compressed once, as browsers get it), and
 *    revalidated with If-None-Match (304s).
 * Each phase prints req/s, p50/p99, where the CPU went (/proc) and CPU µs per request by process.
 * Experiments: `--set` passes settings to both children (SCORE_MAKER_DATABASE_POOL_SIZE=N,
 * SUBMIT_BATCH_SIZE=1 for a statement per score, REDIS_URL=memory:// for in-process events cache and
 * rate-limit counters: what the Redis round trips of a request cost); `--node-args` the API's node
 * options ("--cpu-prof --cpu-prof-dir DIR": a V8 profile for Chrome DevTools, written when it stops);
 * `--no-notify-trigger`; phases left out. Not a test: it prints figures and ratios.
 */
import { availableParallelism } from 'node:os';
import autocannon from 'autocannon';
import { cpuPerUnit, cpuUse, describeCpu, sampleCpu, type Pids } from '../lib/cpu.js';
import { pick } from '../lib/load.js';
import { parseOptions, SHARED } from '../lib/options.js';
import { pgBaseline } from '../lib/pg-baseline.js';
import { startReference } from '../lib/reference-servers.js';
import { disableNotify, JWT_SECRET, runBench, startApi, startLineProvider, UNLIMITED } from '../lib/setup.js';
import { userTokens } from '../lib/user-tokens.js';

const LP_DB = 'scoreline_bench_api_lp';
const SM_DB = 'scoreline_bench_api_sm';
const BASELINE_DB = 'scoreline_bench_api_baseline';
/** The API's write rate as a share of "the baseline", the explicit-transaction figure. */
const TARGET = 0.65;

const o = parseOptions('npm run bench:api -- [options]', {
  seconds: [15, 'measured phase'],
  warmup: [3, 'warm-up before each phase, not counted (it also fills the events cache)'],
  connections: [32, 'POST connections (and pgbench clients)'],
  'get-connections': [50, 'GET connections'],
  events: [100, 'events the scores go to'],
  users: [10000, 'users (HS256 JWTs) the scores come from'],
  'no-baseline': [false, 'leave out the pgbench baseline'],
  'no-get': [false, 'leave out the GET phases and hello-world'],
  ...SHARED,
});

let running: autocannon.Instance | undefined;
const load = (options: autocannon.Options) =>
  new Promise<autocannon.Result>((resolve, reject) => {
    running = autocannon(options, (error, result) => (error ? reject(error) : resolve(result)));
  });
const answered = (r: autocannon.Result) =>
  Object.values(r.statusCodeStats).reduce((sum, { count: n }) => sum + Number(n), 0);
const count = (r: autocannon.Result, status: number) => Number(r.statusCodeStats[String(status)]?.count ?? 0);
const ms = (value: number) => `${Number.isInteger(value) ? value : value.toFixed(1)} ms`;
const fmt = (n: number) => Math.round(n).toString().padStart(6);
function problems(r: autocannon.Result): string {
  const parts = [];
  const statuses = Object.entries(r.statusCodeStats).map(([code, { count: n }]) => `${code}: ${n}`);
  if (r.non2xx > 0) parts.push(`non-2xx by status: ${statuses.join(', ')}`);
  if (r.errors > 0) parts.push(`connection errors ${r.errors} (timeouts ${r.timeouts})`);
  return parts.join('; ');
}

const redisInProcess = o.overrides.REDIS_URL === 'memory://';
const setup = { name: 'api', databases: [LP_DB, SM_DB, BASELINE_DB], redis: !redisInProcess, ...o };
await runBench(setup, async (bench) => {
  bench.onCleanup(() => running?.stop());
  const lp = await startLineProvider(bench, LP_DB);
  const api = await startApi(bench, SM_DB, lp.address, o['node-args']);
  const hello = o['no-get'] ? undefined : await startReference('hello', bench.env.PATH!);
  const sm = await bench.open(SM_DB, 1);
  if (o['no-notify-trigger']) await disableNotify(sm);
  const eventIds = await lp.createEvents(o.events, 'Bench event');
  const tokens = await userTokens(JWT_SECRET, o.users, 'u');
  const services = { 'score-maker API': api.child.pid, 'line-provider': lp.child.pid };

  /** A warm-up run (kept for the row counts), then the measured run with CPU sampled around it. */
  const phase = async (options: autocannon.Options, named: Pids) => {
    const warm = o.warmup > 0 ? await load({ ...options, duration: o.warmup, timeout: 10 }) : undefined;
    const before = sampleCpu();
    const result = await load({ ...options, duration: o.seconds, timeout: 10 });
    const use = cpuUse(before, sampleCpu(), named, [LP_DB, SM_DB]);
    const perRequest = cpuPerUnit(use, answered(result), 'µs', 'autocannon');
    return { warm, result, cpu: describeCpu(use, 'autocannon (this process)'), perRequest, noise: use.noise };
  };
  const row = (
    name: string,
    r: autocannon.Result,
    rate = r.requests.mean,
    non2xx = `   non-2xx ${r.non2xx}`,
  ) => `${name.padEnd(25)} ${fmt(rate)} req/s  p50 ${ms(r.latency.p50)}  p99 ${ms(r.latency.p99)}${non2xx}`;

  // 3. POST /events/{id}/score.
  const body = () => ({
    method: 'POST',
    path: `/events/${pick(eventIds)}/score`,
    headers: { authorization: pick(tokens), 'content-type': 'application/json' },
    body: `{"score":${1 + Math.floor(Math.random() * 5)}}`,
  });
  const post = await phase(
    { url: api.base, connections: o.connections, requests: [{ method: 'POST', setupRequest: body }] },
    services,
  );
  // Requests in flight when autocannon stopped are answered to nobody but may still commit.
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const { rows } = await sm.query<{ scores: number; outbox: number }>(
    'SELECT (SELECT count(*) FROM scores)::int AS scores, (SELECT count(*) FROM outbox)::int AS outbox',
  );
  const rowCounts = rows[0]!;
  const runs = [post.warm, post.result].filter((r) => r !== undefined);
  const accepted = runs.reduce((sum, r) => sum + count(r, 202), 0);
  const unanswered = runs.reduce((sum, r) => sum + Math.max(0, r.requests.sent - answered(r)), 0);
  const outboxOk =
    rowCounts.outbox === accepted
      ? 'ok'
      : rowCounts.outbox > accepted && rowCounts.outbox <= accepted + unanswered
        ? `ok (+${rowCounts.outbox - accepted} from requests in flight at a stop)`
        : 'MISMATCH';

  // 4. The physical-limit baseline, same concurrency and duration.
  const cases = ['write_one_statement.sql', 'write_tx.sql'];
  const baseline = o['no-baseline']
    ? 'not run (--no-baseline)'
    : await pgBaseline(BASELINE_DB, o.connections, o.seconds, cases);

  const postRate = post.result.requests.mean;
  const lines = [
    `score-maker API benchmark (${availableParallelism()} cores; PostgreSQL ${bench.pgVersion}; Redis ${bench.redisVersion}; ${o.connections} connections; ${o.seconds} s each after ${o.warmup} s warm-up)`,
    `${row('POST /events/{id}/score', post.result)}   outbox rows = 202s: ${outboxOk}`,
  ];
  if (typeof baseline === 'string') lines.push(`pg baseline: ${baseline}`);
  else {
    const [tps, txTps] = cases.map((c) => baseline[c]!) as [number, number];
    const ratioTx = postRate / txTps;
    lines.push(
      `pg baseline (one statement) ${fmt(tps)} tps     ratio ${(postRate / tps).toFixed(2)}`,
      `pg baseline (transaction)   ${fmt(txTps)} tps     ratio ${ratioTx.toFixed(2)}  (target >= ${TARGET.toFixed(2)}${ratioTx < TARGET ? ': BELOW TARGET' : ': met'})`,
    );
  }
  const cpuLines = [
    `CPU, POST phase: ${post.cpu}  (% of one core)`,
    `CPU µs per request, POST: ${post.perRequest}`,
  ];
  const noises = [post.noise];

  // 5. GET /events (the cache) against Fastify's hello-world, and its revalidation (304s).
  if (hello) {
    const first = await fetch(`${api.base}/events`);
    const firstPage = ((await first.json()) as { events?: unknown[] }).events?.length ?? 0;
    const headers = { 'if-none-match': first.headers.get('etag') ?? '' };
    const get = await phase({ url: `${api.base}/events`, connections: o['get-connections'] }, services);
    // The same listing to a client that takes gzip, as browsers and CDNs do: the page compressed once.
    const gzip = { 'accept-encoding': 'gzip' };
    const coded = await fetch(`${api.base}/events`, { headers: gzip });
    const codedBytes = (await coded.arrayBuffer()).byteLength; // fetch decodes: the identity length
    const getGzip = await phase(
      { url: `${api.base}/events`, connections: o['get-connections'], headers: gzip },
      services,
    );
    // Revalidations with the ETag just read: 304 while the page is unchanged (no scores flow now).
    const revalidate = await phase(
      { url: `${api.base}/events`, connections: o['get-connections'], headers },
      services,
    );
    const ref = await phase(
      { url: `http://127.0.0.1:${hello.port}/`, connections: o['get-connections'] },
      { 'hello-world': hello.child.pid },
    );
    const helloRate = ref.result.requests.mean;
    const total = answered(revalidate.result);
    lines.push(
      `${row('GET /events (cache)', get.result)}  (${o['get-connections']} connections)`,
      `${row('GET /events, gzip', getGzip.result)}  (${coded.headers.get('content-encoding') ?? 'identity'}, ${fmt(getGzip.result.throughput.mean / Math.max(1, getGzip.result.requests.mean))} bytes a response against ${fmt(get.result.throughput.mean / Math.max(1, get.result.requests.mean))} identity; ${codedBytes} bytes of JSON)`,
      `${row('Fastify hello-world', ref.result)}   ratio ${(get.result.requests.mean / helloRate).toFixed(2)}, gzip ${(getGzip.result.requests.mean / helloRate).toFixed(2)}`,
      `${row('GET /events → 304', revalidate.result, total / o.seconds, '')}   304s ${count(revalidate.result, 304)} of ${total}   ratio to hello-world ${(total / o.seconds / helloRate).toFixed(2)}`,
    );
    if (problems(get.result)) cpuLines.push(`GET problems: ${problems(get.result)}`);
    cpuLines.push(
      `GET /events: default listing (open events, limit 50: ${firstPage} events a page), served from the API's memory (serialised page, refilled from the Redis page cache every EVENTS_LOCAL_TTL or on an invalidation)`,
      ...(
        [
          ['GET', get],
          ['GET gzip', getGzip],
          ['304', revalidate],
          ['hello', ref],
        ] as const
      ).flatMap(([name, p]) => [
        `CPU, ${name} phase: ${p.cpu}`,
        `CPU µs per request, ${name}: ${p.perRequest}`,
      ]),
    );
    noises.push(get.noise, getGzip.noise, revalidate.noise, ref.noise);
  }
  const experiments = [
    ...Object.entries(o.overrides).map(([k, v]) => `${k}=${v}`),
    o['no-notify-trigger'] && 'outbox NOTIFY trigger DISABLED on the bench database',
    o['node-args'] && `API under node ${o['node-args']} (slower than without)`,
  ].filter(Boolean);
  lines.push(
    '',
    `setup: line-provider and the score-maker API in child processes (LOG_LEVEL=warn) on databases ${LP_DB} and ${SM_DB}, ${redisInProcess ? 'REDIS_URL=memory:// (in-process events cache and rate-limit counters; not a production setup)' : `Redis key prefix ${bench.redisPrefix}`}; autocannon in this process`,
    `rate limiter: still registered (${redisInProcess ? 'in-process counters' : 'counted in process, added to Redis in batches'}) but set to the configuration's maxima, RATE_LIMIT_SCORES_PER_MINUTE=${UNLIMITED.RATE_LIMIT_SCORES_PER_MINUTE} and RATE_LIMIT_READS_PER_MINUTE=${UNLIMITED.RATE_LIMIT_READS_PER_MINUTE}, so it refuses nothing`,
    `POST mix: each request a random one of ${o.users} users (HS256 JWT), a random one of ${o.events} events, score 1-5, no Idempotency-Key (the one-statement path); the warm-up also fills the event cache`,
    `ratios: the API's req/s over pgbench's tps at ${o.connections} clients for ${o.seconds} s; "one statement" is the physical limit, the target (${TARGET}) is against "the baseline", the explicit-transaction figure`,
    `rows after the POST phase: scores ${rowCounts.scores}, outbox ${rowCounts.outbox}; 202s received ${accepted} (warm-up included), requests unanswered at a stop ${unanswered}`,
  );
  if (experiments.length) lines.push(`experiment: ${experiments.join('; ')}`);
  if (problems(post.result)) lines.push(`POST problems: ${problems(post.result)}`);
  if (post.warm && problems(post.warm)) lines.push(`POST warm-up problems: ${problems(post.warm)}`);
  lines.push(...cpuLines);
  const busiest = Math.max(...noises);
  if (busiest > 0.25) {
    lines.push(
      `WARNING: other (or ended) processes used up to ${Math.round(busiest * 100)}% of a core during a phase: a shared machine; these figures understate`,
    );
  }
  console.log(lines.join('\n'));
  if (outboxOk === 'MISMATCH' || post.result.non2xx > 0) process.exitCode = 1;
});
