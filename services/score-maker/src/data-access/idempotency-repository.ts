import type { Queryable } from '@scoreline/platform';

export interface StoredResponse {
  statusCode: number;
  body: unknown;
  location: string | null;
}

/** Keys live this long; after it, the same key starts afresh. */
export const IDEMPOTENCY_TTL_HOURS = 24;

export function createIdempotencyRepository() {
  return {
    /**
     * Serialises requests that carry the same (user, key): the second waits for the first to commit,
     * then finds its stored response. Transaction-scoped, so it is released with the transaction.
     */
    async lock(tx: Queryable, userId: string, key: string): Promise<void> {
      await tx.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`idem:${userId}:${key}`]);
    },

    async find(
      tx: Queryable,
      userId: string,
      key: string,
    ): Promise<(StoredResponse & { requestHash: string }) | undefined> {
      const { rows } = await tx.query<{
        request_hash: string;
        status_code: number;
        body: unknown;
        location: string | null;
      }>(
        `SELECT request_hash, status_code, body, location FROM idempotency_keys
         WHERE user_id = $1 AND key = $2 AND created_at > now() - make_interval(hours => $3)`,
        [userId, key, IDEMPOTENCY_TTL_HOURS],
      );
      const row = rows[0];
      return (
        row && {
          requestHash: row.request_hash,
          statusCode: row.status_code,
          body: row.body,
          location: row.location,
        }
      );
    },

    async save(
      tx: Queryable,
      userId: string,
      key: string,
      requestHash: string,
      response: StoredResponse,
    ): Promise<void> {
      // An expired row for the same key is replaced: the key starts afresh.
      await tx.query(
        `INSERT INTO idempotency_keys (user_id, key, request_hash, status_code, body, location)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (user_id, key) DO UPDATE SET request_hash = EXCLUDED.request_hash,
           status_code = EXCLUDED.status_code, body = EXCLUDED.body, location = EXCLUDED.location, created_at = now()`,
        [userId, key, requestHash, response.statusCode, JSON.stringify(response.body), response.location],
      );
    },

    /** Deletes expired keys in bounded batches; returns how many went. */
    async purgeExpired(db: Queryable): Promise<number> {
      const { rowCount } = await db.query(
        `DELETE FROM idempotency_keys WHERE ctid IN (
           SELECT ctid FROM idempotency_keys WHERE created_at < now() - make_interval(hours => $1) LIMIT 5000)`,
        [IDEMPOTENCY_TTL_HOURS],
      );
      return rowCount;
    },
  };
}

export type IdempotencyRepository = ReturnType<typeof createIdempotencyRepository>;
