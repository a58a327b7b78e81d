import type { Migration } from '../db/migrate.js';

/** The LISTEN/NOTIFY channel an outbox insert wakes its relay on. */
export const OUTBOX_CHANNEL = 'scoreline_outbox';

/**
 * Writers skip NOTIFY while some relay has published within this window: that relay is still polling
 * every few milliseconds (outbox-relay.ts keeps polling for twice this long after its last publish).
 */
export const OUTBOX_QUIET_WINDOW_MS = 200;

/**
 * The outbox table, owned by the platform and included in each service's migrations.
 *
 * Writers insert into it with their own statements, in the transaction of the change each row
 * describes, set-based (one INSERT … SELECT for a whole batch): score-maker's T1 and compensation
 * statements (saga-commands.ts names their columns once), line-provider's event changes and batch
 * functions. A writer fills `topic`, `message_key`, `type`, `payload` (the message, JSON) and, when it
 * has one, `traceparent` (W3C trace context; a later platform migration adds the column); `id`,
 * `message_id` and `created_at` take their defaults and `published_at` stays NULL for the relay.
 *
 * - `message_key` orders messages: the relay never publishes a row while an earlier unpublished row of
 *   the same key is held by another relay (see outbox-relay.ts).
 * - The two partial indexes keep the relay's claim and its per-key check cheap however many published
 *   rows are waiting for the retention sweep.
 * - One NOTIFY per inserting statement (not per row) wakes the relay; PostgreSQL folds repeats within a
 *   transaction into one and delivers only after COMMIT, so a rolled-back row never wakes anyone.
 */
export const outboxMigration: Migration = {
  id: 'platform/0001_outbox',
  sql: `
CREATE TABLE outbox (
  id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  message_id    uuid        NOT NULL DEFAULT gen_random_uuid() UNIQUE,
  topic         text        NOT NULL,
  message_key   text        NOT NULL,
  type          text        NOT NULL,
  payload       jsonb       NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  published_at  timestamptz
);
CREATE INDEX outbox_unpublished_idx ON outbox (id) WHERE published_at IS NULL;
CREATE INDEX outbox_unpublished_key_idx ON outbox (message_key, id) WHERE published_at IS NULL;
CREATE INDEX outbox_published_at_idx ON outbox (published_at) WHERE published_at IS NOT NULL;

CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('${OUTBOX_CHANNEL}', '');
  RETURN NULL;
END $$;
CREATE TRIGGER outbox_notify AFTER INSERT ON outbox FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();
`,
};

/**
 * NOTIFY only when no relay is busy. Every committing transaction that has called NOTIFY takes one
 * database-wide lock for the rest of its commit, WAL flush included, so under load NOTIFY serialises the
 * write path's commits (measured here: plain outbox inserts at 32 clients fell from 12.8k to 5.9k/s
 * with a NOTIFY per statement). A busy relay needs no wake-up: it records when it last published
 * while busy (outbox-relay.ts, QUIET_FROM_ROWS), and the trigger stays quiet while that was recent.
 */
export const outboxQuietNotifyMigration: Migration = {
  id: 'platform/0002_outbox_quiet_notify',
  sql: `
CREATE TABLE outbox_relay_activity (
  singleton         boolean     PRIMARY KEY DEFAULT true CHECK (singleton),
  last_published_at timestamptz NOT NULL DEFAULT '-infinity'
);
INSERT INTO outbox_relay_activity DEFAULT VALUES;

CREATE OR REPLACE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NOT EXISTS (
    SELECT 1 FROM outbox_relay_activity
    WHERE last_published_at > clock_timestamp() - interval '${OUTBOX_QUIET_WINDOW_MS} milliseconds'
  ) THEN
    PERFORM pg_notify('${OUTBOX_CHANNEL}', '');
  END IF;
  RETURN NULL;
END $$;
`,
};

/**
 * Transaction-local setting whose value (a W3C traceparent) a new outbox row takes when its writer
 * names none: SQL functions that write EventChanged rows (line-provider's apply_scores) get the
 * caller's trace context this way, without a parameter threaded through each of their inserts.
 */
export const OUTBOX_TRACEPARENT_SETTING = 'scoreline.traceparent';

/**
 * The trace context of the request that wrote a row, carried by the relay into the message, so that
 * a trace follows a change across the queue. NULL when the writer was not traced. The default is
 * stable, not volatile, so adding the column rewrites nothing.
 */
export const outboxTraceparentMigration: Migration = {
  id: 'platform/0003_outbox_traceparent',
  sql: `
ALTER TABLE outbox ADD COLUMN traceparent text
  DEFAULT nullif(current_setting('${OUTBOX_TRACEPARENT_SETTING}', true), '');
`,
};

/** The outbox's migrations, in order; each service puts them before its own. */
export const outboxMigrations: Migration[] = [
  outboxMigration,
  outboxQuietNotifyMigration,
  outboxTraceparentMigration,
];
