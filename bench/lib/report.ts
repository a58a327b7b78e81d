import { availableParallelism } from 'node:os';
import { summarize, type LoadResult } from './load.js';
import type { BenchOptions } from './options.js';

export interface Phase {
  result: LoadResult;
  cpu: { text: string; otherCores: number };
}

/** One measurement of each: echo, ApplyScore one score a call, ApplyScores `options.batch` a call. */
export interface Round {
  echo: Phase;
  apply: Phase;
  batch: Phase;
}

const TARGET = 0.4;
/** Above this share of a core used by other processes during a phase, the run is called noisy. */
const NOISY = 0.15;

function row(name: string, result: LoadResult, itemsPerCall = 1) {
  const s = summarize(result);
  const errors = result.errors ? `  errors ${result.errors} (first: ${result.firstError})` : '';
  const rate = Math.round(s.rate).toString().padStart(5);
  const items = itemsPerCall > 1 ? `  = ${Math.round(s.rate * itemsPerCall)} items/s` : '';
  return `${name.padEnd(12)} ${rate} calls/s${items}  p50 ${s.p50.toFixed(1)} ms  p99 ${s.p99.toFixed(1)} ms${errors}`;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** The bench's printed result: the table first, then what it was measured on and how to read it. */
export function report(input: {
  options: BenchOptions;
  database: string;
  serverVersion: string;
  requestBytes: number;
  rounds: Round[];
  answers: { newApplied: number; changesApplied: number; otherOutcomes: number };
  aggregates: { count: number; sum: number };
  expected: { count: number; sum: number };
}): { text: string; ok: boolean } {
  const { options: o, rounds, aggregates: actual, expected, answers: a } = input;
  const rate = (phase: Phase) => summarize(phase.result).rate;
  const singleRatios = rounds.map((r) => rate(r.apply) / rate(r.echo));
  const itemRatios = rounds.map((r) => (rate(r.batch) * o.batch) / rate(r.echo));
  const ok = actual.count === expected.count && actual.sum === expected.sum;
  const experiments = [
    o.pool && `pool ${o.pool}`,
    o.noNotifyTrigger && 'outbox NOTIFY trigger DISABLED',
    o.payloadVolatile && 'event_changed_payload() VOLATILE',
    o.synchronousCommit && `synchronous_commit=${o.synchronousCommit}`,
  ].filter(Boolean);
  const noise = Math.max(...rounds.flatMap((r) => [r.echo, r.apply, r.batch].map((p) => p.cpu.otherCores)));
  const lines = [
    `line-provider ApplyScore and ApplyScores vs grpc-js echo, ${o.seconds} s each after ${o.warmup} s warm-up, ${rounds.length} round(s) (PostgreSQL ${input.serverVersion}, ${availableParallelism()} cores)`,
    `in flight: echo and ApplyScore ${o.concurrency}, ApplyScores ${o.batchConcurrency} (${o.batch} items each)`,
  ];
  for (const [i, r] of rounds.entries()) {
    if (rounds.length > 1) lines.push(`round ${i + 1}`);
    lines.push(
      row('echo', r.echo.result),
      row('ApplyScore', r.apply.result),
      row('ApplyScores', r.batch.result, o.batch),
      `ratios       ApplyScore/echo ${singleRatios[i]!.toFixed(2)}, ApplyScores items/echo calls ${itemRatios[i]!.toFixed(2)}`,
    );
  }
  const single = median(singleRatios);
  lines.push(
    `${rounds.length > 1 ? 'median ' : ''}ApplyScore/echo ${single.toFixed(2)} (target >= ${TARGET.toFixed(2)})${single >= TARGET ? '' : '  BELOW TARGET'}; ` +
      `ApplyScores ${Math.round(median(rounds.map((r) => rate(r.batch) * o.batch)))} items/s = ${median(itemRatios).toFixed(2)} x echo calls/s ` +
      `(echo ${Math.round(median(rounds.map((r) => rate(r.echo))))} calls/s)`,
    '',
    `setup: each server in a child process, one grpc-js channel to each from this process; line-provider on database ${input.database}, REDIS_URL=memory:// (its outbox relay publishes in-process)${experiments.length ? `; experiment: ${experiments.join(', ')}` : ''}`,
    `mix (each ApplyScore, each ApplyScores item): 3 of 4 a new score (version 1, random one of ${o.events} events, rate 1-5), 1 of 4 a change (version 2, another rate) of a score applied earlier; ApplyScoreRequest ${input.requestBytes} bytes, echo ${input.requestBytes} bytes each way`,
    `answers (all phases, per score): ${a.newApplied} new + ${a.changesApplied} changes APPLIED, ${a.otherOutcomes} other outcomes`,
  );
  for (const [i, r] of rounds.entries()) {
    const tag = rounds.length > 1 ? ` (round ${i + 1})` : '';
    lines.push(
      `CPU, echo phase${tag}:        ${r.echo.cpu.text}`,
      `CPU, ApplyScore phase${tag}:  ${r.apply.cpu.text}`,
      `CPU, ApplyScores phase${tag}: ${r.batch.cpu.text}`,
    );
  }
  lines.push(
    `aggregates check: ${ok ? 'ok' : 'MISMATCH'} (sum of score_count ${actual.count} vs ${expected.count} distinct scores applied; sum of score_sum ${actual.sum} vs ${expected.sum})`,
  );
  if (noise > NOISY) {
    lines.push(
      `WARNING: other processes used up to ${Math.round(noise * 100)}% of a core during a phase: the machine was shared, so calls/s and the ratios are unreliable (CPU ms per call less so)`,
    );
  }
  return { text: lines.join('\n'), ok };
}
