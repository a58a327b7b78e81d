/**
 * The saga end to end: under a steady open-loop load (the time from 202 to CONFIRMED, the confirmed
 * scores a second the system sustains without a growing backlog, the outbox lag), and draining a
 * backlog (settled/s and CPU per score, against pgbench's explicit-transaction baseline).
 *
 *   npm run bench:saga -- [--mode open-loop|drain|hot|all] [--workers 1] [--events 50]
 *        [--rate 500] [--seconds 20] [--warmup 5] [--users 5000]
 *        [--ramp 1000,1500,2000,2500] [--step-seconds 8] [--refine 2] [--no-ramp]
 *        [--drain-scores 10000] [--drain-timeout 600] [--baseline-clients 32] [--baseline-seconds 10]
 *        [--no-baseline] [--set KEY=VALUE ...] [--node-args "..."] [--no-notify-trigger]
 *                                                                             (--help lists them)
 *
 * Modes: `open-loop` (the default, about three minutes: 2-4 below), `drain` (5), `hot` (5 plus the
 * hot-event drain), `all` (the drains, then the open-loop run).
 * 1. scoreline_bench_saga_lp and _sm on BENCH_DATABASE_URL's server, Redis under a key prefix of its
 *    own (lib/setup.ts); line-provider, the score-maker API and `--workers` workers as child processes,
 *    configured as in a deployment on this machine: it measures whichever worker the checkout has.
 * 2. Open loop: POST /events/{id}/score at `--rate` a second for `--seconds`, after a `--warmup` at the
 *    same rate; random user, event and score. Every 202's (score id, version) is looked up in the
 *    database once the phase has settled (watch.ts). Printed: 202 -> settled percentiles, settled/s,
 *    PENDING sagas and their trend, both outbox lags, queue depths, where the CPU went, CPU ms and work
 *    (commits, rows, Redis commands: work.ts) per accepted score.
 * 3. The stage breakdown of that phase (stages.ts).
 * 4. A ramp: `--ramp` rates for `--step-seconds` each, the backlog drained between steps; rates above
 *    one not sustained are skipped (the first step always runs), then `--refine` steps bisect between
 *    the highest rate sustained (the fixed phase counts) and the lowest not.
 * 5. Drains (drain.ts), each after a CHECKPOINT: `--drain-scores` submissions over `--events` new events
 *    (or one, hot), one per new user, with no worker running, then the workers start: settled/s, CPU ms
 *    per score by process, line-provider's aggregates against the CONFIRMED scores. Printed beside the
 *    targets: settled/s >= 0.40 x baseline tps, <= 0.6 ms of machine CPU per score, hot/spread >= 0.8.
 *    Last, the explicit-transaction case of ../shared/bench/pg-baseline.sh alone (`--baseline-*`), so
 *    that its WAL and dead rows stay out of the drains.
 * Experiments: `--set KEY=VALUE` passes a setting to every child (WORKER_CONCURRENCY, pool sizes, …);
 * `--node-args` the workers' node options; `--no-notify-trigger` disables the outbox's NOTIFY trigger
 * (pair it with a short OUTBOX_POLL_INTERVAL).
 * The machine is shared with other work: compare ratios within one run. Not a test: it prints figures.
 */
import http from 'node:http';
import { availableParallelism } from 'node:os';
import type { ChildProcess } from 'node:child_process';
import { EVENT_CHANGED_TOPIC } from '@scoreline/contracts';
import { openBroker, silentLogger } from '@scoreline/platform';
import { freePort, stopChild } from '../lib/children.js';
import { cpuPerUnit, cpuUse, describeCpu, sampleCpu } from '../lib/cpu.js';
import { pick, postScore, runOpenLoop, stopLoad } from '../lib/load.js';
import { parseOptions, SHARED } from '../lib/options.js';
import { pgBaseline } from '../lib/pg-baseline.js';
import {
  config,
  disableNotify,
  JWT_SECRET,
  runBench,
  startApi,
  startLineProvider,
  startWorker,
  waitForReadyz,
} from '../lib/setup.js';
import { ms } from '../lib/stats.js';
import { userTokens } from '../lib/user-tokens.js';
import { runDrain } from './drain.js';
import { figures, GROWTH_THRESHOLD, type PhaseLoad } from './figures.js';
import { stageBreakdown } from './stages.js';
import { startSampler, startSettleTracker } from './watch.js';
import { describeWork, snapshotWork } from './work.js';

const LP_DB = 'scoreline_bench_saga_lp';
const SM_DB = 'scoreline_bench_saga_sm';
const BASELINE_DB = 'scoreline_bench_saga_baseline';
/** services/score-maker/src/domain/score.ts: the ApplyScore queue's name (EventChanged's is in the contracts). */
const APPLY_TOPIC = 'score-maker.apply-score';
const [TARGET_P99_MS, TARGET_P99_RATE, TARGET_SUSTAINED] = [50, 500, 2000];
/** A drain's settled/s at least this share of pgbench's explicit-transaction tps. */
const TARGET_DRAIN_RATIO = 0.4;
/** The whole machine's CPU per settled score in a drain (ms). */
const TARGET_MACHINE_MS_PER_SCORE = 0.6;
/** The hot-event drain's rate at least this share of the spread-out drain's. */
const TARGET_HOT_RATIO = 0.8;
const MODES = ['open-loop', 'drain', 'hot', 'all'];

const o = parseOptions('npm run bench:saga -- [options]', {
  mode: ['open-loop', `${MODES.join(', ')}`],
  workers: [1, 'score-maker workers'],
  events: [50, 'events of the open-loop run, and of the spread-out drain'],
  rate: [500, 'open loop: submissions a second of the fixed-rate phase'],
  seconds: [20, 'open loop: the fixed-rate phase'],
  warmup: [5, 'open loop: warm-up at the same rate, not counted'],
  users: [5000, 'open loop: users the scores come from'],
  ramp: ['1000,1500,2000,2500', 'open loop: the ramp rates'],
  'step-seconds': [8, 'open loop: each ramp step'],
  refine: [2, 'open loop: ramp steps bisecting between the highest rate sustained and the lowest not'],
  'no-ramp': [false, 'open loop: no ramp'],
  'drain-scores': [10000, 'drains: scores of each backlog'],
  'drain-timeout': [600, 'drains: seconds before a drain gives up'],
  'baseline-clients': [32, 'drains: pgbench clients'],
  'baseline-seconds': [10, 'drains: pgbench duration'],
  'no-baseline': [false, 'drains: no pgbench baseline'],
  ...SHARED,
});
if (!MODES.includes(o.mode)) throw new Error(`--mode takes ${MODES.join(', ')}, not ${o.mode}`);
const rampRates = o['no-ramp'] ? [] : o.ramp.split(',').map((r) => Number(r.trim()));
const cores = availableParallelism();
let stopped = false;

const setup = { name: 'saga', databases: [LP_DB, SM_DB, BASELINE_DB], redis: true, ...o };
await runBench(setup, async (bench) => {
  bench.onCleanup(() => {
    stopped = true;
    stopLoad();
  });
  const { rows } = await bench.admin.query<{ autovacuum: string; sync: string }>(
    "SELECT current_setting('autovacuum') AS autovacuum, current_setting('synchronous_commit') AS sync",
  );
  const server = rows[0]!;

  // The processes, as a deployment on this machine would run them.
  const lp = await startLineProvider(bench, LP_DB);
  const api = await startApi(bench, SM_DB, lp.address);
  // The workers: started for the open-loop run, and for each drain once its backlog is in.
  const workerPorts: number[] = [];
  for (let i = 0; i < o.workers; i++) workerPorts.push(await freePort());
  let workers: ChildProcess[] = [];
  const nodeArgs = o['node-args'];
  const startWorkers = () =>
    (workers = workerPorts.map((port, i) =>
      startWorker(bench, `score-maker worker ${i + 1}`, SM_DB, lp.address, port, nodeArgs),
    ));
  const stopWorkers = async () => {
    await Promise.all(workers.map((w) => stopChild(w)));
    workers = [];
  };

  // The watchers: their own connections, so that neither waits for the other.
  const smSample = await bench.open(SM_DB);
  const lpSample = await bench.open(LP_DB);
  if (o['no-notify-trigger']) for (const db of [smSample, lpSample]) await disableNotify(db);
  const redis = bench.redis!;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  /** The platform's broker on the children's Redis prefix: queue depths, whatever it keeps in Redis. */
  const broker = openBroker({
    url: config.BENCH_REDIS_URL,
    prefix: bench.redisPrefix,
    logger: silentLogger(),
  });
  bench.onCleanup(() => agent.destroy());
  bench.onCleanup(() => broker.close());
  const target = { host: '127.0.0.1', port: api.port, agent };

  const settings = [
    ...Object.entries(o.overrides).map(([k, v]) => `${k}=${v}`),
    o['no-notify-trigger'] && 'outbox NOTIFY trigger DISABLED on both bench databases',
    nodeArgs && `workers under node ${o['node-args']}`,
  ].filter(Boolean);
  const out = [
    `saga benchmark, mode ${o.mode}: ${cores} cores (shared with whatever else runs on this machine: compare ratios within one run), PostgreSQL ${bench.pgVersion} (autovacuum ${server.autovacuum}, synchronous_commit ${server.sync}), Redis ${bench.redisVersion}; line-provider, score-maker API and ${o.workers} score-maker worker(s) in child processes (LOG_LEVEL=warn; every other setting at its default${settings.length ? `; experiment: ${settings.join(', ')}` : ''})`,
  ];

  if (o.mode !== 'open-loop') {
    // Each drain (and the baseline) starts right after a checkpoint, so a checkpoint that pgbench or
    // the previous drain made due does not fall into the next measurement by chance.
    const checkpoint = () => bench.admin.query('CHECKPOINT');
    const drain = async (label: string, eventIds: number[]) => {
      await checkpoint();
      return runDrain({
        label,
        api: target,
        sm: smSample,
        lp: lpSample,
        eventChangedWaiting: () => broker.depth(EVENT_CHANGED_TOPIC),
        databases: [SM_DB, LP_DB],
        eventIds,
        scores: o['drain-scores'],
        timeoutMs: o['drain-timeout'] * 1000,
        startWorkers,
        stopWorkers,
        others: { 'score-maker API': api.child.pid, 'line-provider': lp.child.pid },
        aggregates: (ids) => lp.aggregates(ids),
        stopped: () => stopped,
      });
    };
    const n = o['drain-scores'];
    const spread = await drain('spread', await lp.createEvents(o.events, 'Saga drain event'));
    out.push(
      '',
      `drain, spread out: ${n} scores over ${o.events} events, one user each (${n} users), score 1-5 at random, submitted with no worker running, then ${o.workers} worker(s) started:`,
      ...spread.lines,
    );
    const hot =
      o.mode === 'drain' ? undefined : await drain('hot', await lp.createEvents(1, 'Saga hot event'));
    if (hot)
      out.push('', `drain, hot event: the same with every score on one event (${n} users):`, ...hot.lines);
    // The baseline last: its WAL and dead rows stay out of the drains.
    await checkpoint();
    const [clients, seconds] = [o['baseline-clients'], o['baseline-seconds']];
    console.error(`baseline: pgbench, explicit transaction, ${clients} clients for ${seconds} s`);
    const tx = o['no-baseline']
      ? 'not run (--no-baseline)'
      : await pgBaseline(BASELINE_DB, clients, seconds, ['write_tx.sql']);
    const baseline = typeof tx === 'string' ? tx : tx['write_tx.sql']!;
    const met = (ok: boolean) => (ok ? 'met' : 'NOT met');
    out.push('', 'drain summary:');
    if (typeof baseline === 'string') out.push(`  pgbench baseline (explicit transaction): ${baseline}`);
    else {
      const ratio = spread.rate / baseline;
      out.push(
        `  pgbench baseline, explicit transaction (../shared/bench write_tx.sql: BEGIN, score upsert, outbox insert, COMMIT), ${clients} clients, ${seconds} s: ${baseline.toFixed(0)} tps`,
        `  drain settled/s / baseline tps: ${spread.rate.toFixed(1)} / ${baseline.toFixed(0)} = ${ratio.toFixed(3)} (target >= ${TARGET_DRAIN_RATIO.toFixed(2)}: ${met(ratio >= TARGET_DRAIN_RATIO)})`,
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
  }
  if (o.mode !== 'open-loop' && o.mode !== 'all') return console.log(out.join('\n'));

  // The open-loop run: workers up and ready, events and users of its own.
  startWorkers();
  for (const [i, worker] of workers.entries()) {
    await waitForReadyz(`score-maker worker ${i + 1}`, worker, `http://127.0.0.1:${workerPorts[i]}`);
  }
  const eventIds = await lp.createEvents(o.events, 'Saga bench event');
  const tokens = await userTokens(JWT_SECRET, o.users, 'u');
  const tracker = startSettleTracker(smSample);
  const topics = { apply: APPLY_TOPIC, eventChanged: EVENT_CHANGED_TOPIC };
  const sampler = startSampler(smSample, lpSample, broker, topics);
  bench.onCleanup(() => sampler.stop());
  const pids = {
    'score-maker API': api.child.pid,
    'line-provider': lp.child.pid,
    ...Object.fromEntries(workers.map((w, i) => [`worker ${i + 1}`, w.pid])),
  };

  /** One phase: load at `r` a second for `s` seconds, then wait for its sagas to settle; its figures. */
  const phase = async (name: string, r: number, s: number, drainMs: number) => {
    sampler.phase = name;
    console.error(`${name}: ${r}/s for ${s} s`);
    const workBefore = await snapshotWork(smSample, lpSample, redis);
    const before = sampleCpu();
    const tally = { accepted: 0, refused: new Map<string, number>(), acceptLatency: [] as number[] };
    const refuse = (key: string) => void tally.refused.set(key, (tally.refused.get(key) ?? 0) + 1);
    const sent = await runOpenLoop(r, s, async (dueAt) => {
      const answer = await postScore(target, pick(eventIds), pick(tokens));
      if (answer.status !== '202') return refuse(answer.status);
      try {
        const score = JSON.parse(answer.body) as { id: string; version: number };
        tracker.add({ id: score.id, version: score.version, phase: name, acceptedAt: answer.at });
        tally.accepted++;
        tally.acceptLatency.push(answer.at - dueAt);
      } catch {
        refuse('202 with an unreadable body');
      }
    });
    const load: PhaseLoad = { ...sent, ...tally };
    sampler.phase = `${name} (draining)`;
    const giveUpAt = Date.now() + drainMs;
    let drained = await tracker.settle(drainMs);
    // The EventChanged queue too, so that no phase inherits another's backlog.
    while ((await broker.depth(EVENT_CHANGED_TOPIC)) > 0 && drained) {
      drained = Date.now() <= giveUpAt;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    // CPU from the first request until the last saga settled: all the work this phase caused.
    const use = cpuUse(before, sampleCpu(), pids, [SM_DB, LP_DB]);
    // Let the sampler see the drained system once more, and PostgreSQL flush its statistics.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const work = describeWork(workBefore, await snapshotWork(smSample, lpSample, redis), load.accepted);
    const cpu = `${describeCpu(use, 'load generator (this process)')}\n  CPU ms per accepted score (T1 and its saga): ${cpuPerUnit(use, load.accepted, 'ms', 'load generator')}\n  work per accepted score: ${work}`;
    return { ...figures(name, load, tracker.all, sampler.samples, drained, cpu), drained, noise: use.noise };
  };

  out.push(
    '',
    `open loop: ${o.events} events, ${o.users} users, score 1-5 at random; load from this process (node:http, keep-alive)`,
    `method: "202 -> settled" is scores.updated_at of the settled (id, version), set by the settling UPDATE (PostgreSQL clock, microseconds), minus the time the 202 arrived here (this machine's clock, the same clock, microseconds); read once each phase has no saga in flight, so nothing polls per score during the load`,
  );
  if (o.warmup > 0 && !(await phase('warm-up', o.rate, o.warmup, 30_000)).drained) {
    out.push(`warning: the warm-up's sagas had not all settled after 30 s`);
  }
  const fixed = await phase('fixed', o.rate, o.seconds, 60_000);
  out.push(
    '',
    `fixed rate ${o.rate}/s for ${o.seconds} s${o.warmup > 0 ? ` (after a ${o.warmup} s warm-up at the same rate, not counted)` : ''}:`,
    ...fixed.lines,
  );
  if (fixed.noise > 0.25)
    out.push(
      `  WARNING: other processes used ${Math.round(fixed.noise * 100)}% of a core: a shared machine; these figures understate`,
    );
  out.push(`  verdict at ${o.rate}/s: ${fixed.verdict}`);
  if (o.rate === TARGET_P99_RATE) {
    out.push(
      `  target p99 < ${TARGET_P99_MS} ms at ${TARGET_P99_RATE}/s: ${fixed.p99 < TARGET_P99_MS ? 'met' : 'NOT met'} (p99 ${ms(fixed.p99)})`,
    );
  }
  const fixedEntries = tracker.all.filter((e) => e.phase === 'fixed');
  out.push('', ...(await stageBreakdown(smSample, lpSample, fixedEntries)));

  if (rampRates.length > 0) {
    const head = ['rate/s', 'sent/s', '202/s', 'settled/s', 'p50', 'p99'].map((h, i) =>
      h.padStart([6, 7, 7, 9, 9, 9][i]!),
    );
    out.push(
      '',
      `ramp: ${o['step-seconds']} s a step, open loop, the backlog drained between steps; a step is sustained when neither its PENDING sagas nor the EventChanged queue grow (trend under ${GROWTH_THRESHOLD * 100}% of the rate a second), it settles at least 95% of the rate and the generator kept to its schedule. Steps above a rate not sustained are skipped (the first one always runs), then up to ${o.refine} more steps halve the gap between the highest rate sustained and the lowest not:`,
      `  ${head.join(' ')}  ${'PENDING first/max/last, trend'.padEnd(34)} ${'outbox lag max sm/lp'.padEnd(22)} verdict`,
    );
    let lo = fixed.sustained ? o.rate : undefined;
    let hi = fixed.sustained ? undefined : o.rate;
    let saturated = 0;
    const details: string[] = [];
    const step = async (r: number) => {
      const g = await phase(`ramp ${r}/s`, r, o['step-seconds'], 30_000);
      out.push(`  ${g.row}`);
      details.push(`ramp ${r}/s:`, ...g.lines);
      if (g.sustained) lo = Math.max(lo ?? 0, r);
      else {
        hi = Math.min(hi ?? Infinity, r);
        if (g.generatorKept) saturated = Math.max(saturated, g.confirmedPerSecond);
      }
    };
    const skipped: number[] = [];
    for (const [i, r] of rampRates.entries()) {
      if (i > 0 && hi !== undefined && r >= hi) skipped.push(r);
      else await step(r);
    }
    if (skipped.length) out.push(`  (${skipped.join(', ')}/s not run: above a rate not sustained)`);
    for (let i = 0; i < o.refine && hi !== undefined; i++) {
      const floor = lo ?? 0;
      const mid = Math.round((floor + hi) / 2 / 50) * 50;
      if (hi - floor <= 100 || mid <= floor || mid >= hi) break;
      await step(mid);
    }
    const notSustained =
      hi === undefined
        ? ''
        : ` (lowest not sustained: ${hi}/s${saturated ? `; settled/s at saturation up to ${saturated.toFixed(0)}` : ''})`;
    out.push(
      `highest rate sustained without a growing backlog: ${lo === undefined ? 'none measured' : `${lo}/s`}${notSustained} (target ${TARGET_SUSTAINED}/s: ${lo !== undefined && lo >= TARGET_SUSTAINED ? 'met' : 'NOT met'})`,
      '',
      'ramp details:',
      ...details,
    );
  }
  const lost = tracker.all.filter((e) => e.settledAt === undefined && !e.replaced).length;
  if (lost > 0) out.push('', `WARNING: ${lost} accepted scores had not settled when the bench ended`);
  console.log(out.join('\n'));
  if (lost > 0) process.exitCode = 1;
});
