/**
 * line-provider's ApplyScore (one score a call) and ApplyScores (a batch a call) against a plain grpc-js
 * echo, measured in one run from one client process; with --rounds N, N times, alternating.
 *
 *   npm run bench:line-provider -- [--seconds 10] [--warmup 2] [--concurrency 64] [--events 20]
 *        [--batch 100] [--batch-concurrency 8] [--rounds 1]
 *        [--set KEY=VALUE ...] [--node-args "..."] [--no-notify-trigger]      (--help lists them)
 *
 * Both servers run in child processes, line-provider over real PostgreSQL in a database of its own
 * (scoreline_bench_lp on BENCH_DATABASE_URL's server, dropped and recreated at start and dropped at
 * the end) with REDIS_URL=memory:// (its outbox relay publishes in-process). Each phase is a closed
 * loop (a warm-up, then the measured part): echo calls, ApplyScore calls, ApplyScores calls of --batch
 * items, all drawn from one mix (3 of 4 a new score, 1 of 4 a change of an earlier one). Printed: calls/s
 * (and items/s), p50/p99 latency, the ratios to echo against the target, where the CPU went in each phase
 * and CPU ms per call or item, and line-provider's aggregates checked against what was applied.
 * Experiments: --set passes settings to line-provider (LINE_PROVIDER_DATABASE_POOL_SIZE, …);
 * --node-args its node options ("--cpu-prof --cpu-prof-dir /tmp/lp-prof": a profile is written when
 * the bench stops it; "--perf-basic-prof" for `perf record -p <pid>`). Not a test, and never run by
 * `npm test`: it prints figures and ratios.
 */
import { availableParallelism } from 'node:os';
import { cpuPerUnit, cpuUse, describeCpu, sampleCpu, type Pids } from '../lib/cpu.js';
import { runClosedLoop } from '../lib/load.js';
import { parseOptions, SHARED } from '../lib/options.js';
import { startReference } from '../lib/reference-servers.js';
import { disableNotify, runBench, startLineProvider } from '../lib/setup.js';
import { counts, median, summarize } from '../lib/stats.js';
import { createApplyWorkload } from './workload.js';

const DB = 'scoreline_bench_lp';
/** ApplyScore calls/s at least this share of echo's. */
const TARGET = 0.4;
/** Above this share of a core used by other processes during a phase, the run is called noisy. */
const NOISY = 0.15;

const o = parseOptions('npm run bench:line-provider -- [options]', {
  seconds: [10, 'measured phase of each server'],
  warmup: [2, 'warm-up before each measured phase, not counted'],
  concurrency: [64, 'echo and ApplyScore calls in flight'],
  events: [20, 'events the scores go to'],
  batch: [100, 'items per ApplyScores call, at most 1000 (line-provider refuses more)'],
  'batch-concurrency': [8, 'ApplyScores calls in flight'],
  rounds: [1, 'measure echo, ApplyScore and ApplyScores N times, alternating: each round and the medians'],
  ...SHARED,
});

await runBench({ name: 'lp', databases: [DB], redis: false, ...o }, async (bench) => {
  const { child: echo, echo: echoClient } = await startReference('echo', bench.env.PATH!);
  bench.onCleanup(() => echoClient!.close());
  const lp = await startLineProvider(bench, DB, o['node-args']);
  const db = await bench.open(DB, 1);
  if (o['no-notify-trigger']) await disableNotify(db);
  const workload = createApplyWorkload(lp.client, await lp.createEvents(o.events, 'Bench event'));
  const payload = Buffer.alloc(workload.requestBytes(), 7);

  const phase = async (named: Pids, concurrency: number, call: () => Promise<unknown>) => {
    if (o.warmup > 0) await runClosedLoop({ seconds: o.warmup, concurrency, call });
    const before = sampleCpu();
    const result = await runClosedLoop({ seconds: o.seconds, concurrency, call });
    return { result, cpu: cpuUse(before, sampleCpu(), named, [DB]) };
  };
  type Phase = Awaited<ReturnType<typeof phase>>;
  const rounds: { echo: Phase; apply: Phase; batch: Phase }[] = [];
  for (let i = 0; i < o.rounds; i++) {
    rounds.push({
      echo: await phase({ 'echo server': echo.pid }, o.concurrency, () => echoClient!.echo(payload)),
      apply: await phase({ 'line-provider': lp.child.pid }, o.concurrency, () => workload.call()),
      batch: await phase({ 'line-provider': lp.child.pid }, o['batch-concurrency'], () =>
        workload.callBatch(o.batch),
      ),
    });
  }
  const { rows } = await db.query<{ count: number; sum: number }>(
    'SELECT coalesce(sum(score_count), 0)::int8 AS count, coalesce(sum(score_sum), 0)::int8 AS sum FROM events',
  );
  const [actual, expected] = [rows[0]!, workload.expected()];
  const ok = Number(actual.count) === expected.count && Number(actual.sum) === expected.sum;

  const rate = (p: Phase) => (p.result.calls / p.result.elapsedMs) * 1000;
  const row = (name: string, p: Phase, items = 1) => {
    const s = summarize(p.result.latenciesMs);
    const errors = p.result.errors.size ? `  errors: ${counts(p.result.errors)}` : '';
    const perItem = items > 1 ? `  = ${Math.round(rate(p) * items)} items/s` : '';
    return `${name.padEnd(12)} ${Math.round(rate(p)).toString().padStart(5)} calls/s${perItem}  p50 ${s.p50.toFixed(1)} ms  p99 ${s.p99.toFixed(1)} ms${errors}`;
  };
  const singleRatios = rounds.map((r) => rate(r.apply) / rate(r.echo));
  const itemRatios = rounds.map((r) => (rate(r.batch) * o.batch) / rate(r.echo));
  const experiments = [
    ...Object.entries(o.overrides).map(([k, v]) => `${k}=${v}`),
    o['no-notify-trigger'] && 'outbox NOTIFY trigger DISABLED',
    o['node-args'] && `line-provider under node ${o['node-args']}`,
  ].filter(Boolean);
  const lines = [
    `line-provider ApplyScore and ApplyScores vs grpc-js echo, ${o.seconds} s each after ${o.warmup} s warm-up, ${rounds.length} round(s) (PostgreSQL ${bench.pgVersion}, ${availableParallelism()} cores)`,
    `in flight: echo and ApplyScore ${o.concurrency}, ApplyScores ${o['batch-concurrency']} (${o.batch} items each)`,
  ];
  for (const [i, r] of rounds.entries()) {
    if (rounds.length > 1) lines.push(`round ${i + 1}`);
    lines.push(
      row('echo', r.echo),
      row('ApplyScore', r.apply),
      row('ApplyScores', r.batch, o.batch),
      `ratios       ApplyScore/echo ${singleRatios[i]!.toFixed(2)}, ApplyScores items/echo calls ${itemRatios[i]!.toFixed(2)}`,
    );
  }
  const single = median(singleRatios);
  const a = workload.counts;
  lines.push(
    `${rounds.length > 1 ? 'median ' : ''}ApplyScore/echo ${single.toFixed(2)} (target >= ${TARGET.toFixed(2)})${single >= TARGET ? '' : '  BELOW TARGET'}; ` +
      `ApplyScores ${Math.round(median(rounds.map((r) => rate(r.batch) * o.batch)))} items/s = ${median(itemRatios).toFixed(2)} x echo calls/s ` +
      `(echo ${Math.round(median(rounds.map((r) => rate(r.echo))))} calls/s)`,
    '',
    `setup: each server in a child process, one grpc-js channel to each from this process; line-provider on database ${DB}, REDIS_URL=memory:// (its outbox relay publishes in-process)${experiments.length ? `; experiment: ${experiments.join(', ')}` : ''}`,
    `mix (each ApplyScore, each ApplyScores item): 3 of 4 a new score (version 1, random one of ${o.events} events, rate 1-5), 1 of 4 a change (version 2, another rate) of a score applied earlier; ApplyScoreRequest ${payload.length} bytes, echo ${payload.length} bytes each way`,
    `answers (all phases, per score): ${a.newApplied} new + ${a.changesApplied} changes APPLIED, ${a.otherOutcomes} other outcomes`,
  );
  for (const [i, r] of rounds.entries()) {
    for (const [name, p, unit] of [
      ['echo', r.echo, 'call'],
      ['ApplyScore', r.apply, 'call'],
      ['ApplyScores', r.batch, 'item'],
    ] as const) {
      const units = p.result.calls * (unit === 'item' ? o.batch : 1);
      lines.push(
        `CPU, ${name} phase${rounds.length > 1 ? ` (round ${i + 1})` : ''}: ${describeCpu(p.cpu, 'bench client')}`,
        `    CPU ms per ${unit}: ${cpuPerUnit(p.cpu, units, 'ms', 'client')}`,
      );
    }
  }
  lines.push(
    `aggregates check: ${ok ? 'ok' : 'MISMATCH'} (sum of score_count ${actual.count} vs ${expected.count} distinct scores applied; sum of score_sum ${actual.sum} vs ${expected.sum})`,
  );
  const noise = Math.max(...rounds.flatMap((r) => [r.echo, r.apply, r.batch].map((p) => p.cpu.noise)));
  if (noise > NOISY) {
    lines.push(
      `WARNING: other processes used up to ${Math.round(noise * 100)}% of a core during a phase: the machine was shared, so calls/s and the ratios are unreliable (CPU ms per call less so)`,
    );
  }
  console.log(lines.join('\n'));
  if (!ok) process.exitCode = 1;
});
