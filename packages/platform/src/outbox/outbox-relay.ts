import { SpanKind } from '@opentelemetry/api';
import type { Logger } from 'pino';
import { crashPoint } from '../crash-points.js';
import type { Broker, BrokerMessage } from '../broker/broker.js';
import type { Database, Queryable } from '../db/database.js';
import { inBatchSpan } from '../telemetry/trace-context.js';
import { OUTBOX_CHANNEL, OUTBOX_QUIET_WINDOW_MS } from './outbox-schema.js';

export interface OutboxRelayOptions {
  db: Database;
  broker: Broker;
  logger: Logger;
  /** Rows claimed per transaction. */
  batchSize?: number;
  /** Polling fallback when no NOTIFY arrives (a notification is lost while LISTEN reconnects). */
  pollIntervalMs?: number;
  /** Published rows are deleted once they are older than this. */
  retentionMs?: number;
  cleanupIntervalMs?: number;
  /**
   * Runs after a batch was published and before it is marked, inside the claiming transaction.
   * For tests that kill a relay at exactly that point; production code leaves it unset.
   */
  afterPublish?: (tx: Queryable, messages: readonly BrokerMessage[]) => Promise<void>;
  /**
   * Rows published within one quiet window (OUTBOX_QUIET_WINDOW_MS) from which the relay counts as busy:
   * it then asks writers to skip NOTIFY and polls briskly instead. Below it, every commit's NOTIFY
   * wakes the relay at once and it polls only every `pollIntervalMs`. See QUIET_FROM_ROWS.
   */
  quietFromRows?: number;
}

export interface OutboxRelay {
  start(): Promise<void>;
  /** Finishes the batch in progress, then stops. */
  stop(): Promise<void>;
  /** Publishes until nothing is left that this relay may take; returns how many it published. */
  drain(): Promise<number>;
}

interface OutboxRow {
  id: number;
  message_id: string;
  topic: string;
  message_key: string;
  type: string;
  payload: unknown;
  created_at: Date;
  traceparent: string | null;
}

/*
 * Claim a batch. Three things happen in this one statement:
 * 1. FOR UPDATE SKIP LOCKED takes the oldest unpublished rows nobody else holds, so relays running at
 *    once split the rows between them instead of queueing behind each other, and no row is published
 *    by two relays in the normal path (a row is marked before its lock is released).
 * 2. A claimed row is left out (stays unpublished, for a later round) when an earlier unpublished row
 *    of the same key exists that this relay did not claim, i.e. another relay holds it and may not have
 *    published it yet. That keeps per-key order across relays.
 * 3. Rows come back in id order, which is commit order for rows of one key as long as writers of one
 *    key serialise on a row lock (the score upsert does).
 * When the earlier row's relay commits, its rows read as published and the next round takes ours.
 * The claimed rows come straight from the locking scan, never joined back to the table, and `OFFSET 0`
 * keeps the per-key check a probe of the (message_key, id) index for each claimed row: otherwise the
 * planner could hash every unpublished row, or scan the whole table with the published rows kept for
 * the retention period, on every claim (a generic plan did both: 11.8 ms against 3.8 ms a claim of 200
 * with 10,000 rows waiting and 50,000 published).
 */
const CLAIM_SQL = `
WITH claimed AS (
  SELECT id, message_id, topic, message_key, type, payload, created_at, traceparent FROM outbox
  WHERE published_at IS NULL
  ORDER BY id
  LIMIT $1
  FOR UPDATE SKIP LOCKED
)
SELECT c.id, c.message_id, c.topic, c.message_key, c.type, c.payload, c.created_at, c.traceparent
FROM claimed c
WHERE NOT EXISTS (
  SELECT 1 FROM outbox earlier
  WHERE earlier.message_key = c.message_key
    AND earlier.id < c.id
    AND earlier.published_at IS NULL
    AND earlier.id NOT IN (SELECT id FROM claimed)
  OFFSET 0
)
ORDER BY c.id`;

/*
 * For the relay's transaction only, sent with its BEGIN:
 * - The claim is planned for each call. Its generic plan, made while the outbox was nearly empty,
 *   sequential-scans the outbox (published rows kept for the retention period included) and goes on
 *   doing so as it grows, unless the table is analyzed (see PLAN_EVERY_CALL in db/postgres.ts).
 * - The commit only records that the claimed rows went out. Should PostgreSQL crash before its WAL is
 *   flushed (within wal_writer_delay), they read as unpublished again and go out again, as after any
 *   relay crash (consumers deduplicate): so the relay does not wait for the flush, and claims its next
 *   batch that much sooner. WAL is flushed in order, so a lost mark never leaves a later row of the
 *   same key marked (per-key order holds). A claim that found nothing writes no WAL at all.
 */
const RELAY_TRANSACTION = {
  settings: { plan_cache_mode: 'force_custom_plan', synchronous_commit: 'off' },
} as const;

const MARK_SQL = 'UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[])';

/*
 * MARK_SQL for a busy relay: in the same statement it tells writers so, and they skip NOTIFY
 * (outboxQuietNotifyMigration). Rows already marked say so well enough within one window; the
 * activity update is skipped then, to keep relays off that row.
 */
const MARK_BUSY_SQL = `
WITH marked AS (UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[]))
UPDATE outbox_relay_activity SET last_published_at = clock_timestamp()
WHERE last_published_at < clock_timestamp() - interval '${OUTBOX_QUIET_WINDOW_MS / 4} milliseconds'`;

/*
 * When a relay asks writers to skip NOTIFY. While it is busy it polls every 10 ms, which also gathers
 * rows into larger batches downstream (fewer relay transactions, worker batches and line-provider
 * calls); below some rate a NOTIFY per commit serves better, waking the relay at once. Measured with
 * bench:saga (202 -> settled, machine CPU per score): at 50/s notifying gave p50 4.9-5.2 ms against
 * 9.2 ms polling; at 500/s it cost 3.9 ms of CPU per score against 3.0 ms polling, for no better p99.
 * So a relay goes quiet once it publishes this many rows in one window (200 ms: 200 rows a second).
 */
const QUIET_FROM_ROWS = 40;

/** How often a relay polls while writers may be skipping NOTIFY because it was busy. */
const BUSY_POLL_MS = 10;

// Bounded batches keep each DELETE short, so it never holds up writers for long.
const CLEANUP_SQL = `
DELETE FROM outbox WHERE id IN (
  SELECT id FROM outbox
  WHERE published_at IS NOT NULL AND published_at < now() - make_interval(secs => $1::double precision / 1000)
  LIMIT 5000
)`;

export function createOutboxRelay(options: OutboxRelayOptions): OutboxRelay {
  const { db, broker, logger } = options;
  const batchSize = options.batchSize ?? 200;
  const pollIntervalMs = options.pollIntervalMs ?? 1000;
  const retentionMs = options.retentionMs ?? 24 * 3600_000;
  const cleanupIntervalMs = options.cleanupIntervalMs ?? 60_000;

  let closing = false;
  let loop: Promise<void> | undefined;
  let wake: (() => void) | undefined;
  let wakePending = false;
  let unlisten: (() => Promise<void>) | undefined;
  let lastCleanup = 0;
  const quietFromRows = options.quietFromRows ?? QUIET_FROM_ROWS;
  /** When the relay last told writers it was busy. */
  let lastBusy = 0;
  /** Rows published in the window that began at `windowStart`. */
  let windowStart = 0;
  let windowRows = 0;
  const countAndCheckBusy = (rows: number): boolean => {
    const now = Date.now();
    if (now - windowStart >= OUTBOX_QUIET_WINDOW_MS) [windowStart, windowRows] = [now, 0];
    windowRows += rows;
    if (windowRows < quietFromRows) return false;
    lastBusy = now;
    return true;
  };

  const notify = () => {
    wakePending = true;
    wake?.();
  };

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      if (wakePending || closing) return resolve();
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        wake = undefined;
        resolve();
      }
      wake = done;
    });

  /** One claim–publish–mark transaction; returns rows published and whether the claim came back full. */
  const relayBatch = () =>
    db.transaction(async (tx) => {
      const { rows } = await tx.query<OutboxRow>(CLAIM_SQL, [batchSize]);
      if (rows.length === 0) return { published: 0, full: false };
      const messages: BrokerMessage[] = rows.map((row) => {
        const message: BrokerMessage = {
          id: row.message_id,
          type: row.type,
          key: row.message_key,
          payload: row.payload,
          createdAt: row.created_at.toISOString(),
        };
        // The row's context travels on unchanged: the consumer's span is the writer's child, as the
        // relay's publish span is.
        if (row.traceparent) message.traceparent = row.traceparent;
        return message;
      });
      // One publish call per topic, topics in order of first appearance, rows in id order within each.
      const byTopic = new Map<string, BrokerMessage[]>();
      rows.forEach((row, i) => {
        const list = byTopic.get(row.topic) ?? [];
        list.push(messages[i]!);
        byTopic.set(row.topic, list);
      });
      await inBatchSpan(
        'outbox publish',
        rows.map((r) => r.traceparent),
        {
          kind: SpanKind.PRODUCER,
          attributes: {
            'messaging.operation.type': 'send',
            'messaging.batch.message_count': rows.length,
            'messaging.destination.name': [...byTopic.keys()].join(','),
          },
        },
        async () => {
          for (const [topic, list] of byTopic) await broker.publish(topic, list);
        },
      );
      // A crash from here until COMMIT leaves the rows unpublished: they go out again (at-least-once).
      crashPoint('relay.after-publish');
      await options.afterPublish?.(tx, messages);
      await tx.query(countAndCheckBusy(rows.length) ? MARK_BUSY_SQL : MARK_SQL, [rows.map((r) => r.id)]);
      return { published: rows.length, full: rows.length === batchSize };
    }, RELAY_TRANSACTION);

  const drain = async (): Promise<number> => {
    let total = 0;
    for (;;) {
      const { published, full } = await relayBatch();
      total += published;
      // A full claim may have left rows for another round; a short one means we reached the end.
      // Rows skipped for ordering also end the round: their turn comes with the next wake-up.
      if (!full || closing) return total;
    }
  };

  const cleanup = async () => {
    for (;;) {
      const { rowCount } = await db.query(CLEANUP_SQL, [retentionMs]);
      if (rowCount < 5000 || closing) return;
    }
  };

  const run = async () => {
    let failures = 0;
    while (!closing) {
      wakePending = false;
      try {
        await drain();
        if (Date.now() - lastCleanup >= cleanupIntervalMs) {
          lastCleanup = Date.now();
          await cleanup();
        }
        failures = 0;
        // Writers stay quiet for a window after we last said we were busy; poll briskly until it has
        // surely passed.
        const busy = Date.now() - lastBusy < 2 * OUTBOX_QUIET_WINDOW_MS;
        await sleep(busy ? Math.min(BUSY_POLL_MS, pollIntervalMs) : pollIntervalMs);
      } catch (error) {
        failures++;
        const delay = Math.min(5000, 100 * 2 ** Math.min(failures, 6));
        logger.warn({ err: error, retryInMs: delay }, 'outbox relay round failed');
        wakePending = false;
        await sleep(delay);
      }
    }
  };

  return {
    async start() {
      if (loop) return;
      closing = false;
      unlisten = await db.listen(OUTBOX_CHANNEL, notify);
      loop = run();
      logger.info({ batchSize, pollIntervalMs }, 'outbox relay started');
    },
    async stop() {
      closing = true;
      wake?.();
      await loop;
      loop = undefined;
      await unlisten?.();
      unlisten = undefined;
    },
    drain,
  };
}
