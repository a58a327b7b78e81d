import { randomUUID } from 'node:crypto';
import type { v1 } from '@scoreline/contracts';
import type { Database, Queryable, QueryResult } from '@scoreline/platform';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEvent, startHarness, type Harness } from './helpers.js';

/** What line-provider sent to PostgreSQL: each statement, and the transaction it ran in (if any). */
interface Sent {
  text: string;
  transaction: number | undefined;
}

/** Passes everything through to `db`, noting each statement and each transaction opened. */
function watched(db: Database, log: Sent[]): Database {
  let transactions = 0;
  return {
    driver: db.driver,
    query<R>(text: string, params?: readonly unknown[]): Promise<QueryResult<R>> {
      log.push({ text, transaction: undefined });
      return db.query<R>(text, params);
    },
    exec: (script) => db.exec(script),
    transaction(work, options) {
      const id = ++transactions;
      return db.transaction((tx) => {
        const inner: Queryable = {
          query<R>(text: string, params?: readonly unknown[]): Promise<QueryResult<R>> {
            log.push({ text, transaction: id });
            return tx.query<R>(text, params);
          },
          exec: (script) => tx.exec(script),
        };
        return work(inner);
      }, options);
    },
    listen: (channel, onNotify) => db.listen(channel, onNotify),
    ping: () => db.ping(),
    close: () => db.close(),
  };
}

const log: Sent[] = [];
let h: Harness;
beforeAll(async () => {
  // Background work stays quiet; the outbox relay still wakes on NOTIFY, so its statements (all on
  // the outbox) are told apart below.
  h = await startHarness(
    { DEADLINE_CHECK_INTERVAL: '1h', OUTBOX_POLL_INTERVAL: '1h' },
    { wrapDb: (db) => watched(db, log) },
  );
});
afterAll(async () => {
  await h.dispose();
});

/** The statements a call sent, leaving out the outbox relay's. */
async function sentBy(call: () => Promise<unknown>): Promise<Sent[]> {
  log.length = 0;
  await call();
  return log.filter((s) => !/outbox/i.test(s.text));
}

describe('round trips to PostgreSQL', () => {
  it('when ApplyScore, RevertScore or a 100-item ApplyScores runs, then it sends one statement and no transaction', async () => {
    const event = await createEvent(h);
    const scoreId = randomUUID();
    const item = { scoreId, version: 1, eventId: event.id, userId: 'rt', rate: 4 };
    const batch = Array.from({ length: 100 }, (_, i) => ({
      ...item,
      scoreId: randomUUID(),
      rate: (i % 5) + 1,
    }));

    const apply = await sentBy(() => h.call('applyScore', item, 'internal'));
    const revert = await sentBy(() => h.call('revertScore', { scoreId, version: 1 }, 'internal'));
    const applyMany = await sentBy(() => h.call('applyScores', { items: batch }, 'internal'));
    const revertMany = await sentBy(() => h.call('revertScores', { items: batch }, 'internal'));

    expect(apply).toEqual([
      { text: expect.stringContaining('apply_scores(') as string, transaction: undefined },
    ]);
    expect(revert).toEqual([
      { text: expect.stringContaining('revert_scores(') as string, transaction: undefined },
    ]);
    expect(applyMany).toEqual(apply);
    expect(revertMany).toEqual(revert);
    const event2 = (await h.call<{ eventId: number }, v1.GetEventResponse>('getEvent', { eventId: event.id }))
      .event!;
    expect(event2.scores).toMatchObject({ count: 0, sum: 0 });
  });
});
