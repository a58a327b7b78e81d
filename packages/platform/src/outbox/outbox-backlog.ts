import type { Queryable } from '../db/database.js';
import type { OutboxBacklog } from '../telemetry/metrics.js';

/**
 * A service's outbox backlog: rows not yet published and the age of the oldest. One query on the
 * partial index of unpublished rows, so it stays cheap however many published rows are kept.
 */
export async function readOutboxBacklog(db: Queryable): Promise<OutboxBacklog> {
  const { rows } = await db.query<{ n: number; age: number | null }>(
    `SELECT count(*)::int AS n, extract(epoch FROM now() - min(created_at))::float8 AS age
     FROM outbox WHERE published_at IS NULL`,
  );
  return { unpublished: rows[0]?.n ?? 0, oldestSeconds: Math.max(0, rows[0]?.age ?? 0) };
}
