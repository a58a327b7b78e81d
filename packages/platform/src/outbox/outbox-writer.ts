import type { Queryable } from '../db/database.js';

export interface OutboxEntry {
  topic: string;
  key: string;
  type: string;
  payload: unknown;
}

/**
 * Adds messages to the outbox inside the caller's transaction, so they exist exactly when the change
 * they describe commits. Returns the generated message ids, in order.
 */
export async function appendToOutbox(tx: Queryable, entries: readonly OutboxEntry[]): Promise<string[]> {
  if (entries.length === 0) return [];
  const { rows } = await tx.query<{ id: number; message_id: string }>(
    `INSERT INTO outbox (topic, message_key, type, payload)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::jsonb[])
     RETURNING id, message_id`,
    [
      entries.map((e) => e.topic),
      entries.map((e) => e.key),
      entries.map((e) => e.type),
      entries.map((e) => JSON.stringify(e.payload)),
    ],
  );
  return rows.sort((a, b) => a.id - b.id).map((r) => r.message_id);
}
