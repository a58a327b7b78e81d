import type { Broker, Database } from '@scoreline/platform';
import { epochMs } from './saga-load.js';

/**
 * What bench/saga.ts watches while the load runs, straight from the databases and Redis (never over
 * the API, which would add load to what is measured):
 *
 * - the settle tracker: every accepted (score id, version). When a phase's load has ended it waits
 *   until no saga is in flight (a count on the partial index of sagas in flight), then reads each
 *   version's `updated_at`, which the settling UPDATE sets (database clock): nothing is read per score
 *   while the load runs. A version the same user replaced later in the run has lost its settle time
 *   and is left out (counted). Optionally (`livePollMs` > 0) it also polls the scores in flight while
 *   the load runs, by primary key, oldest first, to cross-check with the time a poll first saw each
 *   one settled; that costs the database a share of a core when many are in flight (see BATCH).
 * - the sampler: once a second, sagas in flight (PENDING scores), both outboxes' unpublished rows and
 *   the age of the oldest, and the messages waiting (or delayed for a retry) in the ApplyScore and
 *   EventChanged queues, from the platform's Broker.depth(), whatever the broker keeps in Redis.
 */

/**
 * The live poller asks about at most this many ids a poll, and pauses at least `COST_FACTOR` times the
 * last query between polls: it never takes more than about a quarter of one database backend.
 */
const BATCH = 200;
const COST_FACTOR = 3;

export interface Tracked {
  id: string;
  version: number;
  phase: string;
  /** 202 received (epoch ms, our clock). */
  acceptedAt: number;
  /** updated_at of the settled version (epoch ms, database clock, microseconds). */
  settledAt?: number;
  /** With the live poller: when the first poll that saw it settled returned (epoch ms, our clock). */
  observedAt?: number;
  status?: 'CONFIRMED' | 'REJECTED';
  /** The same user scored the event again before this version's settle time was read: left out. */
  replaced?: boolean;
}

export interface SettleTracker {
  add(entry: Tracked): void;
  /** Every entry, in the order accepted. */
  readonly all: readonly Tracked[];
  /**
   * Waits until no saga is in flight (at most `timeoutMs`: then false), then reads the settle time of
   * every entry that has none yet.
   */
  settle(timeoutMs: number): Promise<boolean>;
  /** The live poller's figures (undefined when it is off). */
  stats():
    | { polls: number; meanPeriodMs: number; meanQueryMs: number; meanIds: number; busyShare: number }
    | undefined;
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface ScoreRow {
  id: string;
  version: number;
  status: string;
  settled_at: number;
}

const READ_SQL = `SELECT id::text AS id, version, status, (extract(epoch FROM updated_at) * 1000)::float8 AS settled_at
  FROM scores WHERE id = ANY($1::uuid[])`;

/** Applies what the database says of each entry; returns the entries now decided. */
function apply(entries: readonly Tracked[], rows: readonly ScoreRow[], seenAt?: number): Tracked[] {
  const byId = new Map(rows.map((r) => [r.id, r]));
  const decided: Tracked[] = [];
  for (const entry of entries) {
    const row = byId.get(entry.id);
    if (!row) continue;
    if (row.version > entry.version) {
      entry.replaced = true;
    } else if (row.version === entry.version && row.status !== 'PENDING') {
      entry.settledAt = row.settled_at;
      entry.observedAt = seenAt;
      entry.status = row.status as 'CONFIRMED' | 'REJECTED';
    } else {
      continue;
    }
    decided.push(entry);
  }
  return decided;
}

export function startSettleTracker(db: Database, livePollMs: number): SettleTracker {
  const all: Tracked[] = [];
  const live = new Map<string, Tracked>();
  const keyOf = (e: Tracked) => `${e.id}:${e.version}`;
  let running = true;
  let polls = 0;
  let queryMs = 0;
  let ids = 0;
  const startedAt = epochMs();

  const poll = async () => {
    const batch: Tracked[] = [];
    for (const entry of live.values()) {
      batch.push(entry);
      if (batch.length >= BATCH) break;
    }
    const unique = [...new Set(batch.map((e) => e.id))];
    const t0 = epochMs();
    const { rows } = await db.query<ScoreRow>(READ_SQL, [unique]);
    const t1 = epochMs();
    polls++;
    queryMs += t1 - t0;
    ids += unique.length;
    for (const entry of apply(batch, rows, t1)) live.delete(keyOf(entry));
  };

  const loop =
    livePollMs > 0
      ? (async () => {
          while (running) {
            let pause = livePollMs;
            if (live.size > 0) {
              const t0 = epochMs();
              try {
                await poll();
                pause = Math.max(livePollMs, COST_FACTOR * (epochMs() - t0));
              } catch (error) {
                console.error(`settle poller: ${(error as Error).message}`);
                pause = 100;
              }
            }
            await sleep(pause);
          }
        })()
      : Promise.resolve();

  return {
    add(entry) {
      all.push(entry);
      if (livePollMs > 0) live.set(keyOf(entry), entry);
    },
    all,
    async settle(timeoutMs) {
      const giveUpAt = Date.now() + timeoutMs;
      let quiet = false;
      while (!quiet && Date.now() <= giveUpAt) {
        const { rows } = await db.query<{ n: number }>(
          'SELECT count(*)::int AS n FROM scores WHERE saga_state IS NOT NULL',
        );
        quiet = rows[0]!.n === 0;
        if (!quiet) await sleep(100);
      }
      const open = all.filter((e) => e.settledAt === undefined && !e.replaced);
      for (let i = 0; i < open.length; i += 5000) {
        const chunk = open.slice(i, i + 5000);
        const { rows } = await db.query<ScoreRow>(READ_SQL, [[...new Set(chunk.map((e) => e.id))]]);
        for (const entry of apply(chunk, rows)) live.delete(keyOf(entry));
      }
      return quiet;
    },
    stats() {
      if (livePollMs <= 0) return undefined;
      return {
        polls,
        meanPeriodMs: polls ? (epochMs() - startedAt) / polls : Number.NaN,
        meanQueryMs: polls ? queryMs / polls : Number.NaN,
        meanIds: polls ? ids / polls : Number.NaN,
        busyShare: queryMs / (epochMs() - startedAt),
      };
    },
    async stop() {
      running = false;
      await loop;
    },
  };
}

export interface Sample {
  at: number;
  phase: string;
  /** Sagas in flight: scores with saga_state set (the same rows as status = 'PENDING'). */
  pending: number;
  smOutbox: { rows: number; ageS: number };
  lpOutbox: { rows: number; ageS: number };
  applyWaiting: number;
  eventChangedWaiting: number;
}

const OUTBOX_LAG_SQL = `SELECT count(*)::int AS rows,
  coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8 AS age
  FROM outbox WHERE published_at IS NULL`;

export interface Sampler {
  readonly samples: readonly Sample[];
  phase: string;
  stop(): Promise<void>;
}

export function startSampler(deps: {
  sm: Database;
  lp: Database;
  broker: Broker;
  applyTopic: string;
  eventChangedTopic: string;
}): Sampler {
  const { sm, lp, broker } = deps;
  const samples: Sample[] = [];
  let running = true;
  const sampler: Sampler = { samples, phase: 'setup', stop: async () => undefined };

  const take = async (): Promise<Sample> => {
    const at = epochMs();
    const phase = sampler.phase;
    const [pending, smLag, lpLag, applyWaiting, eventChangedWaiting] = await Promise.all([
      sm.query<{ n: number }>('SELECT count(*)::int AS n FROM scores WHERE saga_state IS NOT NULL'),
      sm.query<{ rows: number; age: number }>(OUTBOX_LAG_SQL),
      lp.query<{ rows: number; age: number }>(OUTBOX_LAG_SQL),
      broker.depth(deps.applyTopic),
      broker.depth(deps.eventChangedTopic),
    ]);
    return {
      at,
      phase,
      pending: pending.rows[0]!.n,
      smOutbox: { rows: smLag.rows[0]!.rows, ageS: smLag.rows[0]!.age },
      lpOutbox: { rows: lpLag.rows[0]!.rows, ageS: lpLag.rows[0]!.age },
      applyWaiting,
      eventChangedWaiting,
    };
  };

  const loop = (async () => {
    let next = Date.now();
    while (running) {
      try {
        samples.push(await take());
      } catch (error) {
        console.error(`sampler: ${(error as Error).message}`);
      }
      next += 1000;
      while (running && Date.now() < next) await sleep(Math.min(50, next - Date.now()));
    }
  })();

  sampler.stop = async () => {
    running = false;
    await loop;
  };
  return sampler;
}
