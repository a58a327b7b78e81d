import type { Queryable } from '../db/database.js';
import { activeTraceparent } from '../telemetry/trace-context.js';

export interface OutboxEntry {
  topic: string;
  key: string;
  type: string;
  payload: unknown;
  /** W3C trace context to carry with the message; by default the active span's (none when untraced). */
  traceparent?: string | null;
}

/**
 * Test rows for the outbox relay: adds messages to the outbox inside the caller's transaction, as a
 * service's own set-based INSERT would (the table's contract for writers is stated with
 * outboxMigration). Returns the generated message ids, in order.
 */
export async function appendToOutbox(tx: Queryable, entries: readonly OutboxEntry[]): Promise<string[]> {
  if (entries.length === 0) return [];
  const active = activeTraceparent();
  const { rows } = await tx.query<{ id: number; message_id: string }>(
    `INSERT INTO outbox (topic, message_key, type, payload, traceparent)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::jsonb[], $5::text[])
     RETURNING id, message_id`,
    [
      entries.map((e) => e.topic),
      entries.map((e) => e.key),
      entries.map((e) => e.type),
      entries.map((e) => JSON.stringify(e.payload)),
      entries.map((e) => (e.traceparent === undefined ? active : e.traceparent)),
    ],
  );
  return rows.sort((a, b) => a.id - b.id).map((r) => r.message_id);
}
