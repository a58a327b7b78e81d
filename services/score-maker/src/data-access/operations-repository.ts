import type { Queryable } from '@scoreline/platform';
import { commandColumns, OUTBOX_COLUMNS } from './saga-commands.js';

/** The newest scores (by creation) the console looks through for compensations: a bounded read. */
const RECENT_SCORES = 10_000;

export interface OutboxBacklog {
  unpublished: number;
  /** Seconds since the oldest unpublished row was written; 0 when there is none. */
  lagSeconds: number;
}

export interface Compensation {
  id: string;
  eventId: number;
  userId: string;
  version: number;
  status: string;
  reason: string;
  confirmedRate: number | null;
  updatedAt: Date;
}

/*
 * A re-drive of one saga's current step: its command again, as the sweeper would send it, but under a
 * new message id, so that it is delivered now even while the step's own message waits out a retry
 * delay in the queue. Safe because every step is idempotent: line-provider answers a repeated
 * (score, version) as the first time, and a settlement matches only the version and step still current.
 */
const REDRIVE_SQL = `
WITH s AS (SELECT * FROM scores WHERE id = $1 AND saga_state IS NOT NULL),
c AS (
  SELECT ${commandColumns('ApplyScore', 's')} FROM s WHERE s.saga_state = 'APPLYING'
  UNION ALL
  SELECT ${commandColumns('RevertScore', 's')} FROM s WHERE s.saga_state = 'REVERTING'
)
INSERT INTO outbox (${OUTBOX_COLUMNS})
SELECT gen_random_uuid(), topic, message_key, type, payload FROM c
RETURNING type`;

/** What the operations console reads and does, in score-maker's database. */
export function createOperationsRepository() {
  return {
    async outboxBacklog(db: Queryable): Promise<OutboxBacklog> {
      // Through the partial index of unpublished rows.
      const { rows } = await db.query<{ n: number; lag: number | null }>(
        `SELECT count(*)::int AS n, extract(epoch FROM now() - min(created_at))::float8 AS lag
         FROM outbox WHERE published_at IS NULL`,
      );
      return { unpublished: rows[0]?.n ?? 0, lagSeconds: Math.max(0, rows[0]?.lag ?? 0) };
    },

    /** Scores the saga set back or rejected, most recent first, among the newest RECENT_SCORES. */
    async recentCompensations(db: Queryable, limit: number): Promise<Compensation[]> {
      const { rows } = await db.query<{
        id: string;
        event_id: string;
        user_id: string;
        version: string;
        status: string;
        reason: string;
        confirmed_rate: number | null;
        updated_at: Date;
      }>(
        `SELECT id, event_id, user_id, version, status, reason, confirmed_rate, updated_at
         FROM (SELECT * FROM scores ORDER BY seq DESC LIMIT ${RECENT_SCORES}) s
         WHERE reason IS NOT NULL ORDER BY updated_at DESC LIMIT $1`,
        [limit],
      );
      return rows.map((r) => ({
        id: r.id,
        eventId: Number(r.event_id),
        userId: r.user_id,
        version: Number(r.version),
        status: r.status,
        reason: r.reason,
        confirmedRate: r.confirmed_rate,
        updatedAt: r.updated_at,
      }));
    },

    /** Sends a saga's current step again now; returns the step, or undefined if the saga has settled. */
    async redrive(db: Queryable, scoreId: string): Promise<'ApplyScore' | 'RevertScore' | undefined> {
      const { rows } = await db.query<{ type: 'ApplyScore' | 'RevertScore' }>(REDRIVE_SQL, [scoreId]);
      return rows[0]?.type;
    },
  };
}

export type OperationsRepository = ReturnType<typeof createOperationsRepository>;
