import type { Queryable } from '@scoreline/platform';
import type { Score } from '../domain/score.js';
import { toScore } from './score-repository.js';

/** One score with everything its saga left behind, for `npm run sagas -- show`. */
export interface SagaRecord extends Score {
  /** The last failure of a saga step of this score, and when; kept after the saga settles. */
  lastError: string | null;
  lastErrorAt: Date | null;
  /** W3C trace context of the request that submitted the current version; null when not traced. */
  traceparent: string | null;
}

/** The score by id (its primary key), or null when score-maker has none with that id. */
export async function findSaga(db: Queryable, scoreId: string): Promise<SagaRecord | null> {
  const { rows } = await db.query<
    Parameters<typeof toScore>[0] & {
      last_error: string | null;
      last_error_at: Date | null;
      traceparent: string | null;
    }
  >(
    `SELECT id, user_id, event_id, rate, version, status, confirmed_rate, confirmed_version, reason, final,
            saga_state, pending_since, last_error, last_error_at, traceparent, created_at, updated_at
     FROM scores WHERE id = $1`,
    [scoreId],
  );
  const row = rows[0];
  if (!row) return null;
  // Keys in the order `npm run sagas -- show --json` has always printed them.
  const { createdAt, updatedAt, ...score } = toScore(row);
  return {
    ...score,
    lastError: row.last_error,
    lastErrorAt: row.last_error_at,
    traceparent: row.traceparent,
    createdAt,
    updatedAt,
  };
}
