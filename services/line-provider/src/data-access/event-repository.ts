import { EVENT_CHANGED_TOPIC } from '@scoreline/contracts';
import type { Queryable } from '@scoreline/platform';
import type { Event, EventState } from '../domain/event.js';

/** Where line-provider publishes event changes (defined in the contract score-maker consumes). */
export { EVENT_CHANGED_TOPIC };

export type ChangeKind = 'CREATED' | 'UPDATED' | 'SCORE_APPLIED' | 'SCORE_REVERTED' | 'CLOSED' | 'CANCELLED';

interface EventRow {
  id: number;
  title: string;
  deadline: Date;
  state: EventState;
  score_count: number;
  score_sum: number;
  rate_1: number;
  rate_2: number;
  rate_3: number;
  rate_4: number;
  rate_5: number;
  version: number;
  created_at: Date;
  updated_at: Date;
}

export function toEvent(row: EventRow): Event {
  return {
    id: row.id,
    title: row.title,
    deadline: row.deadline,
    state: row.state,
    aggregates: {
      count: row.score_count,
      sum: row.score_sum,
      histogram: [row.rate_1, row.rate_2, row.rate_3, row.rate_4, row.rate_5],
    },
    version: row.version,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/**
 * Appends "and write its EventChanged row to the outbox" to a statement that changes events (a CTE
 * named `e` returning the changed rows). The change and its message are one statement, so they commit
 * together or not at all. `more` adds CTEs that run only for the changed rows; `select` is the result.
 */
export function withEventChanged(
  changeSql: string,
  kind: ChangeKind,
  topicParam: string,
  options: { more?: string; select?: string } = {},
): string {
  return `WITH e AS (${changeSql}),
  o AS (
    INSERT INTO outbox (topic, message_key, type, payload)
    SELECT ${topicParam}, e.id::text, 'EventChanged', event_changed_payload(e, '${kind}') FROM e
  )${options.more ? `, ${options.more}` : ''}
  ${options.select ?? 'SELECT * FROM e ORDER BY id'}`;
}

export function createEventRepository() {
  return {
    async insert(tx: Queryable, input: { title: string; deadline: Date }): Promise<Event> {
      const { rows } = await tx.query<EventRow>(
        withEventChanged('INSERT INTO events (title, deadline) VALUES ($1, $2) RETURNING *', 'CREATED', '$3'),
        [input.title, input.deadline, EVENT_CHANGED_TOPIC],
      );
      return toEvent(rows[0]!);
    },

    async get(tx: Queryable, id: number, options: { forUpdate?: boolean } = {}): Promise<Event | undefined> {
      const { rows } = await tx.query<EventRow>(
        `SELECT * FROM events WHERE id = $1${options.forUpdate ? ' FOR UPDATE' : ''}`,
        [id],
      );
      return rows[0] && toEvent(rows[0]);
    },

    /** Keyset pagination by id: stable under inserts, and each page is one index range scan. */
    async list(
      tx: Queryable,
      filter: { state: EventState | undefined; afterId: number; limit: number },
    ): Promise<Event[]> {
      const { rows } = await tx.query<EventRow>(
        `SELECT * FROM events
         WHERE id > $1 AND ($2::text IS NULL OR state = $2)
         ORDER BY id LIMIT $3`,
        [filter.afterId, filter.state ?? null, filter.limit],
      );
      return rows.map(toEvent);
    },

    async update(tx: Queryable, id: number, change: { title?: string; deadline?: Date }): Promise<Event> {
      const { rows } = await tx.query<EventRow>(
        withEventChanged(
          `UPDATE events SET title = COALESCE($2, title), deadline = COALESCE($3, deadline),
             version = version + 1, updated_at = now()
           WHERE id = $1 RETURNING *`,
          'UPDATED',
          '$4',
        ),
        [id, change.title ?? null, change.deadline ?? null, EVENT_CHANGED_TOPIC],
      );
      return toEvent(rows[0]!);
    },

    async setState(
      tx: Queryable,
      id: number,
      state: 'CLOSED' | 'CANCELLED',
      reason?: string,
    ): Promise<Event> {
      const { rows } = await tx.query<EventRow>(
        withEventChanged(
          `UPDATE events SET state = $2, cancel_reason = $3, closed_at = now(), version = version + 1, updated_at = now()
           WHERE id = $1 RETURNING *`,
          state,
          '$4',
        ),
        [id, state, reason ?? null, EVENT_CHANGED_TOPIC],
      );
      return toEvent(rows[0]!);
    },

    /**
     * Closes up to `limit` events whose deadline has passed, each with its EventChanged row, in the
     * caller's transaction. SKIP LOCKED lets closers on several replicas split the work; a row another
     * closer already closed fails the re-check of `state = 'OPEN'` under its lock and is left out, so
     * each event is closed, and announced, once.
     */
    async closeDue(tx: Queryable, limit: number): Promise<Event[]> {
      const { rows } = await tx.query<EventRow>(
        withEventChanged(
          `UPDATE events SET state = 'CLOSED', closed_at = now(), version = version + 1, updated_at = now()
           WHERE id IN (
             SELECT id FROM events WHERE state = 'OPEN' AND deadline <= now()
             ORDER BY deadline LIMIT $1 FOR UPDATE SKIP LOCKED
           ) AND state = 'OPEN'
           RETURNING *`,
          'CLOSED',
          '$2',
        ),
        [limit, EVENT_CHANGED_TOPIC],
      );
      return rows.map(toEvent);
    },
  };
}

export type EventRepository = ReturnType<typeof createEventRepository>;
