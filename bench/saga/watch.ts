import { periodic, silentLogger, type Broker, type Database } from '@scoreline/platform';
import { epochMs } from '../lib/load.js';

/**
 * What bench/saga watches while the load runs, straight from the databases and Redis (never over the
 * API, which would add load to what is measured):
 *
 * - the settle tracker: every accepted (score id, version). When a phase's load has ended it waits
 *   until no saga is in flight (a count on the partial index of sagas in flight), then reads each
 *   version's `updated_at`, which the settling UPDATE sets (database clock): nothing is read per score
 *   while the load runs. A version the same user replaced later in the run has lost its settle time
 *   and is left out (counted).
 * - the sampler: every second, sagas in flight (PENDING scores), both outboxes' unpublished rows and
 *   the age of the oldest, and the messages waiting (or delayed for a retry) in the ApplyScore and
 *   EventChanged queues, from the platform's Broker.depth(), whatever the broker keeps in Redis.
 */
export interface Tracked {
  id: string;
  version: number;
  phase: string;
  /** 202 received (epoch ms, our clock). */
  acceptedAt: number;
  /** updated_at of the settled version (epoch ms, database clock, microseconds). */
  settledAt?: number;
  status?: string;
  /** The same user scored the event again before this version's settle time was read: left out. */
  replaced?: boolean;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
export const IN_FLIGHT_SQL = 'SELECT count(*)::int AS n FROM scores WHERE saga_state IS NOT NULL';

export function startSettleTracker(db: Database) {
  const all: Tracked[] = [];
  return {
    /** Every entry, in the order accepted. */
    all,
    add: (entry: Tracked) => void all.push(entry),
    /**
     * Waits until no saga is in flight (at most `timeoutMs`: then false), then reads the settle time of
     * every entry that has none yet.
     */
    async settle(timeoutMs: number): Promise<boolean> {
      const giveUpAt = Date.now() + timeoutMs;
      let quiet = false;
      while (!quiet && Date.now() <= giveUpAt) {
        quiet = (await db.query<{ n: number }>(IN_FLIGHT_SQL)).rows[0]!.n === 0;
        if (!quiet) await sleep(100);
      }
      const open = all.filter((e) => e.settledAt === undefined && !e.replaced);
      for (let i = 0; i < open.length; i += 5000) {
        const chunk = open.slice(i, i + 5000);
        const { rows } = await db.query<{ id: string; version: number; status: string; at: number }>(
          `SELECT id::text AS id, version, status, (extract(epoch FROM updated_at) * 1000)::float8 AS at
           FROM scores WHERE id = ANY($1::uuid[])`,
          [[...new Set(chunk.map((e) => e.id))]],
        );
        const byId = new Map(rows.map((r) => [r.id, r]));
        for (const entry of chunk) {
          const row = byId.get(entry.id);
          if (row && row.version > entry.version) entry.replaced = true;
          else if (row?.version === entry.version && row.status !== 'PENDING') {
            entry.settledAt = row.at;
            entry.status = row.status;
          }
        }
      }
      return quiet;
    },
  };
}
export type SettleTracker = ReturnType<typeof startSettleTracker>;

export interface Sample {
  at: number;
  phase: string;
  /** Sagas in flight: scores with saga_state set (the same rows as status = 'PENDING'). */
  pending: number;
  smOutbox: { rows: number; ageMs: number };
  lpOutbox: { rows: number; ageMs: number };
  applyWaiting: number;
  eventChangedWaiting: number;
}

const OUTBOX_LAG_SQL = `SELECT count(*)::int AS rows,
  coalesce(extract(epoch FROM now() - min(created_at)) * 1000, 0)::float8 AS "ageMs"
  FROM outbox WHERE published_at IS NULL`;

/** Samples once a second (a second after the last sample ended) until stopped. */
export function startSampler(
  sm: Database,
  lp: Database,
  broker: Broker,
  topics: { apply: string; eventChanged: string },
) {
  const sampler = { samples: [] as Sample[], phase: 'setup', stop: () => task.stop() };
  const task = periodic(
    'sampler',
    1000,
    async () => {
      const [at, phase] = [epochMs(), sampler.phase];
      const [pending, smLag, lpLag, applyWaiting, eventChangedWaiting] = await Promise.all([
        sm.query<{ n: number }>(IN_FLIGHT_SQL),
        sm.query<{ rows: number; ageMs: number }>(OUTBOX_LAG_SQL),
        lp.query<{ rows: number; ageMs: number }>(OUTBOX_LAG_SQL),
        broker.depth(topics.apply),
        broker.depth(topics.eventChanged),
      ]);
      const [smOutbox, lpOutbox] = [smLag.rows[0]!, lpLag.rows[0]!];
      sampler.samples.push({
        at,
        phase,
        pending: pending.rows[0]!.n,
        smOutbox,
        lpOutbox,
        applyWaiting,
        eventChangedWaiting,
      });
    },
    silentLogger(),
    { runAtStart: true },
  );
  task.start();
  return sampler;
}
