import { activeTraceparent, AppError, type Queryable } from '@scoreline/platform';
import type { Rate } from '../domain/event.js';
import type { ApplyOutcome, RejectReason, RevertOutcome } from '@scoreline/contracts/scores';
import type { VersionRecord } from '../domain/score-ledger.js';
import { EVENT_CHANGED_TOPIC } from './event-repository.js';

export interface ApplyItem {
  scoreId: string;
  version: number;
  eventId: number;
  userId: string;
  rate: Rate;
}

export interface ApplyAnswer {
  outcome: ApplyOutcome;
  reason: RejectReason | null;
  /** The version in effect for the score after this item (0: none), and its rate. */
  appliedVersion: number;
  appliedRate: Rate | null;
  /** The event's version after the whole call; 0 when the event does not exist. */
  eventVersion: number;
}

export interface RevertItem {
  scoreId: string;
  version: number;
}

export interface RevertAnswer {
  outcome: RevertOutcome;
  appliedVersion: number;
  appliedRate: Rate | null;
  eventVersion: number;
}

/** One score's ledger row and every version recorded for it (GetScoreLedger). */
export interface LedgerView {
  scoreId: string;
  /** null when all that was seen of the score is RevertScore (tombstones). */
  eventId: number | null;
  userId: string | null;
  maxVersion: number;
  appliedVersion: number;
  appliedRate: Rate | null;
  updatedAt: Date;
  /** In ascending version order. */
  versions: (VersionRecord & { version: number; rate: Rate | null; recordedAt: Date })[];
}

/*
 * The ledger row and its versions in one statement, so both come from one snapshot: read in two, an
 * ApplyScore committing in between could show a version in effect that the list of versions lacks.
 * Both parts are read by key (score_ledger's primary key, score_versions' leading column).
 */
const FIND_SQL = `SELECT l.score_id, l.event_id, l.user_id, l.max_version, l.applied_version, l.applied_rate,
    l.updated_at,
    COALESCE((SELECT json_agg(json_build_object(
        'version', v.version, 'rate', v.rate, 'applyOutcome', v.apply_outcome,
        'rejectReason', v.reject_reason, 'revertOutcome', v.revert_outcome, 'recordedAt', v.created_at)
        ORDER BY v.version)
      FROM score_versions v WHERE v.score_id = l.score_id), '[]'::json) AS versions
  FROM score_ledger l WHERE l.score_id = $1`;

/** SQLSTATE raised by apply_scores() when an item's score id belongs to another event or user. */
const SCORE_OWNER_CONFLICT = 'SL001';

/*
 * Each call is one statement, apply_scores() or revert_scores() (migrations/0003_score_batches.sql):
 * a single statement is its own transaction, so there is no BEGIN or COMMIT to send, and a batch of
 * any size costs one round trip. Arrays carry the items (one per column), which keeps the statement
 * text fixed and so prepared once per connection.
 */
const APPLY_SQL = `SELECT item, outcome, reason, applied_version, applied_rate, event_version
  FROM apply_scores($1::uuid[], $2::bigint[], $3::bigint[], $4::text[], $5::smallint[], $6)`;
const REVERT_SQL = `SELECT item, outcome, applied_version, applied_rate, event_version
  FROM revert_scores($1::uuid[], $2::bigint[], $3)`;
/*
 * A traced call names its trace context, which the EventChanged rows it writes carry
 * (migrations/0008_trace_context.sql); an untraced one, every call when tracing is off, runs the
 * statements above unchanged.
 */
const APPLY_TRACED_SQL = `SELECT item, outcome, reason, applied_version, applied_rate, event_version
  FROM apply_scores($1::uuid[], $2::bigint[], $3::bigint[], $4::text[], $5::smallint[], $6, $7::text)`;
const REVERT_TRACED_SQL = `SELECT item, outcome, applied_version, applied_rate, event_version
  FROM revert_scores($1::uuid[], $2::bigint[], $3, $4::text)`;

interface AnswerRow {
  item: number;
  applied_version: number;
  applied_rate: Rate | null;
  event_version: number;
}

/** Rows come ordered by item; this checks that there is exactly one per item rather than trusting it. */
function inItemOrder<R extends AnswerRow>(rows: R[], count: number): R[] {
  if (rows.length !== count || rows.some((row, i) => row.item !== i + 1)) {
    throw new Error(`score batch answered ${rows.length} rows for ${count} items`);
  }
  return rows;
}

/** The index of the item whose score id is taken, or undefined for any other error. */
function ownerConflict(error: unknown): number | undefined {
  const e = error as { code?: unknown; detail?: unknown };
  if (e?.code !== SCORE_OWNER_CONFLICT || typeof e.detail !== 'string') return undefined;
  return Number(e.detail);
}

export function createScoreLedgerRepository() {
  return {
    /** The score's ledger and versions, or null when line-provider has never seen the score. */
    async find(db: Queryable, scoreId: string): Promise<LedgerView | null> {
      const { rows } = await db.query<{
        score_id: string;
        event_id: number | null;
        user_id: string | null;
        max_version: number;
        applied_version: number;
        applied_rate: Rate | null;
        updated_at: Date;
        versions: (Omit<LedgerView['versions'][number], 'recordedAt'> & { recordedAt: string })[];
      }>(FIND_SQL, [scoreId]);
      const row = rows[0];
      if (!row) return null;
      return {
        scoreId: row.score_id,
        eventId: row.event_id,
        userId: row.user_id,
        maxVersion: row.max_version,
        appliedVersion: row.applied_version,
        appliedRate: row.applied_rate,
        updatedAt: row.updated_at,
        versions: row.versions.map((v) => ({ ...v, recordedAt: new Date(v.recordedAt) })),
      };
    },

    /**
     * ApplyScore for each item (DESIGN.md §3, T2), in one statement. Throws INVALID_ARGUMENT with
     * `details.item` (0-based) when an item's score id already belongs to another event or user; then
     * nothing was written. `traceparent` (the active span's by default) goes with its EventChanged rows.
     */
    async applyScores(
      db: Queryable,
      items: readonly ApplyItem[],
      traceparent = activeTraceparent(),
    ): Promise<ApplyAnswer[]> {
      let rows: (AnswerRow & { outcome: ApplyAnswer['outcome']; reason: RejectReason | null })[];
      try {
        const params = [
          items.map((i) => i.scoreId),
          items.map((i) => i.version),
          items.map((i) => i.eventId),
          items.map((i) => i.userId),
          items.map((i) => i.rate),
          EVENT_CHANGED_TOPIC,
        ];
        ({ rows } = await (traceparent
          ? db.query(APPLY_TRACED_SQL, [...params, traceparent])
          : db.query(APPLY_SQL, params)));
      } catch (error) {
        const item = ownerConflict(error);
        if (item === undefined) throw error;
        throw new AppError('INVALID_ARGUMENT', 'score_id already belongs to another event or user', {
          field: 'score_id',
          details: { item },
          cause: error,
        });
      }
      return inItemOrder(rows, items.length).map((row) => ({
        outcome: row.outcome,
        reason: row.reason,
        appliedVersion: row.applied_version,
        appliedRate: row.applied_rate,
        eventVersion: row.event_version,
      }));
    },

    /** RevertScore for each item, in one statement. Runs whatever the events' states. */
    async revertScores(
      db: Queryable,
      items: readonly RevertItem[],
      traceparent = activeTraceparent(),
    ): Promise<RevertAnswer[]> {
      const params = [items.map((i) => i.scoreId), items.map((i) => i.version), EVENT_CHANGED_TOPIC];
      const { rows } = await db.query<AnswerRow & { outcome: RevertOutcome }>(
        traceparent ? REVERT_TRACED_SQL : REVERT_SQL,
        traceparent ? [...params, traceparent] : params,
      );
      return inItemOrder(rows, items.length).map((row) => ({
        outcome: row.outcome,
        appliedVersion: row.applied_version,
        appliedRate: row.applied_rate,
        eventVersion: row.event_version,
      }));
    },
  };
}

export type ScoreLedgerRepository = ReturnType<typeof createScoreLedgerRepository>;
