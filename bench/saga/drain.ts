import type { ChildProcess } from 'node:child_process';
import type { Database } from '@scoreline/platform';
import { cpuPerUnit, cpuUse, sampleCpu, type CpuSample, type Pids } from '../lib/cpu.js';
import { epochMs, postScore, runClosedLoop, type ApiTarget } from '../lib/load.js';
import { counts, ms } from '../lib/stats.js';
import { JWT_SECRET } from '../lib/setup.js';
import { userTokens } from '../lib/user-tokens.js';

/**
 * A backlog drain: how fast the saga settles scores that are all waiting when the workers start, and
 * what each settled score costs in CPU.
 * 1. With no worker running, `scores` submissions over HTTP (`SUBMIT_IN_FLIGHT` at a time), one per new
 *    user, round-robin over the events given; then, once the outbox holds them all and as many sagas are
 *    in flight, VACUUM ANALYZE on the bench databases (outside the measured window).
 * 2. Starts the workers and samples every `SAMPLE_MS`: CPU by process (/proc) and the sagas in flight.
 * 3. Once none is in flight, settled/s from scores.updated_at (database clock): (settled - those settled
 *    at the first settle time) / (last - first settle time), so that a batch settled by one statement
 *    counts as one instant; the samples give the rate by polling as a cross-check. CPU per score is over
 *    the drain window, from the last sample before the first settlement to the first after the last.
 * 4. The tail (both outboxes and the EventChanged queue empty) on its own; line-provider's aggregates
 *    (GetEvent) against the CONFIRMED scores; then the workers stop, for the next drain's backlog.
 */
const [SUBMIT_IN_FLIGHT, SAMPLE_MS, TAIL_TIMEOUT_MS] = [64, 100, 60_000];

export interface DrainSetup {
  /** "spread" or "hot": names the drain and its users. */
  label: string;
  api: ApiTarget;
  sm: Database;
  lp: Database;
  /** EventChanged messages waiting for score-maker's workers (the platform's Broker.depth()). */
  eventChangedWaiting(): Promise<number>;
  databases: readonly string[];
  eventIds: readonly number[];
  scores: number;
  timeoutMs: number;
  startWorkers(): ChildProcess[];
  stopWorkers(): Promise<void>;
  /** The other processes to report on their own (API, line-provider). */
  others: Pids;
  aggregates(eventIds: readonly number[]): Promise<{ count: number; sum: number }>;
  stopped(): boolean;
}

const sleep = (msec: number) => new Promise((resolve) => setTimeout(resolve, msec));

export async function runDrain(setup: DrainSetup) {
  const { sm, lp, eventIds, label } = setup;
  const one = async (db: Database, sql: string, params?: unknown[]) =>
    (await db.query<{ n: number }>(`SELECT count(*)::int AS n ${sql}`, params)).rows[0]!.n;
  const inFlight = () =>
    one(sm, 'FROM scores WHERE saga_state IS NOT NULL AND event_id = ANY($1)', [eventIds]);
  const unpublished = (db: Database) => one(db, 'FROM outbox WHERE published_at IS NULL');
  let watched: number[] = [process.pid];
  const tick = async () => {
    const cpu: CpuSample = sampleCpu({ comms: ['postgres', 'redis-server'], pids: watched });
    return { at: performance.timeOrigin + cpu.at, cpu, inFlight: await inFlight() };
  };

  // 1. The backlog, with no worker running.
  console.error(`drain (${label}): signing ${setup.scores} user tokens`);
  const tokens = await userTokens(JWT_SECRET, setup.scores, `drain-${label}-`);
  console.error(
    `drain (${label}): submitting ${setup.scores} scores over ${eventIds.length} event(s), no worker running`,
  );
  const submitted = await runClosedLoop({
    concurrency: SUBMIT_IN_FLIGHT,
    count: setup.scores,
    call: async (i) => {
      const { status } = await postScore(setup.api, eventIds[i % eventIds.length]!, tokens[i]!);
      if (status !== '202') throw new Error(status);
    },
  });

  // 2. Every accepted score in the outbox and in flight.
  let [outboxRows, backlog] = [0, 0];
  const waitUntil = Date.now() + 30_000;
  do {
    [outboxRows, backlog] = await Promise.all([unpublished(sm), inFlight()]);
    if (outboxRows >= submitted.calls && backlog === submitted.calls) break;
    await sleep(100);
  } while (Date.now() < waitUntil && !setup.stopped());
  await sm.exec('VACUUM ANALYZE');
  await lp.exec('VACUUM ANALYZE');

  // 3. The workers, and the samples.
  console.error(`drain (${label}): ${backlog} sagas in flight; starting the worker(s)`);
  watched = [process.pid, ...Object.values(setup.others).filter((pid) => pid !== undefined)];
  const ticks = [await tick()];
  const spawnedAt = epochMs();
  const workers = setup.startWorkers();
  watched.push(...workers.map((w) => w.pid).filter((pid) => pid !== undefined));
  const giveUpAt = Date.now() + setup.timeoutMs;
  let failure: string | undefined;
  for (let next = Date.now(); ;) {
    next += SAMPLE_MS;
    await sleep(Math.max(0, next - Date.now()));
    const t = await tick();
    ticks.push(t);
    const exited = workers.findIndex((w) => w.exitCode !== null || w.signalCode !== null);
    if (t.inFlight === 0) break;
    else if (exited >= 0)
      failure = `worker ${exited + 1} exited (${workers[exited]!.exitCode ?? workers[exited]!.signalCode})`;
    else if (setup.stopped()) failure = 'interrupted';
    else if (Date.now() > giveUpAt)
      failure = `timed out after ${setup.timeoutMs / 1000} s with ${t.inFlight} sagas in flight`;
    if (failure) break;
  }
  ticks.push(await tick());
  const end = ticks[ticks.length - 1]!;

  // 4. Settle times, from the database.
  const { rows } = await sm.query<{ status: string; settled: boolean; at: number; rate: number }>(
    `SELECT status, saga_state IS NULL AS settled, rate, (extract(epoch FROM updated_at) * 1000)::float8 AS at
     FROM scores WHERE event_id = ANY($1::bigint[])`,
    [eventIds],
  );
  const settled = rows.filter((r) => r.settled);
  const times = settled.map((r) => r.at).sort((a, b) => a - b);
  const [first, last] = [times[0] ?? Number.NaN, times[times.length - 1] ?? Number.NaN];
  const atFirst = times.filter((t) => t === first).length;
  const rate = last > first ? (settled.length - atFirst) / ((last - first) / 1000) : Number.NaN;
  const bySecond: number[] = [];
  for (const t of times)
    bySecond[Math.floor((t - first) / 1000)] = (bySecond[Math.floor((t - first) / 1000)] ?? 0) + 1;
  // The same rate by polling: from the first sample that saw a settlement to the first that saw none in flight.
  const [seen, cleared] = [
    ticks.findIndex((t) => t.inFlight < backlog),
    ticks.findIndex((t) => t.inFlight === 0),
  ];
  const polledRate =
    seen >= 0 && cleared > seen
      ? (ticks[seen]!.inFlight - ticks[cleared]!.inFlight) / ((ticks[cleared]!.at - ticks[seen]!.at) / 1000)
      : Number.NaN;

  // CPU over the drain window, ms per settled score.
  const named = { ...setup.others, ...Object.fromEntries(workers.map((w, i) => [`worker ${i + 1}`, w.pid])) };
  const windowStart = ticks.findLast((t) => t.at <= first) ?? ticks[0]!;
  const windowEnd = ticks.find((t) => t.at >= last) ?? end;
  const use = (a: typeof end, b: typeof end) => cpuUse(a.cpu, b.cpu, named, setup.databases);
  const windowUse = use(windowStart, windowEnd);

  // 5. The tail.
  const tailFrom = epochMs();
  let tailDone = false;
  while (!tailDone && epochMs() - tailFrom < TAIL_TIMEOUT_MS && !setup.stopped()) {
    const left = await Promise.all([unpublished(sm), unpublished(lp), setup.eventChangedWaiting()]);
    tailDone = left.every((n) => n === 0);
    if (!tailDone) await sleep(SAMPLE_MS);
  }
  const tailEnd = await tick();

  // 6. line-provider's aggregates against the CONFIRMED scores.
  const confirmed = rows.filter((r) => r.status === 'CONFIRMED');
  const confirmedSum = confirmed.reduce((sum, r) => sum + r.rate, 0);
  const aggregates = await setup.aggregates(eventIds);
  const correct = aggregates.count === confirmed.length && aggregates.sum === confirmedSum;
  const statuses = new Map<string, number>();
  for (const r of rows) statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);

  // 7. No worker for the next drain.
  await setup.stopWorkers();

  const unsettled = rows.length - settled.length;
  const complete = failure === undefined && unsettled === 0 && submitted.calls === setup.scores;
  const spread = Array.from(bySecond, (b) => b ?? 0);
  const secondsText =
    spread.length <= 60
      ? spread.join(' ')
      : `${spread.slice(0, 30).join(' ')} … ${spread.slice(-10).join(' ')}`;
  const seconds = (a: { at: number }, b: { at: number }) => ((b.at - a.at) / 1000).toFixed(1);
  const submitSeconds = submitted.elapsedMs / 1000;
  const lines = [
    `  submitted ${setup.scores} over HTTP with no worker running in ${submitSeconds.toFixed(1)} s (${(setup.scores / submitSeconds).toFixed(0)}/s, ${SUBMIT_IN_FLIGHT} in flight): 202s ${submitted.calls}, refused: ${counts(submitted.errors)}; then the outbox held ${outboxRows} unpublished rows and ${backlog} sagas were in flight`,
    `  worker(s) started -> first settlement ${ms(first - spawnedAt)} (process start included); first -> last settlement ${ms(last - first)}`,
    `  settled/s, first -> last settlement (scores.updated_at, database clock): ${Number.isFinite(rate) ? rate.toFixed(1) : 'n/a'}; by polling every ${SAMPLE_MS} ms: ${Number.isFinite(polledRate) ? polledRate.toFixed(1) : 'n/a'}`,
    `  settled by second: ${secondsText || 'none'}`,
    `  outcome: ${counts(statuses)}; settled ${settled.length}, in flight ${unsettled}${failure ? `; STOPPED: ${failure}` : ''}`,
    `  CPU ms per settled score over the drain window (${seconds(windowStart, windowEnd)} s): ${cpuPerUnit(windowUse, settled.length, 'ms', 'this bench')}`,
    `  the tail, after the last settlement until both outboxes and the EventChanged queue were empty (${seconds(windowEnd, tailEnd)} s${tailDone ? '' : ', gave up waiting'}), ms per score: ${cpuPerUnit(use(windowEnd, tailEnd), settled.length, 'ms', 'this bench')}`,
    `  line-provider's aggregates (GetEvent) of the ${eventIds.length} event(s): score counts sum to ${aggregates.count}, CONFIRMED scores ${confirmed.length}; rates sum to ${aggregates.sum}, CONFIRMED rates ${confirmedSum}: ${correct ? 'they agree' : 'MISMATCH'}`,
  ];
  const name = label === 'hot' ? 'hot-event' : 'spread-out';
  if (!correct)
    lines.push(`  WARNING: the ${name} drain's line-provider aggregates disagree with its CONFIRMED scores`);
  if (!complete) lines.push(`  WARNING: the ${name} drain did not settle every score it submitted`);
  if (settled.length > confirmed.length)
    lines.push(
      `  WARNING: the ${name} drain settled ${settled.length - confirmed.length} scores otherwise than CONFIRMED, on open events: compensations (the workers' warnings above say why)`,
    );
  if (!correct || !complete) process.exitCode = 1;
  const machineMsPerScore = ((windowUse.machine?.busy ?? Number.NaN) * 1000) / Math.max(1, settled.length);
  return { rate, machineMsPerScore, lines };
}
