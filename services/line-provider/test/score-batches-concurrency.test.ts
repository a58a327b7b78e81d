import { randomUUID } from 'node:crypto';
import { v1 } from '@scoreline/contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEvent, outboxKinds, startHarness, type Harness } from './helpers.js';

let h: Harness;
beforeAll(async () => {
  // More connections than concurrent calls, so the calls really run side by side in PostgreSQL.
  h = await startHarness({ LINE_PROVIDER_DATABASE_POOL_SIZE: '12' });
});
afterAll(async () => {
  await h.dispose();
});

const { APPLY_SCORE_OUTCOME_APPLIED: APPLIED, APPLY_SCORE_OUTCOME_SUPERSEDED: SUPERSEDED } =
  v1.ApplyScoreOutcome;

const applyScores = async (items: v1.ApplyScoreRequest[]) =>
  (await h.call<{ items: unknown[] }, v1.ApplyScoresResponse>('applyScores', { items }, 'internal')).results;
const revertScores = async (items: v1.RevertScoreRequest[]) =>
  (await h.call<{ items: unknown[] }, v1.RevertScoresResponse>('revertScores', { items }, 'internal'))
    .results;
const eventOf = async (eventId: number) =>
  (await h.call<{ eventId: number }, v1.GetEventResponse>('getEvent', { eventId })).event!;

/** A small deterministic generator, so a failure can be replayed. */
function random(seed: number) {
  let state = seed;
  return (n: number) => {
    state = (Math.imul(state, 1_103_515_245) + 12_345) >>> 0;
    return (state >>> 8) % n;
  };
}

function shuffle<T>(items: T[], next: (n: number) => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = next(i + 1);
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

/** The event's aggregates as the ledger says they should be: one count per score, at its applied rate. */
async function ledgerTotals(eventId: number) {
  const { rows } = await h.db.query<{ rate: number; n: number }>(
    `SELECT applied_rate AS rate, count(*)::int AS n FROM score_ledger
     WHERE event_id = $1 AND applied_version > 0 GROUP BY applied_rate`,
    [eventId],
  );
  const histogram = [1, 2, 3, 4, 5].map((rate) => rows.find((r) => r.rate === rate)?.n ?? 0);
  return {
    count: histogram.reduce((a, b) => a + b, 0),
    sum: histogram.reduce((a, n, i) => a + n * (i + 1), 0),
    histogram,
  };
}

describe('score batches at once', () => {
  it('when 8 batches of 200 items hit one event at once, overlapping in different orders, then no deadlock and exact aggregates', async () => {
    const event = await createEvent(h);
    const next = random(7);
    const shared = Array.from({ length: 300 }, () => randomUUID());
    // One rate per (score, version), so that any delivery of a version says the same thing.
    const rateOf = (k: number, version: number) => ((k * 7 + version * 3) % 5) + 1;
    const newest = new Map<number, number>(); // shared score index -> highest version sent
    const batches = Array.from({ length: 8 }, (_, b) => {
      const items: v1.ApplyScoreRequest[] = [];
      for (let n = 0; n < 150; n++) {
        const k = next(shared.length);
        const version = 1 + next(3);
        newest.set(k, Math.max(newest.get(k) ?? 0, version));
        items.push({
          scoreId: shared[k]!,
          version,
          eventId: event.id,
          userId: `s${k}`,
          rate: rateOf(k, version),
        });
      }
      // 50 scores of this batch alone, so that every batch certainly moves the event.
      for (let n = 0; n < 50; n++) {
        items.push({
          scoreId: randomUUID(),
          version: 1,
          eventId: event.id,
          userId: `b${b}-${n}`,
          rate: 1 + (n % 5),
        });
      }
      return shuffle(items, next);
    });

    const results = await Promise.all(batches.map(applyScores));

    for (const [b, batch] of batches.entries()) {
      expect(results[b]).toHaveLength(200);
      for (const [i, item] of batch.entries()) {
        const result = results[b]![i]!;
        expect([APPLIED, SUPERSEDED]).toContain(result.outcome);
        // The newest version of a score is in effect after any batch that carried it.
        if (result.outcome === APPLIED) expect(result.appliedVersion).toBeGreaterThanOrEqual(item.version);
      }
    }
    const inEffect = [...newest].map(([k, version]) => rateOf(k, version));
    for (const b of batches) inEffect.push(...b.filter((i) => i.userId.startsWith('b')).map((i) => i.rate));
    const histogram = [1, 2, 3, 4, 5].map((rate) => inEffect.filter((r) => r === rate).length);
    const after = await eventOf(event.id);
    expect(after.scores).toMatchObject({
      count: inEffect.length,
      sum: inEffect.reduce((a, b) => a + b, 0),
      histogram,
    });
    // One move, and one EventChanged, per batch.
    expect(after.version).toBe(1 + 8);
    expect(await outboxKinds(h.db, event.id)).toEqual(['CREATED', ...Array<string>(8).fill('SCORE_APPLIED')]);
    expect(await ledgerTotals(event.id)).toEqual({
      count: inEffect.length,
      sum: after.scores!.sum,
      histogram,
    });
  });

  it('when applies and reverts over five events race, then no deadlock and every event agrees with its ledger', async () => {
    const events = await Promise.all(Array.from({ length: 5 }, () => createEvent(h)));
    const next = random(11);
    const scores = Array.from({ length: 400 }, (_, k) => ({
      scoreId: randomUUID(),
      k,
      event: events[k % 5]!,
    }));
    const applies = Array.from({ length: 8 }, () =>
      Array.from({ length: 200 }, () => {
        const s = scores[next(scores.length)]!;
        const version = 1 + next(4);
        return { scoreId: s.scoreId, version, eventId: s.event.id, userId: `m${s.k}`, rate: 1 + next(5) };
      }),
    );
    const reverts = Array.from({ length: 4 }, () =>
      Array.from({ length: 100 }, () => ({
        scoreId: scores[next(scores.length)]!.scoreId,
        version: 1 + next(4),
      })),
    );

    const calls = [...applies.map(applyScores), ...reverts.map(revertScores)];
    const settled = await Promise.allSettled(calls);
    expect(settled.filter((s) => s.status === 'rejected')).toEqual([]);

    for (const event of events) {
      const after = await eventOf(event.id);
      const { count, sum, histogram } = await ledgerTotals(event.id);
      expect(after.scores).toMatchObject({ count, sum, histogram });
      // Every move of the event was announced once, and no call moved it more than once.
      const moves = (await outboxKinds(h.db, event.id)).filter((k) => k.startsWith('SCORE_'));
      expect(moves).toHaveLength(after.version - 1);
      expect(moves.length).toBeLessThanOrEqual(calls.length);
    }
  });
});
