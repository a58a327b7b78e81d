import type { Database } from '../db/database.js';

export interface InvariantReport {
  /** Scores still PENDING (after quiet, must be none). */
  pending: number;
  /** Events whose line-provider aggregates differ from score-maker's CONFIRMED scores. */
  eventMismatches: { eventId: number; lineProvider: Aggregate; scoreMaker: Aggregate }[];
  /** Scores whose confirmed value differs from what line-provider has in effect. */
  scoreMismatches: { scoreId: string; lineProvider: number | null; scoreMaker: number | null }[];
  /** Events whose stored aggregates differ from their own ledger (an aggregate moved twice or missed). */
  ledgerMismatches: number[];
}

interface Aggregate {
  count: number;
  sum: number;
  histogram: number[];
}

const empty = (): Aggregate => ({ count: 0, sum: 0, histogram: [0, 0, 0, 0, 0] });

function add(a: Aggregate, rate: number) {
  a.count++;
  a.sum += rate;
  a.histogram[rate - 1]!++;
}

export interface InvariantOptions {
  /**
   * The user line-provider records anonymous legacy scores under (`LEGACY_USER` of
   * `@scoreline/line-provider`): those count in its aggregates but have no score in score-maker.
   */
  legacyUser: string;
}

/**
 * Checks DESIGN.md §5 on both databases once the system is quiet:
 * 1. nothing lost: no score left PENDING;
 * 2. applied exactly once: each event's stored aggregates equal the sum of its ledger;
 * 3. agreement: per event, line-provider's aggregates (less anonymous legacy scores) equal the CONFIRMED
 *    scores in score-maker, and per score, the value in effect equals score-maker's confirmed value.
 */
export async function checkInvariants(
  lineProviderDb: Database,
  scoreMakerDb: Database,
  { legacyUser }: InvariantOptions,
): Promise<InvariantReport> {
  const pending = (
    await scoreMakerDb.query<{ n: number }>(`SELECT count(*)::int AS n FROM scores WHERE status = 'PENDING'`)
  ).rows[0]!.n;

  const events = await lineProviderDb.query<{
    id: number;
    score_count: number;
    score_sum: number;
    rate_1: number;
    rate_2: number;
    rate_3: number;
    rate_4: number;
    rate_5: number;
  }>('SELECT id, score_count, score_sum, rate_1, rate_2, rate_3, rate_4, rate_5 FROM events');
  const ledger = await lineProviderDb.query<{
    score_id: string;
    event_id: number;
    user_id: string;
    applied_rate: number | null;
  }>('SELECT score_id, event_id, user_id, applied_rate FROM score_ledger WHERE event_id IS NOT NULL');
  const confirmed = await scoreMakerDb.query<{
    id: string;
    event_id: number;
    status: string;
    confirmed_rate: number | null;
  }>('SELECT id, event_id, status, confirmed_rate FROM scores');

  const fromLedger = new Map<number, Aggregate>(); // score-maker's scores, as line-provider's ledger has them
  const legacy = new Map<number, Aggregate>();
  const inEffect = new Map<string, number | null>();
  for (const row of ledger.rows) {
    inEffect.set(row.score_id, row.applied_rate);
    if (row.applied_rate === null) continue;
    const target = row.user_id === legacyUser ? legacy : fromLedger;
    if (!target.has(row.event_id)) target.set(row.event_id, empty());
    add(target.get(row.event_id)!, row.applied_rate);
  }
  const fromScoreMaker = new Map<number, Aggregate>();
  const scoreMismatches: InvariantReport['scoreMismatches'] = [];
  for (const row of confirmed.rows) {
    const value = row.status === 'CONFIRMED' ? row.confirmed_rate : null;
    if (value !== null) {
      if (!fromScoreMaker.has(row.event_id)) fromScoreMaker.set(row.event_id, empty());
      add(fromScoreMaker.get(row.event_id)!, value);
    }
    const lp = inEffect.get(row.id) ?? null;
    if (lp !== value) scoreMismatches.push({ scoreId: row.id, lineProvider: lp, scoreMaker: value });
  }

  const eventMismatches: InvariantReport['eventMismatches'] = [];
  const ledgerMismatches: number[] = [];
  for (const e of events.rows) {
    const stored: Aggregate = {
      count: e.score_count,
      sum: e.score_sum,
      histogram: [e.rate_1, e.rate_2, e.rate_3, e.rate_4, e.rate_5],
    };
    const anonymous = legacy.get(e.id) ?? empty();
    const ledgerTotal = fromLedger.get(e.id) ?? empty();
    const ledgerAll: Aggregate = {
      count: ledgerTotal.count + anonymous.count,
      sum: ledgerTotal.sum + anonymous.sum,
      histogram: ledgerTotal.histogram.map((n, i) => n + anonymous.histogram[i]!),
    };
    if (JSON.stringify(stored) !== JSON.stringify(ledgerAll)) ledgerMismatches.push(e.id);
    const lineProvider: Aggregate = {
      count: stored.count - anonymous.count,
      sum: stored.sum - anonymous.sum,
      histogram: stored.histogram.map((n, i) => n - anonymous.histogram[i]!),
    };
    const scoreMaker = fromScoreMaker.get(e.id) ?? empty();
    if (JSON.stringify(lineProvider) !== JSON.stringify(scoreMaker))
      eventMismatches.push({ eventId: e.id, lineProvider, scoreMaker });
  }
  return { pending, eventMismatches, scoreMismatches, ledgerMismatches };
}
