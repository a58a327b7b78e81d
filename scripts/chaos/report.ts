import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { EVENT_CHANGED_TOPIC } from '@scoreline/contracts';
import type { Database } from '@scoreline/platform';
import { Redis } from 'ioredis';
import { checkInvariants, type InvariantReport } from '@scoreline/platform/testing';
import type { FaultRecord } from './faults.js';
import type { Failure, LoadResult } from './load.js';

export interface Quiet {
  reached: boolean;
  /** ms from the end of the load until quiet (or until the bound) */
  afterMs: number;
  pending: number;
  scoreMakerOutbox: number;
  lineProviderOutbox: number;
  /** Messages in the saga's and EventChanged's streams (waiting, in flight or delayed for a retry). */
  queued: number;
}

/** The queues whose messages can still move an aggregate or a score. */
const TOPICS = ['score-maker.apply-score', 'score-maker.revert-score', EVENT_CHANGED_TOPIC];

async function queued(redis: Redis, prefix: string): Promise<number> {
  let total = 0;
  for (const topic of TOPICS) {
    // The broker's key layout (packages/platform/src/broker/redis-scripts.ts): handled entries are deleted.
    const base = `${prefix}:{${topic}}`;
    total += (await redis.xlen(`${base}:stream`)) + (await redis.zcard(`${base}:delayed`));
  }
  return total;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function count(db: Database, sql: string): Promise<number> {
  return (await db.query<{ n: number }>(sql)).rows[0]!.n;
}

/**
 * Quiet: no score PENDING or with a saga step in flight, both outboxes drained and the queues empty (a
 * late RevertScore still queued could yet move line-provider), seen twice in a row a second apart; gives
 * up after `timeoutMs`. A database or Redis that does not answer for a moment is asked again.
 */
export async function waitForQuiet(
  lp: Database,
  sm: Database,
  redis: { url: string; prefix: string },
  timeoutMs: number,
): Promise<Quiet> {
  const start = Date.now();
  let last: Quiet = {
    reached: false,
    afterMs: 0,
    pending: -1,
    scoreMakerOutbox: -1,
    lineProviderOutbox: -1,
    queued: -1,
  };
  let quietTimes = 0;
  const client = new Redis(redis.url, { maxRetriesPerRequest: 1 });
  client.on('error', () => undefined); // a moment without Redis is retried below
  try {
    while (Date.now() - start < timeoutMs) {
      quietTimes = await look().catch(() => 0);
      if (quietTimes >= 2) return { ...last, reached: true };
      await sleep(1000);
    }
  } finally {
    client.disconnect();
  }
  return { ...last, afterMs: Date.now() - start };

  async function look(): Promise<number> {
    const [pending, scoreMakerOutbox, lineProviderOutbox, inQueues] = await Promise.all([
      count(sm, `SELECT count(*)::int AS n FROM scores WHERE status = 'PENDING' OR saga_state IS NOT NULL`),
      count(sm, 'SELECT count(*)::int AS n FROM outbox WHERE published_at IS NULL'),
      count(lp, 'SELECT count(*)::int AS n FROM outbox WHERE published_at IS NULL'),
      queued(client, redis.prefix),
    ]);
    last = {
      reached: false,
      afterMs: Date.now() - start,
      pending,
      scoreMakerOutbox,
      lineProviderOutbox,
      queued: inQueues,
    };
    return pending + scoreMakerOutbox + lineProviderOutbox + inQueues === 0 ? quietTimes + 1 : 0;
  }
}

export interface Verdict {
  invariants: InvariantReport;
  /** Accepted (score id, version)s whose score is missing or at an older version. */
  missing: number;
  lost: number;
  appliedTwice: number;
  mismatchedAggregates: number;
  scoresDisagreeing: number;
  outcomes: { status: string; reason: string | null; n: number }[];
  closedEvents: number;
}

export async function verdict(
  lp: Database,
  sm: Database,
  load: LoadResult,
  legacyUser: string,
  logDir: string,
): Promise<Verdict> {
  const invariants = await checkInvariants(lp, sm, { legacyUser });
  if (invariants.scoreMismatches.length > 0) await describeMismatches(lp, sm, invariants, logDir);
  const { rows } = await sm.query<{ id: string; version: number }>(
    'SELECT id, version FROM scores WHERE id = ANY($1::uuid[])',
    [[...load.accepted.keys()]],
  );
  const stored = new Map(rows.map((r) => [r.id, r.version]));
  let missing = 0;
  for (const [id, version] of load.accepted) if ((stored.get(id) ?? 0) < version) missing++;
  const outcomes = (
    await sm.query<{ status: string; reason: string | null; n: number }>(
      'SELECT status, reason, count(*)::int AS n FROM scores GROUP BY 1, 2 ORDER BY 1, 2',
    )
  ).rows;
  const closedEvents = await count(lp, `SELECT count(*)::int AS n FROM events WHERE state = 'CLOSED'`);
  return {
    invariants,
    missing,
    // An accepted version the database no longer has, or one still waiting after quiet was due.
    lost: missing + invariants.pending,
    appliedTwice: invariants.ledgerMismatches.length,
    mismatchedAggregates: invariants.eventMismatches.length,
    scoresDisagreeing: invariants.scoreMismatches.length,
    outcomes,
    closedEvents,
  };
}

/** Both services' rows of the first scores that disagree, for a look at what happened to them. */
async function describeMismatches(lp: Database, sm: Database, invariants: InvariantReport, logDir: string) {
  const ids = invariants.scoreMismatches.slice(0, 20).map((m) => m.scoreId);
  const [scores, ledger, versions] = await Promise.all([
    sm.query('SELECT * FROM scores WHERE id = ANY($1::uuid[])', [ids]),
    lp.query('SELECT * FROM score_ledger WHERE score_id = ANY($1::uuid[])', [ids]),
    lp.query('SELECT * FROM score_versions WHERE score_id = ANY($1::uuid[]) ORDER BY score_id, version', [
      ids,
    ]),
  ]);
  const file = path.join(logDir, 'mismatches.json');
  writeFileSync(
    file,
    JSON.stringify(
      {
        mismatches: invariants.scoreMismatches,
        scores: scores.rows,
        ledger: ledger.rows,
        versions: versions.rows,
      },
      null,
      2,
    ),
  );
}

const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/**
 * Puts each failed request (a 5xx, or no answer) down to one fault: a request to an API replica that got
 * no answer, to the kill or crash point that had that replica down then; any other, to the latest fault
 * begun before it and ended at most 15 s earlier. A fault's window runs from its start to the last
 * failure put down to it. What no fault explains is returned apart (it should be nothing).
 */
export function faultWindows(faults: FaultRecord[], failures: Failure[]) {
  const mine = faults.map(() => [] as Failure[]);
  const unexplained: Failure[] = [];
  for (const failure of failures) {
    let index =
      failure.what === 'no answer'
        ? faults.findIndex(
            (f) =>
              f.target === `api-${failure.api + 1}` &&
              failure.at >= f.started &&
              failure.at <= f.ended + 1000,
          )
        : -1;
    for (let i = faults.length - 1; index < 0 && i >= 0; i--) {
      if (faults[i]!.started <= failure.at && failure.at <= faults[i]!.ended + 15_000) index = i;
    }
    if (index < 0) unexplained.push(failure);
    else mine[index]!.push(failure);
  }
  const windows = faults.map((fault, i) => {
    const by = new Map<string, number>();
    for (const f of mine[i]!) by.set(f.what, (by.get(f.what) ?? 0) + 1);
    const last = mine[i]!.reduce((max, f) => Math.max(max, f.at), fault.started);
    return { fault, failures: by, windowMs: last - fault.started };
  });
  return { windows, unexplained };
}

export function printReport(p: {
  seed: number;
  settings: string;
  load: LoadResult;
  faults: FaultRecord[];
  faultsNotRun: number;
  unexpectedExits: { name: string; code: number | null; signal: string | null; at: number }[];
  quiet: Quiet;
  verdict: Verdict | undefined;
  runMs: number;
  logDir: string;
}): boolean {
  const { load, verdict: v, quiet } = p;
  const out: string[] = [];
  const line = (text = '') => out.push(text);
  line(`chaos run: seed ${p.seed}; ${p.settings}`);
  line();
  line(`load: ${s(load.endedAt - load.startedAt)}`);
  line(`  submissions       ${load.submitted} (${load.changes} changes of a score already given)`);
  if (load.submitted < load.requested) {
    line(
      `  ONLY ${load.submitted} of ${load.requested} submissions were sent before the load's bound (the machine is too busy?)`,
    );
  }
  line(
    `  HTTP answers      ${[...load.statuses]
      .sort((a, b) => a[0] - b[0])
      .map(([status, n]) => `${status}×${n}`)
      .join(', ')}; no answer ×${load.unanswered} (retried on the other API replica)`,
  );
  line(`  without an answer after ${8} tries: ${load.gaveUp}; 503 without Retry-After: ${load.noRetryAfter}`);
  line();
  line(
    'faults (t = seconds since the run began; failed requests = 5xx or no answer put down to the fault; window = from the fault to the last of them):',
  );
  const kinds = new Map<string, number>();
  const { windows, unexplained } = faultWindows(p.faults, load.failures);
  for (const { fault, failures, windowMs } of windows) {
    kinds.set(fault.kind, (kinds.get(fault.kind) ?? 0) + 1);
    const failed = [...failures].map(([what, n]) => `${what}×${n}`).join(', ') || 'none';
    line(
      `  t=${s(fault.started).padStart(7)}  ${fault.kind.padEnd(31)} ${fault.error ? `FAILED: ${fault.error}` : fault.detail}`,
    );
    line(
      `             took ${s(fault.ended - fault.started)}; failed requests: ${failed}; window ${s(windowMs)}`,
    );
  }
  line(
    `  counts: ${[...kinds].map(([kind, n]) => `${kind} ×${n}`).join(', ')}${p.faultsNotRun ? `; ${p.faultsNotRun} planned after the load ended, not run` : ''}`,
  );
  line(`  failed requests no fault explains: ${unexplained.length}`);
  const pgWindows = windows.filter((w) => w.fault.kind.includes('postgres'));
  for (const w of pgWindows) {
    line(`  ${w.fault.kind}: 5xx/unanswered window ${s(w.windowMs)} (${w.fault.detail})`);
  }
  line(
    `  processes that exited by themselves (must be none): ${p.unexpectedExits.length}${p.unexpectedExits
      .map((e) => `; ${e.name} at ${s(e.at)} (${e.code ?? e.signal})`)
      .join('')}`,
  );
  line();
  line(
    quiet.reached
      ? `quiet (no PENDING, both outboxes drained, queues empty) ${s(quiet.afterMs)} after the load`
      : `NOT QUIET after ${s(quiet.afterMs)}: ${quiet.pending} PENDING, outboxes ${quiet.scoreMakerOutbox} (score-maker) and ${quiet.lineProviderOutbox} (line-provider) unpublished, ${quiet.queued} messages queued`,
  );
  const other5xx = [...load.statuses].filter(([status]) => status >= 500 && status !== 503);
  let ok =
    quiet.reached && p.unexpectedExits.length === 0 && other5xx.length === 0 && load.noRetryAfter === 0;
  if (v) {
    const sum = (pred: (o: Verdict['outcomes'][number]) => boolean) =>
      v.outcomes.filter(pred).reduce((total, o) => total + o.n, 0);
    const describe = (status: string) =>
      v.outcomes
        .filter((o) => o.status === status)
        .map((o) => `${o.reason ?? 'no reason'} ${o.n}`)
        .join(', ');
    line();
    line('invariant check:');
    line(
      `  accepted          ${load.accepted.size} scores (${load.acceptedAnswers} answers 202, changes included)`,
    );
    line(`  confirmed         ${sum((o) => o.status === 'CONFIRMED')} (${describe('CONFIRMED')})`);
    line(`  rejected          ${sum((o) => o.status === 'REJECTED')} (${describe('REJECTED') || 'none'})`);
    line(
      `  compensated       ${sum((o) => o.reason === 'UNAVAILABLE')} (the saga timed out: REJECTED or back to the value line-provider held)`,
    );
    line(`  events closed     ${v.closedEvents}`);
    line(
      `  lost              ${v.lost}  (must be 0: ${v.missing} accepted versions missing, ${v.invariants.pending} PENDING)`,
    );
    line(
      `  applied twice     ${v.appliedTwice}  (must be 0: events whose aggregates differ from their ledger)`,
    );
    line(
      `  mismatched aggregates ${v.mismatchedAggregates}  (must be 0: events where line-provider and score-maker differ)`,
    );
    line(
      `  scores disagreeing ${v.scoresDisagreeing}  (must be 0: confirmed value differs from line-provider's)`,
    );
    if (v.invariants.eventMismatches.length > 0) {
      line(`  first mismatches: ${JSON.stringify(v.invariants.eventMismatches.slice(0, 3))}`);
    }
    if (v.scoresDisagreeing > 0) {
      line(`  both services' rows of those scores: ${path.join(p.logDir, 'mismatches.json')}`);
    }
    ok &&= v.lost === 0 && v.appliedTwice === 0 && v.mismatchedAggregates === 0 && v.scoresDisagreeing === 0;
  }
  if (other5xx.length > 0)
    line(`5xx other than 503 (must be none): ${other5xx.map(([st, n]) => `${st}×${n}`).join(', ')}`);
  line();
  line(`${ok ? 'PASS' : 'FAIL'} in ${s(p.runMs)}; logs of every process in ${p.logDir}`);
  console.log(out.join('\n'));
  return ok;
}
