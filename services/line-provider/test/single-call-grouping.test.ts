import { randomUUID } from 'node:crypto';
import { v1 } from '@scoreline/contracts';
import type { Queryable } from '@scoreline/platform';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createScoreLedgerRepository } from '../src/data-access/score-ledger-repository.js';
import { createScoreUseCases } from '../src/use-cases/scores.js';
import { createEvent, startHarness, type Harness } from './helpers.js';

/*
 * Single ApplyScore and RevertScore calls that arrive together go to PostgreSQL together: while two
 * statements of single calls run, the calls that arrive wait and go in the next one (group commit).
 * Each call still gets the answer and the error it would have had alone.
 */

/** apply_scores()/revert_scores() statements line-provider sent, counted as they go out. */
const sent = { apply: 0, revert: 0 };
let h: Harness;
beforeAll(async () => {
  h = await startHarness(
    { DEADLINE_CHECK_INTERVAL: '1h' },
    {
      wrapDb: (db) => ({
        ...db,
        query(text, params) {
          if (text.includes('apply_scores(')) sent.apply += 1;
          if (text.includes('revert_scores(')) sent.revert += 1;
          return db.query(text, params);
        },
      }),
    },
  );
});
afterAll(async () => {
  await h.dispose();
});

const apply = (item: { scoreId: string; version: number; eventId: number; userId: string; rate: number }) =>
  h.call<typeof item, v1.ApplyScoreResponse>('applyScore', item, 'internal');

async function aggregates(eventId: number) {
  return (await h.call<{ eventId: number }, v1.GetEventResponse>('getEvent', { eventId })).event!.scores!;
}

describe('single calls grouped into statements', () => {
  it('when 60 ApplyScore calls arrive at once, then they go in a few statements and each is applied once', async () => {
    const [a, b] = [await createEvent(h), await createEvent(h)];
    const items = Array.from({ length: 60 }, (_, i) => ({
      scoreId: randomUUID(),
      version: 1,
      eventId: i % 2 ? a.id : b.id,
      userId: `g${i}`,
      rate: (i % 5) + 1,
    }));
    sent.apply = 0;

    const answers = await Promise.all(items.map(apply));

    expect(sent.apply).toBeLessThanOrEqual(10);
    answers.forEach((answer, i) =>
      expect(answer).toMatchObject({
        outcome: v1.ApplyScoreOutcome.APPLY_SCORE_OUTCOME_APPLIED,
        appliedVersion: 1,
        appliedRate: items[i]!.rate,
      }),
    );
    const sum = (event: number) =>
      items.filter((i) => i.eventId === event).reduce((total, i) => total + i.rate, 0);
    expect(await aggregates(a.id)).toMatchObject({ count: 30, sum: sum(a.id) });
    expect(await aggregates(b.id)).toMatchObject({ count: 30, sum: sum(b.id) });

    sent.revert = 0;
    const reverts = await Promise.all(
      items.map((i) =>
        h.call<object, v1.RevertScoreResponse>('revertScore', { scoreId: i.scoreId, version: 1 }, 'internal'),
      ),
    );
    expect(sent.revert).toBeLessThanOrEqual(10);
    expect(new Set(reverts.map((r) => r.outcome))).toEqual(
      new Set([v1.RevertScoreOutcome.REVERT_SCORE_OUTCOME_REVERTED]),
    );
    expect(await aggregates(a.id)).toMatchObject({ count: 0, sum: 0 });
  });

  it('when one call of a group is refused, then it fails alone and the others get their own outcomes', async () => {
    const [open, closed] = [await createEvent(h), await createEvent(h)];
    await h.call('closeEvent', { eventId: closed.id }, 'admin');
    const taken = randomUUID();
    await apply({ scoreId: taken, version: 1, eventId: open.id, userId: 'owner', rate: 5 });
    // The use cases over the same database, one statement at a time; the first statement is held until
    // every other call waits, so that those all go in the next statement together.
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const statements: number[] = [];
    const ledger = createScoreLedgerRepository();
    const gated: typeof ledger = {
      ...ledger,
      applyScores: async (db: Queryable, items, traceparent) => {
        statements.push(items.length);
        if (statements.length === 1) await held;
        return ledger.applyScores(db, items, traceparent);
      },
    };
    const scores = createScoreUseCases({
      db: h.db,
      ledger: gated,
      grouping: { maxInFlight: 1, maxBatch: 50 },
    });
    const item = (i: number, eventId = open.id) => ({
      scoreId: randomUUID(),
      version: 1,
      eventId,
      userId: `r${i}`,
      rate: 2,
    });
    const good = Array.from({ length: 20 }, (_, i) => item(i));
    // The taken score id, sent again for another user: INVALID_ARGUMENT, for this call only.
    const thief = { scoreId: taken, version: 2, eventId: open.id, userId: 'thief', rate: 1 };
    const calls = [
      item(-1),
      ...good.slice(0, 10),
      thief,
      ...good.slice(10),
      item(-2, closed.id),
      item(-3, 999_999),
    ];

    const settled = Promise.allSettled(calls.map((c) => scores.applyScore(c)));
    release();
    const answers = (await settled).map((a) => (a.status === 'fulfilled' ? a.value : a.reason));

    // Alone, then all the others in one statement, which was refused and tried again call by call.
    expect(statements).toEqual([1, calls.length - 1, ...Array<number>(calls.length - 1).fill(1)]);
    expect(answers[11]).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'score_id' });
    expect(answers.filter((a) => (a as { outcome?: string }).outcome === 'APPLIED')).toHaveLength(21);
    expect(answers.at(-2)).toMatchObject({ outcome: 'REJECTED', reason: 'EVENT_CLOSED' });
    expect(answers.at(-1)).toMatchObject({ outcome: 'REJECTED', reason: 'EVENT_NOT_FOUND' });
    expect(await aggregates(open.id)).toMatchObject({ count: 22, sum: 5 + 21 * 2 });
  });

  it("when a score's versions arrive together, then they are applied in the order they arrived", async () => {
    const event = await createEvent(h);
    // The use cases over the same database, with one statement at a time, so that all but the first
    // call wait together for the next statement.
    const statements: number[] = [];
    const ledger = createScoreLedgerRepository();
    const counted: typeof ledger = {
      ...ledger,
      applyScores: (db: Queryable, items, traceparent) => {
        statements.push(items.length);
        return ledger.applyScores(db, items, traceparent);
      },
    };
    const scores = createScoreUseCases({
      db: h.db,
      ledger: counted,
      grouping: { maxInFlight: 1, maxBatch: 50 },
    });
    const scoreId = randomUUID();
    const other = { scoreId: randomUUID(), version: 1, eventId: event.id, userId: 'other', rate: 1 };
    const version = (v: number, rate: number) => ({
      scoreId,
      version: v,
      eventId: event.id,
      userId: 'o',
      rate,
    });

    const answers = await Promise.all([
      scores.applyScore(other),
      scores.applyScore(version(2, 4)),
      scores.applyScore(version(1, 3)),
      scores.applyScore(version(3, 5)),
    ]);

    // version 2 came before version 1, so version 1 is older than what was seen by then.
    expect(answers.map((a) => a.outcome)).toEqual(['APPLIED', 'APPLIED', 'SUPERSEDED', 'APPLIED']);
    expect(answers[3]).toMatchObject({ appliedVersion: 3, appliedRate: 5 });
    // One per statement for the same score; the first call went alone, at once.
    expect(statements).toEqual([1, 1, 1, 1]);
    expect(await aggregates(event.id)).toMatchObject({ count: 2, sum: 1 + 5 });
  });
});
