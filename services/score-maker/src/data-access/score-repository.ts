import { activeTraceparent, type Queryable } from '@scoreline/platform';
import type { Score } from '../domain/score.js';
import { commandColumns, OUTBOX_COLUMNS } from './saga-commands.js';

interface ScoreRow {
  id: string;
  user_id: string;
  event_id: number;
  rate: number;
  version: number;
  status: Score['status'];
  confirmed_rate: number | null;
  confirmed_version: number;
  reason: Score['reason'];
  final: boolean;
  saga_state: Score['sagaState'];
  pending_since: Date | null;
  created_at: Date;
  updated_at: Date;
}

export function toScore(row: ScoreRow): Score {
  return {
    id: row.id,
    userId: row.user_id,
    eventId: row.event_id,
    rate: row.rate,
    version: row.version,
    status: row.status,
    confirmedRate: row.confirmed_rate,
    confirmedVersion: row.confirmed_version,
    reason: row.reason,
    final: row.final,
    sagaState: row.saga_state,
    pendingSince: row.pending_since,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/*
 * T1 of the saga in one statement, so one round trip, for one submission or many (the API's group
 * commit, see score-submitter.ts): upsert each score (a change bumps the version and goes back to
 * PENDING) and queue its ApplyScore command in the outbox. A final score is not touched: the upsert's
 * WHERE leaves it out, nothing is returned for it, and no command is written.
 * The items hold at most one submission per (user, event), since one statement cannot change a row
 * twice; they are written in (user, event) order, so that two statements in flight lock their rows in
 * one order and never deadlock. The row lock also orders two submissions of one user for one event, so
 * their outbox rows are in version order (the relay's per-key order relies on it).
 * The command's message id is derived from (score, version, command), so every copy of one step (the
 * relay's, a sweeper's re-drive) carries the same id, and the queue keeps one live job per step.
 * The request's trace context goes with the score and its command (saga-commands.ts says why).
 */
const SUBMIT_SQL = `
WITH i AS (
  SELECT * FROM unnest($1::text[], $2::bigint[], $3::smallint[], $4::text[]) AS i(user_id, event_id, rate, traceparent)
), s AS (
  INSERT INTO scores AS sc (user_id, event_id, rate, saga_state, pending_since, traceparent)
  SELECT user_id, event_id, rate, 'APPLYING', now(), traceparent FROM i ORDER BY user_id, event_id
  ON CONFLICT (user_id, event_id) DO UPDATE
    SET rate = EXCLUDED.rate, version = sc.version + 1, status = 'PENDING', reason = NULL,
        saga_state = 'APPLYING', pending_since = now(), updated_at = now(), traceparent = EXCLUDED.traceparent
    WHERE NOT sc.final
  RETURNING *
), o AS (
  INSERT INTO outbox (${OUTBOX_COLUMNS}, traceparent) SELECT ${commandColumns('ApplyScore', 's')}, s.traceparent FROM s
)
SELECT * FROM s`;

export interface Submission {
  userId: string;
  eventId: number;
  rate: number;
  /** The request's W3C trace context, stored with the score and its command; null when untraced. */
  traceparent: string | null;
}

export function createScoreRepository() {
  /**
   * Many submissions, at most one per (user, event), in one statement; each item's score after the
   * write, in the items' order, or undefined where the score is final and was left alone.
   */
  async function submitMany(tx: Queryable, items: readonly Submission[]): Promise<(Score | undefined)[]> {
    const { rows } = await tx.query<ScoreRow>(SUBMIT_SQL, [
      items.map((i) => i.userId),
      items.map((i) => i.eventId),
      items.map((i) => i.rate),
      items.map((i) => i.traceparent),
    ]);
    const byKey = new Map(rows.map((r) => [`${r.event_id}:${r.user_id}`, r]));
    return items.map((i) => {
      const row = byKey.get(`${i.eventId}:${i.userId}`);
      return row && toScore(row);
    });
  }

  return {
    submitMany,

    /** Returns the score after the write, or undefined when the score is final and was left alone. */
    async submit(
      tx: Queryable,
      input: { userId: string; eventId: number; rate: number },
    ): Promise<Score | undefined> {
      // The request's trace context, stored with the score and its outbox row (null when untraced).
      const [score] = await submitMany(tx, [{ ...input, traceparent: activeTraceparent() }]);
      return score;
    },

    async get(tx: Queryable, id: string): Promise<Score | undefined> {
      const { rows } = await tx.query<ScoreRow>('SELECT * FROM scores WHERE id = $1', [id]);
      return rows[0] && toScore(rows[0]);
    },

    async findByUserAndEvent(tx: Queryable, userId: string, eventId: number): Promise<Score | undefined> {
      const { rows } = await tx.query<ScoreRow>('SELECT * FROM scores WHERE user_id = $1 AND event_id = $2', [
        userId,
        eventId,
      ]);
      return rows[0] && toScore(rows[0]);
    },

    /** Those of these scores that belong to these users (live updates: settled scores of listeners). */
    async changedFor(tx: Queryable, ids: readonly string[], userIds: readonly string[]): Promise<Score[]> {
      const { rows } = await tx.query<ScoreRow>(
        'SELECT * FROM scores WHERE id = ANY($1::uuid[]) AND user_id = ANY($2::text[])',
        [ids, userIds],
      );
      return rows.map(toScore);
    },

    /** These users' scores for these events (live updates: events that closed). */
    async ofEventsFor(
      tx: Queryable,
      eventIds: readonly number[],
      userIds: readonly string[],
    ): Promise<Score[]> {
      const { rows } = await tx.query<ScoreRow>(
        'SELECT * FROM scores WHERE event_id = ANY($1::bigint[]) AND user_id = ANY($2::text[])',
        [eventIds, userIds],
      );
      return rows.map(toScore);
    },

    /** A user's scores changed after `since`, oldest change first (a resumed live stream). */
    async changedSince(tx: Queryable, userId: string, since: Date, limit: number): Promise<Score[]> {
      const { rows } = await tx.query<ScoreRow>(
        'SELECT * FROM scores WHERE user_id = $1 AND updated_at > $2 ORDER BY updated_at LIMIT $3',
        [userId, since, limit],
      );
      return rows.map(toScore);
    },

    /** A user's scores, newest first, keyset-paginated by creation order (`seq`). */
    async listByUser(
      tx: Queryable,
      userId: string,
      page: { limit: number; beforeSeq?: number },
    ): Promise<(Score & { seq: number })[]> {
      const { rows } = await tx.query<ScoreRow & { seq: number }>(
        `SELECT * FROM scores WHERE user_id = $1 AND ($2::bigint IS NULL OR seq < $2)
         ORDER BY seq DESC LIMIT $3`,
        [userId, page.beforeSeq ?? null, page.limit],
      );
      return rows.map((row) => ({ ...toScore(row), seq: row.seq }));
    },
  };
}

export type ScoreRepository = ReturnType<typeof createScoreRepository>;
