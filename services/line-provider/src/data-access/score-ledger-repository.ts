import type { Queryable } from '@scoreline/platform';
import { aggregateDelta, type Rate } from '../domain/event.js';
import type {
  EventCheck,
  LedgerState,
  RejectReason,
  RevertOutcome,
  VersionRecord,
} from '../domain/score-ledger.js';
import { EVENT_CHANGED_TOPIC, withEventChanged } from './event-repository.js';

interface LockedRow {
  event_id: number | null;
  user_id: string | null;
  max_version: number;
  applied_version: number;
  applied_rate: Rate | null;
  apply_outcome: 'APPLIED' | 'REJECTED' | null;
  reject_reason: RejectReason | null;
  revert_outcome: RevertOutcome | null;
  event_state: EventCheck | null;
  event_version: number | null;
  previous_version: number | null;
  previous_rate: Rate | null;
  /** True when this call created the ledger row. */
  inserted: boolean;
}

export interface LockedScore {
  ledger: LedgerState | null;
  record: VersionRecord | null;
  owner: { eventId: number | null; userId: string | null };
  /** The event's state as scores see it (open = OPEN with the deadline ahead). */
  event: EventCheck;
  eventVersion: number;
  /** The latest version before this one that was applied and not reverted: what a revert restores. */
  previous: { version: number; rate: Rate } | null;
}

/*
 * Lock the score's ledger row, creating it if needed, and read everything the decision needs, in one
 * round trip. ON CONFLICT DO UPDATE (a no-op update) both locks an existing row and returns it, which
 * SELECT … FOR UPDATE cannot do for a row that does not exist yet; concurrent calls for one score id
 * queue here, while calls for different scores of one event only meet at the event row later.
 * The event is read without a lock: the aggregate update re-checks its state under the row lock.
 */
const LOCK_SQL = `
WITH l AS (
  INSERT INTO score_ledger (score_id, event_id, user_id) VALUES ($1, $3, $4)
  ON CONFLICT (score_id) DO UPDATE SET updated_at = score_ledger.updated_at
  RETURNING score_id, event_id, user_id, max_version, applied_version, applied_rate, (xmax = 0) AS inserted
)
SELECT l.*, v.apply_outcome, v.reject_reason, v.revert_outcome,
  ev.event_state, ev.event_version, p.version AS previous_version, p.rate AS previous_rate
FROM l
LEFT JOIN score_versions v ON v.score_id = l.score_id AND v.version = $2
LEFT JOIN LATERAL (
  SELECT CASE WHEN e.state = 'OPEN' AND e.deadline > now() THEN 'open' ELSE 'closed' END AS event_state,
         e.version AS event_version
  FROM events e WHERE e.id = COALESCE(l.event_id, $3)
) ev ON true
LEFT JOIN LATERAL (
  SELECT pv.version, pv.rate FROM score_versions pv
  WHERE pv.score_id = l.score_id AND pv.version < $2 AND pv.apply_outcome = 'APPLIED' AND pv.revert_outcome IS NULL
  ORDER BY pv.version DESC LIMIT 1
) p ON true`;

/** Moves one event's aggregates from one rate to another and bumps its version. */
const MOVE_AGGREGATES_SQL = `
  UPDATE events SET
    score_count = score_count + $2, score_sum = score_sum + $3,
    rate_1 = rate_1 + $4, rate_2 = rate_2 + $5, rate_3 = rate_3 + $6, rate_4 = rate_4 + $7, rate_5 = rate_5 + $8,
    version = version + 1, updated_at = now()
  WHERE id = $1`;

// Aggregates, ledger, version record and EventChanged in one statement; nothing if the event closed.
const APPLY_SQL = withEventChanged(
  `${MOVE_AGGREGATES_SQL} AND state = 'OPEN' AND deadline > now() RETURNING *`,
  'SCORE_APPLIED',
  '$9',
  {
    more: `l AS (
        UPDATE score_ledger SET event_id = $1, user_id = $12, max_version = $11, applied_version = $11,
          applied_rate = $13, updated_at = now()
        WHERE score_id = $10 AND EXISTS (SELECT 1 FROM e)
      ), v AS (
        INSERT INTO score_versions (score_id, version, rate, apply_outcome) SELECT $10, $11, $13, 'APPLIED' FROM e
      )`,
    select: 'SELECT version FROM e',
  },
);

// The same for a revert: the previous applied version (or none) comes back into effect.
const REVERT_SQL = withEventChanged(`${MOVE_AGGREGATES_SQL} RETURNING *`, 'SCORE_REVERTED', '$9', {
  more: `l AS (
        UPDATE score_ledger SET applied_version = $12, applied_rate = $13, updated_at = now() WHERE score_id = $10
      ), v AS (
        UPDATE score_versions SET revert_outcome = 'REVERTED' WHERE score_id = $10 AND version = $11
      )`,
  select: 'SELECT version FROM e',
});

function deltaParams(eventId: number, from: Rate | null, to: Rate | null): unknown[] {
  const delta = aggregateDelta(from, to);
  return [eventId, delta.count, delta.sum, ...delta.histogram];
}

export function createScoreLedgerRepository() {
  return {
    async lock(
      tx: Queryable,
      key: { scoreId: string; version: number; eventId: number | null; userId: string | null },
    ): Promise<LockedScore> {
      const { rows } = await tx.query<LockedRow>(LOCK_SQL, [
        key.scoreId,
        key.version,
        key.eventId,
        key.userId,
      ]);
      const row = rows[0]!;
      return {
        ledger: row.inserted
          ? null
          : {
              maxVersion: row.max_version,
              appliedVersion: row.applied_version,
              appliedRate: row.applied_rate,
            },
        record:
          row.apply_outcome || row.revert_outcome
            ? {
                applyOutcome: row.apply_outcome,
                rejectReason: row.reject_reason,
                revertOutcome: row.revert_outcome,
              }
            : null,
        owner: { eventId: row.event_id, userId: row.user_id },
        event: row.event_state ?? 'missing',
        eventVersion: row.event_version ?? 0,
        previous:
          row.previous_version !== null && row.previous_rate !== null
            ? { version: row.previous_version, rate: row.previous_rate }
            : null,
      };
    },

    /**
     * Puts a version in effect: aggregates, ledger, version record and EventChanged in one statement.
     * Returns the event's new version, or undefined when the event stopped accepting scores since it
     * was read (then nothing at all was written).
     */
    async apply(
      tx: Queryable,
      input: {
        scoreId: string;
        version: number;
        eventId: number;
        userId: string;
        rate: Rate;
        fromRate: Rate | null;
      },
    ): Promise<number | undefined> {
      const { rows } = await tx.query<{ version: number }>(APPLY_SQL, [
        ...deltaParams(input.eventId, input.fromRate, input.rate),
        EVENT_CHANGED_TOPIC,
        input.scoreId,
        input.version,
        input.userId,
        input.rate,
      ]);
      return rows[0]?.version;
    },

    async recordRejection(
      tx: Queryable,
      input: {
        scoreId: string;
        version: number;
        eventId: number;
        userId: string;
        rate: Rate;
        reason: RejectReason;
      },
    ): Promise<void> {
      await tx.query(
        `WITH l AS (
           UPDATE score_ledger SET max_version = GREATEST(max_version, $2),
             event_id = COALESCE(event_id, $4), user_id = COALESCE(user_id, $5), updated_at = now()
           WHERE score_id = $1
         )
         INSERT INTO score_versions (score_id, version, rate, apply_outcome, reject_reason)
         VALUES ($1, $2, $3, 'REJECTED', $6)`,
        [input.scoreId, input.version, input.rate, input.eventId, input.userId, input.reason],
      );
    },

    /**
     * Takes the version in effect back: the previous applied version (or none) comes back into effect.
     * Runs whatever the event's state: a compensation must be able to finish after the deadline.
     */
    async revert(
      tx: Queryable,
      input: {
        scoreId: string;
        version: number;
        eventId: number;
        fromRate: Rate;
        previous: { version: number; rate: Rate } | null;
      },
    ): Promise<number> {
      const { rows } = await tx.query<{ version: number }>(REVERT_SQL, [
        ...deltaParams(input.eventId, input.fromRate, input.previous?.rate ?? null),
        EVENT_CHANGED_TOPIC,
        input.scoreId,
        input.version,
        input.previous?.version ?? 0,
        input.previous?.rate ?? null,
      ]);
      return rows[0]!.version;
    },

    /** Records a revert that moves nothing: a tombstone, or a mark on a version already replaced. */
    async recordRevert(
      tx: Queryable,
      input: { scoreId: string; version: number; outcome: 'TOMBSTONED' | 'NOT_CURRENT' },
    ): Promise<void> {
      await tx.query(
        `WITH l AS (
           UPDATE score_ledger SET max_version = GREATEST(max_version, $2), updated_at = now() WHERE score_id = $1
         )
         INSERT INTO score_versions (score_id, version, revert_outcome) VALUES ($1, $2, $3)
         ON CONFLICT (score_id, version) DO UPDATE SET revert_outcome = EXCLUDED.revert_outcome`,
        [input.scoreId, input.version, input.outcome],
      );
    },
  };
}

export type ScoreLedgerRepository = ReturnType<typeof createScoreLedgerRepository>;
