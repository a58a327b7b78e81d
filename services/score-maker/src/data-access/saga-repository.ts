import type { Database, Queryable } from '@scoreline/platform';
import type { Settlement } from '../domain/saga.js';
import { REVERT_TOPIC, type Score } from '../domain/score.js';
import { stepId, toScore } from './score-repository.js';

/** NOTIFY channel of settlements; the payload is the settled score ids, comma-separated. */
export const SCORE_SETTLED_CHANNEL = 'score_settled';

export interface StaleSaga {
  id: string;
  version: number;
  eventId: number;
  userId: string;
  rate: number;
  sagaState: 'APPLYING' | 'REVERTING';
  pendingSince: Date;
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
    saga_state: 'APPLYING' | 'REVERTING';
    pending_since: Date;
  }>(
    `SELECT id, version, event_id, user_id, rate, saga_state, pending_since FROM scores
     WHERE saga_state IS NOT NULL AND (NOT $1 OR saga_state = 'REVERTING')
       AND pending_since <= now() - make_interval(secs => $2::double precision / 1000)
     ORDER BY pending_since LIMIT $3`,
    [filter.revertingOnly, filter.olderThanMs, filter.limit],
  );
  return rows.map((r) => ({
    id: r.id,
    version: r.version,
    eventId: r.event_id,
    userId: r.user_id,
    rate: r.rate,
    sagaState: r.saga_state,
    pendingSince: r.pending_since,
  }));
}

export function createSagaRepository() {
  return {
    async get(db: Queryable, scoreId: string): Promise<Score | undefined> {
      const { rows } = await db.query<Parameters<typeof toScore>[0]>('SELECT * FROM scores WHERE id = $1', [
        scoreId,
      ]);
      return rows[0] && toScore(rows[0]);
    },

    /**
     * Settles version `version` if its saga is still at `step`. A reply for a superseded version, or a
     * duplicate reply, matches nothing and changes nothing.
     */
    async settle(
      db: Queryable,
      scoreId: string,
      version: number,
      step: 'APPLYING' | 'REVERTING',
      s: Settlement,
    ): Promise<boolean> {
      // The NOTIFY wakes API requests waiting on these scores (GET /scores/{id} with Prefer: wait).
      // A transaction that notifies takes PostgreSQL's notify lock until its commit is flushed, so such
      // commits run one at a time: keep it one NOTIFY per settle statement, and settle many scores per
      // statement where throughput matters (a payload holds at most 8000 bytes, ~200 ids).
      const { rows } = await db.query(
        `WITH settled AS (
           UPDATE scores SET status = $4, rate = COALESCE($5, rate), confirmed_rate = $6, confirmed_version = $7,
             reason = $8, saga_state = NULL, updated_at = now()
           WHERE id = $1 AND version = $2 AND saga_state = $3
           RETURNING id
         )
         SELECT pg_notify('${SCORE_SETTLED_CHANNEL}', string_agg(id::text, ',')) FROM settled HAVING count(*) > 0`,
        [scoreId, version, step, s.status, s.rate, s.confirmedRate, s.confirmedVersion, s.reason],
      );
      return rows.length === 1;
    },

    /**
     * The timeout's compensation, started in one transaction: the saga moves to REVERTING and a
     * RevertScore command goes into the outbox, which retries it until line-provider takes it.
     */
    async beginRevert(db: Database, scoreId: string, version: number): Promise<boolean> {
      const { rowCount } = await db.query(
        `WITH s AS (
           UPDATE scores SET saga_state = 'REVERTING' WHERE id = $1 AND version = $2 AND saga_state = 'APPLYING'
           RETURNING id, version
         )
         INSERT INTO outbox (message_id, topic, message_key, type, payload)
         SELECT ${stepId('s.id', 's.version', 'RevertScore')}, $3, s.id::text, 'RevertScore',
           jsonb_build_object('scoreId', s.id, 'version', s.version)
         FROM s`,
        [scoreId, version, REVERT_TOPIC],
      );
      return rowCount === 1;
    },

    /** Sagas still unsettled since before `olderThanMs` ago, oldest first (what the sweeper re-drives). */
    async findStale(db: Queryable, olderThanMs: number, limit: number): Promise<StaleSaga[]> {
      return listSagas(db, { olderThanMs, revertingOnly: false, limit });
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

    /** Records a consumed message; false when it was consumed before (a duplicate). */
    async claimMessage(tx: Queryable, messageId: string, topic: string): Promise<boolean> {
      const { rowCount } = await tx.query(
        'INSERT INTO inbox (message_id, topic) VALUES ($1, $2) ON CONFLICT (message_id) DO NOTHING',
        [messageId, topic],
      );
      return rowCount === 1;
    },

    async markEventFinal(tx: Queryable, eventId: number): Promise<number> {
      const { rowCount } = await tx.query(
        'UPDATE scores SET final = true, updated_at = now() WHERE event_id = $1 AND NOT final',
        [eventId],
      );
      return rowCount;
    },

    /** Events that still have scores not marked final, for reconciliation with line-provider. */
    async eventsWithOpenScores(db: Queryable, limit: number): Promise<number[]> {
      const { rows } = await db.query<{ event_id: number }>(
        'SELECT DISTINCT event_id FROM scores WHERE NOT final ORDER BY event_id LIMIT $1',
        [limit],
      );
      return rows.map((r) => r.event_id);
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
