import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createMemoryBroker,
  createOutboxRelay,
  formatTraceparent,
  outboxMigrations,
  OUTBOX_TRACEPARENT_SETTING,
  parseTraceparent,
  silentLogger,
  traceIdOf,
  type Broker,
  type Delivery,
} from '../src/index.js';
import { appendToOutbox, createTestDatabase, waitFor, type TestDatabase } from '../src/testing/index.js';

const logger = silentLogger();
const TOPIC = 'traced-events';
const TRACEPARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
const OTHER = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00';

describe('W3C traceparent', () => {
  it('when a traceparent is parsed and formatted again, then it is the same string', () => {
    for (const value of [TRACEPARENT, OTHER]) expect(formatTraceparent(parseTraceparent(value)!)).toBe(value);
    expect(traceIdOf(TRACEPARENT)).toBe('0af7651916cd43dd8448eb211c80319c');
  });

  it('when a traceparent is malformed or all zeros, then it names no context', () => {
    for (const value of [
      '',
      null,
      undefined,
      'garbage',
      '01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      '00-00000000000000000000000000000000-b7ad6b7169203331-01',
      '00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01',
      '00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01',
    ]) {
      expect(parseTraceparent(value)).toBeUndefined();
    }
  });
});

describe('trace context through the outbox, the relay and the queue', () => {
  let tdb: TestDatabase;
  let broker: Broker;
  const received: Delivery[] = [];

  beforeAll(async () => {
    tdb = await createTestDatabase(outboxMigrations);
    broker = createMemoryBroker({ logger });
    broker.consume(TOPIC, async (delivery) => void received.push(delivery));
  });
  afterAll(async () => {
    await broker.close();
    await tdb.dispose();
  });

  it('when rows are written with, without and through the transaction setting, then each message carries its row’s context', async () => {
    const { db } = tdb;
    const [traced, untraced] = await db.transaction((tx) =>
      appendToOutbox(tx, [
        { topic: TOPIC, key: 'a', type: 'Tested', payload: { n: 1 }, traceparent: TRACEPARENT },
        { topic: TOPIC, key: 'b', type: 'Tested', payload: { n: 2 } },
      ]),
    );
    // What line-provider's SQL functions do: set the context for the transaction, insert without it.
    const bySetting = await db.transaction(async (tx) => {
      await tx.query('SELECT set_config($1, $2, true)', [OUTBOX_TRACEPARENT_SETTING, OTHER]);
      const { rows } = await tx.query<{ message_id: string }>(
        `INSERT INTO outbox (topic, message_key, type, payload) VALUES ($1, 'c', 'Tested', '{"n":3}')
         RETURNING message_id`,
        [TOPIC],
      );
      return rows[0]!.message_id;
    });
    // The setting ended with its transaction: a later row on the same pool takes no context from it.
    const after = await db.transaction((tx) =>
      appendToOutbox(tx, [{ topic: TOPIC, key: 'd', type: 'Tested', payload: { n: 4 }, traceparent: null }]),
    );
    const { rows } = await db.query<{ message_id: string; traceparent: string | null }>(
      'SELECT message_id, traceparent FROM outbox ORDER BY id',
    );
    expect(rows.map((r) => r.traceparent)).toEqual([TRACEPARENT, null, OTHER, null]);

    const relay = createOutboxRelay({ db, broker, logger });
    expect(await relay.drain()).toBe(4);
    await waitFor(() => received.length === 4, { what: 'four deliveries' });
    const byId = new Map(received.map((d) => [d.id, d]));
    expect(byId.get(traced!)?.traceparent).toBe(TRACEPARENT);
    expect(byId.get(bySetting)?.traceparent).toBe(OTHER);
    expect(byId.get(untraced!)).not.toHaveProperty('traceparent');
    expect(byId.get(after[0]!)).not.toHaveProperty('traceparent');
  });
});
