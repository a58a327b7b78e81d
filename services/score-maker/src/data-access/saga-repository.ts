import type { BrokerMessage, Database, Queryable } from '@scoreline/platform';
import type { Settlement } from '../domain/saga.js';
import { commandColumns, OUTBOX_COLUMNS, type SagaCommandType } from './saga-commands.js';

/** NOTIFY channel of settlements; the payload is the settled score ids, comma-separated. */
export const SCORE_SETTLED_CHANNEL = 'score_settled';

/** Ids per NOTIFY payload: 36-character UUIDs and commas stay well under PostgreSQL's 8000 bytes. */
const IDS_PER_NOTIFY = 200;

export type SagaStep = 'APPLYING' | 'REVERTING';

export interface StaleSaga {
  id: string;
  version: number;
  eventId: number;
  userId: string;
  rate: number;
  sagaState: SagaStep;
  pendingSince: Date;
  /** The last failure of this saga's current step, if it has failed. */
  lastError: string | null;
}

/** Where one score's saga stands, as the worker reads it before a step. */
export interface SagaPosition {
  version: number;
  sagaState: SagaStep | null;
  pendingSince: Date | null;
}

/** A saga that settled: its outcome and how long since its score was accepted (for metrics). */
export interface SettledSaga {
  status: string;
  reason: string | null;
  /** From the score's acceptance (pending_since) to its settlement, by the database's clock. */
  seconds: number;
}

export interface StepSettlement {
  scoreId: string;
  version: number;
  settlement: Settlement;
}

/** A saga command read back from the database, ready to publish again (the sweeper's re-drive). */
export interface StoredCommand {
  topic: string;
  message: BrokerMessage;
}

async function listSagas(
  db: Queryable,
  filter: { olderThanMs: number; revertingOnly: boolean; limit: number },
): Promise<StaleSaga[]> {
  const { rows } = await db.query<{
    id: string;
    version: number;
    event_id: number;
    user_id: string;
    rate: number;
    saga_state: SagaStep;
    pending_since: Date;
    last_error: string | null;
  }>(
    `SELECT id, version, event_id, user_id, rate, saga_state, pending_since,
            CASE WHEN last_error_at >= pending_since THEN last_error END AS last_error
     FROM scores
     WHERE saga_state IS NOT NULL AND (NOT $1 OR saga_state = 'REVERTING')
       AND pending_since <= now() - make_interval(secs => $2::double precision / 1000)
     ORDER BY pending_since LIMIT $3`,
    [filter.revertingOnly, filter.olderThanMs, filter.limit],
  );
  return rows.map((r) => ({
    id: r.id,
    version: Number(r.version),
    eventId: Number(r.event_id),
    userId: r.user_id,
    rate: r.rate,
    sagaState: r.saga_state,
    pendingSince: r.pending_since,
    lastError: r.last_error,
  }));
}

/*
 * Settles many steps in one statement. Each row settles only if its score is still at that version and
 * that step: a reply for a superseded version, or a duplicate reply, matches nothing and changes nothing.
 * The NOTIFY wakes API requests waiting on these scores (Prefer: wait). A transaction that notifies
 * takes PostgreSQL's notify lock until its commit is flushed, so such commits run one at a time: that
 * is why a batch settles in one statement, with one NOTIFY per IDS_PER_NOTIFY scores.
 * Rows are locked in score id order (the input is sorted) to keep concurrent batches from deadlocking.
 * `s.id = ANY(…)` lets the planner read scores through its key whatever it guesses of unnest's size:
 * without it, a plan that hashed the input and scanned the whole table came up now and then.
 */
const SETTLE_SQL = `
WITH v AS (
  SELECT * FROM unnest($1::uuid[], $2::bigint[], $3::text[], $4::smallint[], $5::smallint[], $6::bigint[], $7::text[])
    AS v(id, version, status, rate, confirmed_rate, confirmed_version, reason)
), settled AS (
  UPDATE scores s SET status = v.status, rate = COALESCE(v.rate, s.rate), confirmed_rate = v.confirmed_rate,
    confirmed_version = v.confirmed_version, reason = v.reason, saga_state = NULL, updated_at = now()
  FROM v
  WHERE s.id = v.id AND s.id = ANY($1::uuid[]) AND s.version = v.version AND s.saga_state = $8
  RETURNING s.id, s.status, s.reason, extract(epoch FROM clock_timestamp() - s.pending_since)::float8 AS seconds
), chunks AS (
  SELECT id, status, reason, seconds, (row_number() OVER () - 1) / ${IDS_PER_NOTIFY} AS chunk FROM settled
)
SELECT count(*)::int AS settled, pg_notify('${SCORE_SETTLED_CHANNEL}', string_agg(id::text, ',')) AS notified,
  array_agg(status) AS statuses, array_agg(reason) AS reasons, array_agg(seconds) AS seconds
FROM chunks GROUP BY chunk`;

/*
 * The timeout's compensation for many steps, in one statement: each saga still applying that version
 * moves to REVERTING, and its RevertScore command goes into the outbox, which retries it until
 * line-provider takes it.
 */
const BEGIN_REVERT_SQL = `
WITH v AS (
  SELECT * FROM unnest($1::uuid[], $2::bigint[]) AS v(id, version)
), s AS (
  UPDATE scores sc SET saga_state = 'REVERTING'
  FROM v WHERE sc.id = v.id AND sc.id = ANY($1::uuid[]) AND sc.version = v.version AND sc.saga_state = 'APPLYING'
  RETURNING sc.*
)
INSERT INTO outbox (${OUTBOX_COLUMNS}, traceparent) SELECT ${commandColumns('RevertScore', 's')}, s.traceparent FROM s`;

/* The sweeper's re-drive: the current step's command of every saga unsettled for too long. */
const STALE_COMMANDS_SQL = `
WITH s AS (
  SELECT * FROM scores
  WHERE saga_state IS NOT NULL
    AND pending_since <= now() - make_interval(secs => $1::double precision / 1000)
  ORDER BY pending_since LIMIT $2
)
SELECT ${commandColumns('ApplyScore', 's')}, s.created_at, s.traceparent FROM s WHERE s.saga_state = 'APPLYING'
UNION ALL
SELECT ${commandColumns('RevertScore', 's')}, s.created_at, s.traceparent FROM s WHERE s.saga_state = 'REVERTING'`;

const bySortedId = <T extends { scoreId: string }>(items: readonly T[]): T[] =>
  [...items].sort((a, b) => (a.scoreId < b.scoreId ? -1 : a.scoreId > b.scoreId ? 1 : 0));

export function createSagaRepository() {
  return {
    /** Where each of these scores' sagas stands; scores that do not exist are missing from the map. */
    async positions(db: Queryable, scoreIds: readonly string[]): Promise<Map<string, SagaPosition>> {
      const { rows } = await db.query<{
        id: string;
        version: string;
        saga_state: SagaStep | null;
        pending_since: Date | null;
      }>('SELECT id, version, saga_state, pending_since FROM scores WHERE id = ANY($1::uuid[])', [scoreIds]);
      return new Map(
        rows.map((r) => [
          r.id,
          { version: Number(r.version), sagaState: r.saga_state, pendingSince: r.pending_since },
        ]),
      );
    },

    /** Settles the steps that are still current (see SETTLE_SQL); returns how many settled. */
    async settle(
      db: Queryable,
      step: SagaStep,
      items: readonly StepSettlement[],
      onSettled?: (sagas: SettledSaga[]) => void,
    ): Promise<number> {
      if (items.length === 0) return 0;
      const sorted = bySortedId(items);
      const { rows } = await db.query<{
        settled: number;
        statuses: string[];
        reasons: (string | null)[];
        seconds: (number | null)[];
      }>(SETTLE_SQL, [
        sorted.map((i) => i.scoreId),
        sorted.map((i) => i.version),
        sorted.map((i) => i.settlement.status),
        sorted.map((i) => i.settlement.rate),
        sorted.map((i) => i.settlement.confirmedRate),
        sorted.map((i) => i.settlement.confirmedVersion),
        sorted.map((i) => i.settlement.reason),
        step,
      ]);
      onSettled?.(
        rows.flatMap((r) =>
          r.statuses.map((status, i) => ({
            status,
            reason: r.reasons[i] ?? null,
            seconds: r.seconds[i] ?? 0,
          })),
        ),
      );
      return rows.reduce((sum, r) => sum + r.settled, 0);
    },

    /** Starts the timeout's compensation for each step still applying (see BEGIN_REVERT_SQL). */
    async beginRevert(
      db: Database | Queryable,
      items: readonly { scoreId: string; version: number }[],
    ): Promise<number> {
      if (items.length === 0) return 0;
      const sorted = bySortedId(items);
      const { rowCount } = await db.query(BEGIN_REVERT_SQL, [
        sorted.map((i) => i.scoreId),
        sorted.map((i) => i.version),
      ]);
      return rowCount;
    },

    /** The current step's command of up to `limit` sagas unsettled since before `olderThanMs` ago. */
    async staleCommands(db: Queryable, olderThanMs: number, limit: number): Promise<StoredCommand[]> {
      const { rows } = await db.query<{
        message_id: string;
        topic: string;
        message_key: string;
        type: SagaCommandType;
        payload: unknown;
        created_at: Date;
        traceparent: string | null;
      }>(STALE_COMMANDS_SQL, [olderThanMs, limit]);
      return rows.map((r) => ({
        topic: r.topic,
        message: {
          id: r.message_id,
          type: r.type,
          key: r.message_key,
          payload: r.payload,
          createdAt: r.created_at.toISOString(),
          ...(r.traceparent ? { traceparent: r.traceparent } : {}),
        },
      }));
    },

    /**
     * Records why these sagas' current step failed (the operations console shows it). Only on failure,
     * in score id order like the settlements, so that concurrent batches lock rows in one order.
     */
    async recordFailure(db: Queryable, scoreIds: readonly string[], error: string): Promise<void> {
      if (scoreIds.length === 0) return;
      await db.query(
        `UPDATE scores SET last_error = left($2, 500), last_error_at = now()
         WHERE id IN (SELECT id FROM scores WHERE id = ANY($1::uuid[]) AND saga_state IS NOT NULL ORDER BY id FOR UPDATE)`,
        [[...scoreIds].sort(), error],
      );
    },

    /** How many sagas are in flight, compensating, and compensating for longer than `stuckAfterMs`. */
    async counts(
      db: Queryable,
      stuckAfterMs: number,
    ): Promise<{ applying: number; reverting: number; stuck: number }> {
      const { rows } = await db.query<{ applying: number; reverting: number; stuck: number }>(
        `SELECT count(*) FILTER (WHERE saga_state = 'APPLYING')::int AS applying,
                count(*) FILTER (WHERE saga_state = 'REVERTING')::int AS reverting,
                count(*) FILTER (WHERE saga_state = 'REVERTING'
                  AND pending_since < now() - make_interval(secs => $1::double precision / 1000))::int AS stuck
         FROM scores WHERE saga_state IS NOT NULL`,
        [stuckAfterMs],
      );
      return rows[0]!;
    },

    /** Sagas in flight, oldest first; `stuckOnly` keeps compensations running for longer than `stuckAfterMs`. */
    async list(
      db: Queryable,
      options: { stuckOnly: boolean; stuckAfterMs: number; limit: number },
    ): Promise<StaleSaga[]> {
      return options.stuckOnly
        ? listSagas(db, { olderThanMs: options.stuckAfterMs, revertingOnly: true, limit: options.limit })
        : listSagas(db, { olderThanMs: 0, revertingOnly: false, limit: options.limit });
    },

    /** Records consumed messages; returns the ids not consumed before (the rest are duplicates). */
    async claimMessages(tx: Queryable, messageIds: readonly string[], topic: string): Promise<Set<string>> {
      if (messageIds.length === 0) return new Set();
      const { rows } = await tx.query<{ message_id: string }>(
        `INSERT INTO inbox (message_id, topic) SELECT id, $2 FROM unnest($1::uuid[]) AS id ORDER BY id
         ON CONFLICT (message_id) DO NOTHING RETURNING message_id`,
        [messageIds, topic],
      );
      return new Set(rows.map((r) => r.message_id));
    },

    /** Marks every score of these events final; returns how many changed. */
    async markEventsFinal(tx: Queryable, eventIds: readonly number[]): Promise<number> {
      if (eventIds.length === 0) return 0;
      const { rowCount } = await tx.query(
        'UPDATE scores SET final = true, updated_at = now() WHERE event_id = ANY($1::bigint[]) AND NOT final',
        [eventIds],
      );
      return rowCount;
    },

    /** Events that still have scores not marked final, for reconciliation with line-provider. */
    async eventsWithOpenScores(db: Queryable, limit: number): Promise<number[]> {
      const { rows } = await db.query<{ event_id: string }>(
        'SELECT DISTINCT event_id FROM scores WHERE NOT final ORDER BY event_id LIMIT $1',
        [limit],
      );
      return rows.map((r) => Number(r.event_id));
    },

    async purgeInbox(db: Queryable, olderThanMs: number): Promise<number> {
      const { rowCount } = await db.query(
        `DELETE FROM inbox WHERE message_id IN (
           SELECT message_id FROM inbox WHERE received_at < now() - make_interval(secs => $1::double precision / 1000) LIMIT 5000)`,
        [olderThanMs],
      );
      return rowCount;
    },
  };
}

export type SagaRepository = ReturnType<typeof createSagaRepository>;
