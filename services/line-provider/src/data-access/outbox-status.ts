import type { Queryable } from '@scoreline/platform';

export interface OutboxStatus {
  unpublished: number;
  /** Seconds since the oldest unpublished row was written; 0 when there is none. */
  lagSeconds: number;
}

/** line-provider's outbox backlog, read through the partial index of unpublished rows. */
export async function outboxStatus(db: Queryable): Promise<OutboxStatus> {
  const { rows } = await db.query<{ n: number; lag: number | null }>(
    `SELECT count(*)::int AS n, extract(epoch FROM now() - min(created_at))::float8 AS lag
     FROM outbox WHERE published_at IS NULL`,
  );
  return { unpublished: rows[0]?.n ?? 0, lagSeconds: Math.max(0, rows[0]?.lag ?? 0) };
}
