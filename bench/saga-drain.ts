import http from 'node:http';
import type { ChildProcess } from 'node:child_process';
import type { Redis } from 'ioredis';
import type { Database } from '@scoreline/platform';
import { cpuSeconds, postgresSeconds, sampleFocused, type CpuSample } from './saga-cpu.js';
import { epochMs } from './saga-load.js';
import { ms } from './saga-stats.js';
import { userTokens } from './user-tokens.js';

/**
 * A backlog drain for bench/saga.ts: how fast the saga settles scores that are all waiting when the
 * workers start, and what each settled score costs in CPU.
 *
 * 1. With no worker running, `scores` submissions go to the API over HTTP (POST /events/{id}/score,
 *    `SUBMIT_IN_FLIGHT` at a time: T1 as the API runs it, whatever T1 becomes), one per (user, event),
 *    every user a new one, spread round-robin over the events given.
 * 2. Waits until the outbox holds a row for each (nothing publishes them: the relay runs in the
 *    workers) and the scores table as many sagas in flight, then VACUUM ANALYZE on the bench databases
 *    (the bench's server may run with autovacuum off; this way every drain starts from the same state
 *    and the planner knows the tables' sizes), outside the measured window.
 * 3. Starts the workers and samples every `SAMPLE_MS`: the CPU time of every `postgres` process, of the
 *    children and of this process from /proc/<pid>/stat, the machine's from /proc/stat, Redis's own
 *    (INFO cpu: the whole server, so other users of a shared Redis count too), and the sagas in flight
 *    among these scores (the partial index of sagas in flight). "everything else" is the machine's
 *    busy time less all of those: other work on a shared machine.
 * 4. Once none is in flight, the settle times: scores.updated_at of every settled row (set by the
 *    settling statement: the start of its transaction, database clock). settled/s is
 *    (settled - those settled at the first settle time) / (last settle time - first settle time), so
 *    that a batch settled by one statement counts as one instant; the samples give the same rate by
 *    polling as a cross-check. CPU per score is over the drain window: from the last sample before the
 *    first settlement to the first sample after the last, divided by the scores settled.
 * 5. The tail: the work left after the last settlement (both outboxes' unpublished rows, line-provider's
 *    EventChanged messages waiting in score-maker's queue), until it is done, reported on its own.
 * 6. line-provider's aggregates (GetEvent) of these events against score-maker's CONFIRMED scores:
 *    the sum of the events' score counts must equal the CONFIRMED scores, and the sums of rates agree.
 * 7. Stops the workers, so that the next drain starts from a backlog again.
 */

const SUBMIT_IN_FLIGHT = 64;
const SAMPLE_MS = 100;
const TAIL_TIMEOUT_MS = 60_000;

export interface DrainSetup {
  /** "spread" or "hot": names the drain in its figures. */
  label: string;
  api: { host: string; port: number; agent: http.Agent };
  sm: Database;
  lp: Database;
  redis: Redis;
  /** EventChanged messages waiting for score-maker's workers (the platform's Broker.depth()). */
  eventChangedWaiting(): Promise<number>;
  /** The bench's databases: their backends' CPU is told apart from other databases'. */
  benchDatabases: readonly string[];
  eventIds: readonly number[];
  scores: number;
  /** Prefix of the users' subjects: every drain has users of its own. */
  userTag: string;
  jwtSecret: string;
  timeoutMs: number;
  /** Starts the score-maker workers; returns them. */
  startWorkers(): ChildProcess[];
  stopWorkers(): Promise<void>;
  /** The other processes to report on their own (API, line-provider). */
  others: Record<string, number | undefined>;
  /** line-provider's aggregates of these events, summed (GetEvent). */
  aggregates(eventIds: readonly number[]): Promise<{ count: number; sum: number }>;
}

export interface DrainResult {
  /** Settled a second, first to last settlement (NaN when fewer than two settle times). */
  rate: number;
  machineMsPerScore: number;
  /** Settled otherwise than CONFIRMED: every event is open, so each one is a compensation. */
  notConfirmed: number;
  correct: boolean;
  complete: boolean;
  lines: string[];
}

const sleep = (msec: number) => new Promise((resolve) => setTimeout(resolve, msec));

let stopRequested = false;
/** Ends the submissions and the wait in progress (Ctrl-C). */
export function stopDrain(): void {
  stopRequested = true;
}

interface Submitted {
  accepted: number;
  refused: Map<string, number>;
  seconds: number;
}

/** Closed loop: `SUBMIT_IN_FLIGHT` requests in flight until every score has been sent once. */
async function submitAll(setup: DrainSetup, tokens: readonly string[]): Promise<Submitted> {
  const refused = new Map<string, number>();
  const refuse = (key: string) => refused.set(key, (refused.get(key) ?? 0) + 1);
  let accepted = 0;
  let next = 0;
  const one = (i: number) =>
    new Promise<void>((resolve) => {
      let done = false;
      const finish = (refusal?: string) => {
        if (done) return;
        done = true;
        if (refusal === undefined) accepted++;
        else refuse(refusal);
        resolve();
      };
      const body = `{"score":${1 + Math.floor(Math.random() * 5)}}`;
      const request = http.request(
        {
          agent: setup.api.agent,
          host: setup.api.host,
          port: setup.api.port,
          method: 'POST',
          path: `/events/${setup.eventIds[i % setup.eventIds.length]}/score`,
          headers: {
            authorization: tokens[i],
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
          },
        },
        (response) => {
          response.resume();
          response.on('end', () =>
            finish(response.statusCode === 202 ? undefined : String(response.statusCode)),
          );
          response.on('error', (error: NodeJS.ErrnoException) => finish(error.code ?? error.message));
        },
      );
      request.on('error', (error: NodeJS.ErrnoException) => finish(error.code ?? error.message));
      request.setTimeout(30_000, () =>
        request.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })),
      );
      request.end(body);
    });
  const lane = async () => {
    while (next < setup.scores && !stopRequested) await one(next++);
  };
  const startedAt = epochMs();
  await Promise.all(Array.from({ length: SUBMIT_IN_FLIGHT }, lane));
  return { accepted, refused, seconds: (epochMs() - startedAt) / 1000 };
}

interface Tick {
  /** Epoch ms (this machine's clock, as the database's). */
  at: number;
  cpu: CpuSample;
  /** Redis's used_cpu_sys + used_cpu_user (seconds). */
  redisCpu: number;
  inFlight: number;
}

export async function runDrain(setup: DrainSetup): Promise<DrainResult> {
  const { sm, lp, redis, eventIds } = setup;
  stopRequested = false;
  const inFlight = async () =>
    (
      await sm.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM scores WHERE saga_state IS NOT NULL AND event_id = ANY($1::bigint[])',
        [eventIds],
      )
    ).rows[0]!.n;
  const unpublished = async (db: Database) =>
    (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM outbox WHERE published_at IS NULL'))
      .rows[0]!.n;
  const redisCpu = async () => {
    const info = await redis.info('cpu');
    const value = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? 0);
    return value('used_cpu_sys') + value('used_cpu_user');
  };
  let watched: number[] = [process.pid];
  const tick = async (): Promise<Tick> => {
    const cpu = sampleFocused(['postgres'], watched);
    const [r, n] = await Promise.all([redisCpu(), inFlight()]);
    return { at: performance.timeOrigin + cpu.at, cpu, redisCpu: r, inFlight: n };
  };

  // 1. The backlog, with no worker running.
  console.error(`drain (${setup.label}): signing ${setup.scores} user tokens`);
  const tokens = await userTokens(setup.jwtSecret, setup.scores, `${setup.userTag}-`);
  console.error(
    `drain (${setup.label}): submitting ${setup.scores} scores over ${eventIds.length} event(s), no worker running`,
  );
  const submitted = await submitAll(setup, tokens);

  // 2. Every accepted score in the outbox and in flight.
  let outboxRows = 0;
  let backlog = 0;
  const waitUntil = Date.now() + 30_000;
  do {
    [outboxRows, backlog] = await Promise.all([unpublished(sm), inFlight()]);
    if (outboxRows >= submitted.accepted && backlog === submitted.accepted) break;
    await sleep(100);
  } while (Date.now() < waitUntil && !stopRequested);
  await sm.exec('VACUUM ANALYZE');
  await lp.exec('VACUUM ANALYZE');

  // 3. The workers, and the samples.
  console.error(`drain (${setup.label}): ${backlog} sagas in flight; starting the worker(s)`);
  watched = [process.pid, ...Object.values(setup.others).filter((pid) => pid !== undefined)];
  const ticks: Tick[] = [await tick()];
  const spawnedAt = epochMs();
  const workers = setup.startWorkers();
  watched.push(...workers.map((w) => w.pid).filter((pid) => pid !== undefined));
  const giveUpAt = Date.now() + setup.timeoutMs;
  let failure: string | undefined;
  let next = Date.now();
  for (;;) {
    next += SAMPLE_MS;
    await sleep(Math.max(0, next - Date.now()));
    const t = await tick();
    ticks.push(t);
    if (t.inFlight === 0) break;
    const exited = workers.findIndex((w) => w.exitCode !== null || w.signalCode !== null);
    if (exited >= 0) {
      failure = `worker ${exited + 1} exited (${workers[exited]!.exitCode ?? workers[exited]!.signalCode})`;
      break;
    }
    if (stopRequested) {
      failure = 'interrupted';
      break;
    }
    if (Date.now() > giveUpAt) {
      failure = `timed out after ${setup.timeoutMs / 1000} s with ${t.inFlight} sagas in flight`;
      break;
    }
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
  const first = times[0] ?? Number.NaN;
  const last = times[times.length - 1] ?? Number.NaN;
  const atFirst = times.filter((t) => t === first).length;
  const rate = last > first ? (settled.length - atFirst) / ((last - first) / 1000) : Number.NaN;
  const buckets: number[] = [];
  for (const t of times) {
    const i = Math.floor((t - first) / 1000);
    buckets[i] = (buckets[i] ?? 0) + 1;
  }
  const bySecond = Array.from(buckets, (b) => b ?? 0);
  // The same rate by polling: from the first sample that saw a settlement to the first that saw none in flight.
  const seen = ticks.findIndex((t) => t.inFlight < backlog);
  const cleared = ticks.findIndex((t) => t.inFlight === 0);
  const polledRate =
    seen >= 0 && cleared > seen
      ? (ticks[seen]!.inFlight - ticks[cleared]!.inFlight) / ((ticks[cleared]!.at - ticks[seen]!.at) / 1000)
      : Number.NaN;

  // CPU over the drain window.
  const workerPids = Object.fromEntries(workers.map((w, i) => [`worker ${i + 1}`, w.pid]));
  const named = { ...setup.others, ...workerPids };
  const windowStart = [...ticks].reverse().find((t) => t.at <= first) ?? ticks[0]!;
  const windowEnd = ticks.find((t) => t.at >= last) ?? end;
  const perScore = (seconds: number) => (seconds * 1000) / Math.max(1, settled.length);
  const cpuText = (a: Tick, b: Tick) => {
    const s = cpuSeconds(a.cpu, b.cpu, named);
    const pg = postgresSeconds(a.cpu, b.cpu, setup.benchDatabases);
    const redisSeconds = b.redisCpu - a.redisCpu;
    const workerSeconds = Object.keys(workerPids).reduce((sum, k) => sum + (s[k] ?? 0), 0);
    const machineSeconds = s['machine busy'] ?? Number.NaN;
    const attributed =
      pg.total +
      redisSeconds +
      (s['load generator'] ?? 0) +
      Object.keys(named).reduce((sum, k) => sum + (s[k] ?? 0), 0);
    const f = (seconds: number) => perScore(seconds).toFixed(3);
    const workerText =
      workers.length > 1
        ? `workers ${f(workerSeconds)} (${Object.keys(workerPids)
            .map((k) => f(s[k] ?? 0))
            .join(' + ')})`
        : `worker ${f(workerSeconds)}`;
    const machine = a.cpu.machine && b.cpu.machine ? { a: a.cpu.machine, b: b.cpu.machine } : undefined;
    const busyShare = machine ? (machine.b.busy - machine.a.busy) / (machine.b.total - machine.a.total) : NaN;
    return {
      machineSeconds,
      text: `postgres ${f(pg.total)} (bench databases' backends ${f(pg.ours)}, server processes ${f(pg.server)}, other databases' backends ${f(pg.otherDatabases)}), line-provider ${f(s['line-provider'] ?? 0)}, ${workerText}, score-maker API ${f(s['score-maker API'] ?? 0)}, Redis ${f(redisSeconds)} (INFO cpu), this bench ${f(s['load generator'] ?? 0)}, everything else ${f(machineSeconds - attributed)}; machine ${f(machineSeconds)} (busy ${Math.round(busyShare * 100)}% of its cores)`,
    };
  };
  const windowCpu = cpuText(windowStart, windowEnd);

  // 5. The tail.
  const tailFrom = epochMs();
  let tailDone = false;
  while (!tailDone && epochMs() - tailFrom < TAIL_TIMEOUT_MS && !stopRequested) {
    const [smRows, lpRows, ec] = await Promise.all([
      unpublished(sm),
      unpublished(lp),
      setup.eventChangedWaiting(),
    ]);
    tailDone = smRows === 0 && lpRows === 0 && ec === 0;
    if (!tailDone) await sleep(SAMPLE_MS);
  }
  const tailEnd = await tick();
  const tailCpu = cpuText(windowEnd, tailEnd);

  // 6. line-provider's aggregates against the CONFIRMED scores.
  const confirmed = rows.filter((r) => r.status === 'CONFIRMED');
  const confirmedSum = confirmed.reduce((sum, r) => sum + r.rate, 0);
  const aggregates = await setup.aggregates(eventIds);
  const correct = aggregates.count === confirmed.length && aggregates.sum === confirmedSum;
  const statuses = new Map<string, number>();
  for (const r of rows) statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);

  // 7. No worker for the next drain.
  await setup.stopWorkers();

  const refused = [...submitted.refused].map(([k, v]) => `${k}: ${v}`).join(', ') || 'none';
  const unsettled = rows.length - settled.length;
  const complete = failure === undefined && unsettled === 0 && submitted.accepted === setup.scores;
  const secondsText =
    bySecond.length <= 60
      ? bySecond.join(' ')
      : `${bySecond.slice(0, 30).join(' ')} … ${bySecond.slice(-10).join(' ')}`;
  const lines = [
    `  submitted ${setup.scores} over HTTP with no worker running in ${submitted.seconds.toFixed(1)} s (${(setup.scores / submitted.seconds).toFixed(0)}/s, ${SUBMIT_IN_FLIGHT} in flight): 202s ${submitted.accepted}, refused: ${refused}; then the outbox held ${outboxRows} unpublished rows and ${backlog} sagas were in flight`,
    `  worker(s) started -> first settlement ${ms(first - spawnedAt)} (process start included); first -> last settlement ${ms(last - first)}`,
    `  settled/s, first -> last settlement (scores.updated_at, database clock): ${Number.isFinite(rate) ? rate.toFixed(1) : 'n/a'}; by polling every ${SAMPLE_MS} ms: ${Number.isFinite(polledRate) ? polledRate.toFixed(1) : 'n/a'}`,
    `  settled by second: ${secondsText || 'none'}`,
    `  outcome: ${[...statuses].map(([k, v]) => `${k} ${v}`).join(', ') || 'no rows'}; settled ${settled.length}, in flight ${unsettled}${failure ? `; STOPPED: ${failure}` : ''}`,
    `  CPU ms per settled score over the drain window (${((windowEnd.at - windowStart.at) / 1000).toFixed(1)} s): ${windowCpu.text}`,
    `  the tail, after the last settlement until both outboxes and the EventChanged queue were empty (${((tailEnd.at - windowEnd.at) / 1000).toFixed(1)} s${tailDone ? '' : ', gave up waiting'}), ms per score: ${tailCpu.text}`,
    `  line-provider's aggregates (GetEvent) of the ${eventIds.length} event(s): score counts sum to ${aggregates.count}, CONFIRMED scores ${confirmed.length}; rates sum to ${aggregates.sum}, CONFIRMED rates ${confirmedSum}: ${correct ? 'they agree' : 'MISMATCH'}`,
  ];
  return {
    rate,
    machineMsPerScore: perScore(windowCpu.machineSeconds),
    notConfirmed: settled.length - confirmed.length,
    correct,
    complete,
    lines,
  };
}
