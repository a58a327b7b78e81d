import { availableParallelism } from 'node:os';
import { summarize, type LoadResult } from './load.js';
import type { BenchOptions } from './options.js';

export interface Phase {
  result: LoadResult;
  cpu: { text: string; otherCores: number };
}

const TARGET = 0.4;
/** Above this share of a core used by other processes during a phase, the run is called noisy. */
const NOISY = 0.15;

function row(name: string, result: LoadResult) {
  const s = summarize(result);
  const errors = result.errors ? `  errors ${result.errors} (first: ${result.firstError})` : '';
  const rate = Math.round(s.rate).toString().padStart(5);
  return `${name.padEnd(12)} ${rate} calls/s  p50 ${s.p50.toFixed(1)} ms  p99 ${s.p99.toFixed(1)} ms${errors}`;
}

/** The bench's printed result: the table first, then what it was measured on and how to read it. */
export function report(input: {
  options: BenchOptions;
  database: string;
  serverVersion: string;
  requestBytes: number;
  echo: Phase;
  apply: Phase;
  answers: { newApplied: number; changesApplied: number; otherOutcomes: number };
  aggregates: { count: number; sum: number };
  expected: { count: number; sum: number };
}): { text: string; ok: boolean } {
  const { options: o, echo, apply, aggregates: actual, expected, answers: a } = input;
  const ratio = summarize(apply.result).rate / summarize(echo.result).rate;
  const ok = actual.count === expected.count && actual.sum === expected.sum;
  const experiments = [
    o.pool && `pool ${o.pool}`,
    o.noNotifyTrigger && 'outbox NOTIFY trigger DISABLED',
    o.payloadVolatile && 'event_changed_payload() VOLATILE',
    o.synchronousCommit && `synchronous_commit=${o.synchronousCommit}`,
  ].filter(Boolean);
  const noise = Math.max(echo.cpu.otherCores, apply.cpu.otherCores);
  const lines = [
    `line-provider ApplyScore vs grpc-js echo, ${o.concurrency} in flight, ${o.seconds} s each after ${o.warmup} s warm-up (PostgreSQL ${input.serverVersion}, ${availableParallelism()} cores)`,
    row('echo', echo.result),
    row('ApplyScore', apply.result),
    `ratio        ${ratio.toFixed(2)} (target >= ${TARGET.toFixed(2)})${ratio >= TARGET ? '' : '  BELOW TARGET'}`,
    '',
    `setup: each server in a child process, one grpc-js channel to each from this process; line-provider on database ${input.database}, REDIS_URL=memory:// (its outbox relay publishes in-process)${experiments.length ? `; experiment: ${experiments.join(', ')}` : ''}`,
    `mix: 3 of 4 calls a new score (version 1, random one of ${o.events} events, rate 1-5), 1 of 4 a change (version 2, another rate) of a score applied earlier; ApplyScoreRequest ${input.requestBytes} bytes, echo ${input.requestBytes} bytes each way`,
    `ApplyScore answers (all phases): ${a.newApplied} new + ${a.changesApplied} changes APPLIED, ${a.otherOutcomes} other outcomes`,
    `CPU, echo phase:       ${echo.cpu.text}`,
    `CPU, ApplyScore phase: ${apply.cpu.text}`,
    `aggregates check: ${ok ? 'ok' : 'MISMATCH'} (sum of score_count ${actual.count} vs ${expected.count} distinct scores applied; sum of score_sum ${actual.sum} vs ${expected.sum})`,
  ];
  if (noise > NOISY) {
    lines.push(
      `WARNING: other processes used up to ${Math.round(noise * 100)}% of a core during a phase: the machine was shared, so calls/s and the ratio are unreliable (CPU ms per call less so)`,
    );
  }
  return { text: lines.join('\n'), ok };
}
