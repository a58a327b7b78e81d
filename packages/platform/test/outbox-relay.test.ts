import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  createMemoryBroker,
  createOutboxRelay,
  createRedisBroker,
  outboxMigrations,
  OUTBOX_CHANNEL,
  silentLogger,
  type Broker,
  type BrokerMessage,
  type Database,
  type OutboxRelay,
} from '../src/index.js';
import {
  appendToOutbox,
  createTestDatabase,
  createTestRedis,
  redisSkipReason,
  testServices,
  waitFor,
  type TestDatabase,
  type TestRedis,
} from '../src/testing/index.js';

const logger = silentLogger();
const TOPIC = 'test-events';

/** Wraps a real broker and records every message handed to `publish`, duplicates included. */
function recording(broker: Broker) {
  const published: BrokerMessage[] = [];
  const wrapped: Broker = {
    ...broker,
    async publish(topic, messages, options) {
      await broker.publish(topic, messages, options);
      published.push(...messages);
    },
  };
  return { broker: wrapped, published };
}

async function insert(db: Database, rows: { key: string; n: number }[]) {
  return db.transaction((tx) =>
    appendToOutbox(
      tx,
      rows.map((r) => ({ topic: TOPIC, key: r.key, type: 'Tested', payload: { n: r.n } })),
    ),
  );
}

async function unpublished(db: Database): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM outbox WHERE published_at IS NULL',
  );
  return rows[0]!.n;
}

describe('outbox relay on the test database', () => {
  let tdb: TestDatabase;
  const relays: OutboxRelay[] = [];
  beforeAll(async () => {
    tdb = await createTestDatabase(outboxMigrations);
  });
  afterEach(async () => {
    await Promise.all(relays.splice(0).map((r) => r.stop()));
    await tdb.db.query('DELETE FROM outbox');
    // Each test starts with no relay recently busy, so writers notify.
    await tdb.db.query(`UPDATE outbox_relay_activity SET last_published_at = '-infinity'`);
  });
  afterAll(async () => {
    await tdb.dispose();
  });

  it('when a transaction commits, then its rows are published; when one rolls back, then its rows never are', async () => {
    const { broker, published } = recording(createMemoryBroker());
    const relay = createOutboxRelay({ db: tdb.db, broker, logger, pollIntervalMs: 50 });
    relays.push(relay);
    await relay.start();
    const [committed] = await insert(tdb.db, [{ key: 'a', n: 1 }]);
    await expect(
      tdb.db.transaction(async (tx) => {
        await appendToOutbox(tx, [{ topic: TOPIC, key: 'a', type: 'Tested', payload: { n: 2 } }]);
        throw new Error('business rule failed');
      }),
    ).rejects.toThrow('business rule failed');
    await waitFor(() => published.length === 1, { what: 'the committed row' });
    await new Promise((r) => setTimeout(r, 200));
    expect(published.map((m) => m.id)).toEqual([committed]);
    expect(published[0]!.payload).toEqual({ n: 1 });
    expect(await unpublished(tdb.db)).toBe(0);
    const { rows } = await tdb.db.query<{ n: number }>('SELECT count(*)::int AS n FROM outbox');
    expect(rows[0]!.n).toBe(1);
  });

  it('when a row is inserted, then NOTIFY wakes the relay long before its polling interval', async () => {
    const { broker, published } = recording(createMemoryBroker());
    const relay = createOutboxRelay({ db: tdb.db, broker, logger, pollIntervalMs: 60_000 });
    relays.push(relay);
    await relay.start();
    await new Promise((r) => setTimeout(r, 100)); // the first (empty) round is over; now it sleeps
    const started = Date.now();
    await insert(tdb.db, [{ key: 'a', n: 1 }]);
    await waitFor(() => published.length === 1, { what: 'publication', timeoutMs: 5000 });
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('when a busy relay has just published, then writers skip NOTIFY and the relay still takes their rows at once', async () => {
    const { broker, published } = recording(createMemoryBroker());
    let notifications = 0;
    const unlisten = await tdb.db.listen(OUTBOX_CHANNEL, () => notifications++);
    // Busy from the first row on (the default is 40 rows in a window).
    const relay = createOutboxRelay({ db: tdb.db, broker, logger, pollIntervalMs: 60_000, quietFromRows: 1 });
    relays.push(relay);
    try {
      await relay.start();
      await new Promise((r) => setTimeout(r, 100));
      await insert(tdb.db, [{ key: 'a', n: 1 }]); // the relay is idle: this one notifies
      await waitFor(() => published.length === 1, { what: 'the first row', timeoutMs: 5000 });
      const started = Date.now();
      for (let i = 2; i <= 6; i++) await insert(tdb.db, [{ key: 'a', n: i }]); // the relay is busy: quiet
      await waitFor(() => published.length === 6, { what: 'the quiet rows', timeoutMs: 5000 });
      expect(Date.now() - started).toBeLessThan(1000); // found by brisk polling, not the 60 s poll
      await new Promise((r) => setTimeout(r, 50));
      expect(notifications).toBe(1);
    } finally {
      await unlisten();
    }
  });

  it('when a relay publishes fewer rows than make it busy, then every commit notifies and wakes it at once', async () => {
    const { broker, published } = recording(createMemoryBroker());
    let notifications = 0;
    const unlisten = await tdb.db.listen(OUTBOX_CHANNEL, () => notifications++);
    const relay = createOutboxRelay({
      db: tdb.db,
      broker,
      logger,
      pollIntervalMs: 60_000,
      quietFromRows: 50,
    });
    relays.push(relay);
    try {
      await relay.start();
      await new Promise((r) => setTimeout(r, 100));
      for (let i = 1; i <= 6; i++) {
        await insert(tdb.db, [{ key: 'a', n: i }]);
        await waitFor(() => published.length === i, { what: `row ${i}`, timeoutMs: 1000 });
      }
      await waitFor(() => notifications === 6, { what: 'a notification per commit', timeoutMs: 1000 });
      const { rows } = await tdb.db.query<{ quiet: boolean }>(
        `SELECT last_published_at = '-infinity' AS quiet FROM outbox_relay_activity`,
      );
      expect(rows[0]!.quiet).toBe(true); // never told writers it was busy
    } finally {
      await unlisten();
    }
  });

  it('when a notification is lost, then polling still publishes the row', async () => {
    const { broker, published } = recording(createMemoryBroker());
    const relay = createOutboxRelay({ db: tdb.db, broker, logger, pollIntervalMs: 200 });
    relays.push(relay);
    await relay.start();
    await tdb.db.exec('ALTER TABLE outbox DISABLE TRIGGER outbox_notify');
    try {
      await insert(tdb.db, [{ key: 'a', n: 1 }]);
      await waitFor(() => published.length === 1, { what: 'publication by polling', timeoutMs: 5000 });
    } finally {
      await tdb.db.exec('ALTER TABLE outbox ENABLE TRIGGER outbox_notify');
    }
  });

  it('when published rows pass the retention period, then they are deleted and younger ones kept', async () => {
    const relay = createOutboxRelay({
      db: tdb.db,
      broker: createMemoryBroker(),
      logger,
      retentionMs: 3600_000,
      cleanupIntervalMs: 0,
      pollIntervalMs: 50,
    });
    await insert(tdb.db, [
      { key: 'old', n: 1 },
      { key: 'young', n: 2 },
      { key: 'pending', n: 3 },
    ]);
    await tdb.db.query(
      `UPDATE outbox SET published_at = now() - interval '2 hours' WHERE message_key = 'old'`,
    );
    await tdb.db.query(
      `UPDATE outbox SET published_at = now() - interval '10 minutes' WHERE message_key = 'young'`,
    );
    await tdb.db.exec('ALTER TABLE outbox DISABLE TRIGGER outbox_notify');
    relays.push(relay);
    await relay.start();
    await waitFor(
      async () => (await tdb.db.query(`SELECT 1 FROM outbox WHERE message_key = 'old'`)).rowCount === 0,
      { what: 'the old row to be deleted' },
    );
    await tdb.db.exec('ALTER TABLE outbox ENABLE TRIGGER outbox_notify');
    const { rows } = await tdb.db.query<{ message_key: string; published: boolean }>(
      'SELECT message_key, published_at IS NOT NULL AS published FROM outbox ORDER BY id',
    );
    expect(rows).toEqual([
      { message_key: 'young', published: true },
      { message_key: 'pending', published: true },
    ]);
  });
});

describe.skipIf(!testServices().postgresUrl || !testServices().redisUrl)(
  `outbox relay against PostgreSQL and Redis${redisSkipReason()}${testServices().postgresUrl ? '' : ' [skipped: needs PostgreSQL]'}`,
  () => {
    let tdb: TestDatabase;
    let redis: TestRedis;
    const closers: (() => Promise<void>)[] = [];
    beforeAll(async () => {
      tdb = await createTestDatabase(outboxMigrations);
      redis = createTestRedis();
    });
    afterEach(async () => {
      for (const close of closers.splice(0).reverse()) await close();
      await tdb.db.query('DELETE FROM outbox');
    });
    afterAll(async () => {
      await tdb.dispose();
      await redis.dispose();
    });

    const redisBroker = (prefix = redis.prefix) => {
      const broker = createRedisBroker({ url: redis.url, prefix, logger });
      closers.push(() => broker.close());
      return broker;
    };

    it('when two relays run at once under concurrent writers, then each row is published once and per-key order holds', async () => {
      const prefix = `${redis.prefix}-pair`;
      const one = recording(redisBroker(prefix));
      const two = recording(redisBroker(prefix));
      // Small batches and two pools so the relays really interleave.
      const relayA = createOutboxRelay({
        db: tdb.connect(),
        broker: one.broker,
        logger,
        batchSize: 17,
        pollIntervalMs: 20,
      });
      const relayB = createOutboxRelay({
        db: tdb.connect(),
        broker: two.broker,
        logger,
        batchSize: 23,
        pollIntervalMs: 20,
      });
      closers.push(
        () => relayA.stop(),
        () => relayB.stop(),
      );

      // What actually lands in Redis, in queue order: one consumer, one at a time.
      const delivered: BrokerMessage<{ key: string; seq: number }>[] = [];
      const consumer = redisBroker(prefix).consume<{ key: string; seq: number }>(TOPIC, async (d) => {
        delivered.push(d);
      });
      closers.push(() => consumer.close());
      await Promise.all([relayA.start(), relayB.start()]);

      // 10 writers, each owning two keys and writing its rows in order, 1,000 rows in all; a writer per
      // key mirrors production, where writers of one key serialise on the row they change.
      const writers = Array.from({ length: 10 }, async (_, w) => {
        const seq = { [`key-${w}`]: 0, [`key-${w + 10}`]: 0 };
        for (let round = 0; round < 25; round++) {
          await tdb.db.transaction((tx) =>
            appendToOutbox(
              tx,
              [0, 1, 2, 3].map((i) => {
                const key = `key-${w + (i % 2) * 10}`;
                return { topic: TOPIC, key, type: 'Tested', payload: { key, seq: seq[key]!++ } };
              }),
            ),
          );
        }
      });
      await Promise.all(writers);
      await waitFor(async () => (await unpublished(tdb.db)) === 0, {
        what: 'every row published',
        timeoutMs: 60_000,
      });
      await waitFor(() => delivered.length >= 1000, { what: 'every message delivered', timeoutMs: 60_000 });

      const published = [...one.published, ...two.published];
      expect(published).toHaveLength(1000);
      expect(new Set(published.map((m) => m.id)).size).toBe(1000);
      expect(one.published.length).toBeGreaterThan(0);
      expect(two.published.length).toBeGreaterThan(0);

      const lastSeq = new Map<string, number>();
      for (const d of delivered) {
        const previous = lastSeq.get(d.payload.key) ?? -1;
        expect(d.payload.seq, `order of ${d.payload.key}`).toBe(previous + 1);
        lastSeq.set(d.payload.key, d.payload.seq);
      }
      expect(lastSeq.size).toBe(20);
      expect([...lastSeq.values()].every((s) => s === 49)).toBe(true);
    });

    it('when a relay is killed between publish and mark, then the rows stay unpublished and another relay publishes them again', async () => {
      const ids = await insert(tdb.db, [
        { key: 'x', n: 1 },
        { key: 'y', n: 2 },
      ]);
      const fixture = fileURLToPath(new URL('./fixtures/relay-until-published.ts', import.meta.url));
      const child = spawn(process.execPath, ['--import', 'tsx', fixture, tdb.url!, redis.url, redis.prefix], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      const exited = new Promise<NodeJS.Signals | null>((resolve) =>
        child.once('exit', (_code, signal) => resolve(signal)),
      );
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      await waitFor(() => output.includes('published '), { what: 'the child to publish', timeoutMs: 60_000 });
      child.kill('SIGKILL');
      expect(await exited).toBe('SIGKILL');
      expect(output.trim()).toBe(`published ${ids.join(',')}`);

      // The first copy reached Redis before the kill.
      const broker = redisBroker();
      expect(await broker.depth(TOPIC)).toBe(2);

      // Its transaction died with it: nothing was marked, so the next relay takes the rows again.
      await waitFor(async () => (await unpublished(tdb.db)) === 2, { what: 'the lock to be released' });
      const { broker: second, published } = recording(broker);
      const relay = createOutboxRelay({ db: tdb.db, broker: second, logger });
      expect(await relay.drain()).toBe(2);
      expect(published.map((m) => m.id)).toEqual(ids);
      expect(await unpublished(tdb.db)).toBe(0);
    });
  },
);
