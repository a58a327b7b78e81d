import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { v1 } from '@scoreline/contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEvent, grpcError, outboxKinds, startHarness, type Harness } from './helpers.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.dispose();
});

const { APPLY_SCORE_OUTCOME_APPLIED: APPLIED, APPLY_SCORE_OUTCOME_REJECTED: REJECTED } = v1.ApplyScoreOutcome;
const { APPLY_SCORE_OUTCOME_SUPERSEDED: SUPERSEDED } = v1.ApplyScoreOutcome;
const {
  REVERT_SCORE_OUTCOME_REVERTED: REVERTED,
  REVERT_SCORE_OUTCOME_TOMBSTONED: TOMBSTONED,
  REVERT_SCORE_OUTCOME_NOT_CURRENT: NOT_CURRENT,
} = v1.RevertScoreOutcome;
const {
  SCORE_REJECT_REASON_EVENT_NOT_FOUND,
  SCORE_REJECT_REASON_EVENT_CLOSED,
  SCORE_REJECT_REASON_REVERTED,
} = v1.ScoreRejectReason;

type ApplyItem = Partial<v1.ApplyScoreRequest>;
const applyScores = async (items: ApplyItem[], token = 'internal') =>
  (await h.call<{ items: ApplyItem[] }, v1.ApplyScoresResponse>('applyScores', { items }, token)).results;
const revertScores = async (items: Partial<v1.RevertScoreRequest>[]) =>
  (await h.call<{ items: unknown[] }, v1.RevertScoresResponse>('revertScores', { items }, 'internal'))
    .results;
const eventOf = async (eventId: number) =>
  (await h.call<{ eventId: number }, v1.GetEventResponse>('getEvent', { eventId })).event!;

describe('ApplyScores', () => {
  it('when one batch mixes every case, then each item gets its own answer and the aggregates move exactly', async () => {
    const open = await createEvent(h);
    const closed = await createEvent(h);
    await h.call('closeEvent', { eventId: closed.id }, 'admin');
    const [fresh, newer, twice, late, tombstoned] = Array.from({ length: 5 }, () => randomUUID());
    // Before the batch: `newer` has version 2 in effect, `tombstoned` version 1 reverted unseen.
    await applyScores([{ scoreId: newer, version: 2, eventId: open.id, userId: 'b', rate: 5 }]);
    expect((await revertScores([{ scoreId: tombstoned, version: 1 }]))[0]!.outcome).toBe(TOMBSTONED);

    const results = await applyScores([
      { scoreId: fresh, version: 1, eventId: open.id, userId: 'a', rate: 4 },
      { scoreId: late, version: 1, eventId: closed.id, userId: 'c', rate: 3 },
      { scoreId: randomUUID(), version: 1, eventId: 987_654, userId: 'd', rate: 2 },
      { scoreId: newer, version: 1, eventId: open.id, userId: 'b', rate: 1 },
      { scoreId: twice, version: 1, eventId: open.id, userId: 'e', rate: 2 },
      { scoreId: twice, version: 1, eventId: open.id, userId: 'e', rate: 2 },
      { scoreId: tombstoned, version: 1, eventId: open.id, userId: 'f', rate: 5 },
    ]);

    const version = 3; // created, one earlier apply, this batch: one move however many items
    expect(results).toEqual([
      { outcome: APPLIED, reason: 0, appliedVersion: 1, appliedRate: 4, eventVersion: version },
      {
        outcome: REJECTED,
        reason: SCORE_REJECT_REASON_EVENT_CLOSED,
        appliedVersion: 0,
        appliedRate: 0,
        eventVersion: 2,
      },
      {
        outcome: REJECTED,
        reason: SCORE_REJECT_REASON_EVENT_NOT_FOUND,
        appliedVersion: 0,
        appliedRate: 0,
        eventVersion: 0,
      },
      { outcome: SUPERSEDED, reason: 0, appliedVersion: 2, appliedRate: 5, eventVersion: version },
      { outcome: APPLIED, reason: 0, appliedVersion: 1, appliedRate: 2, eventVersion: version },
      { outcome: APPLIED, reason: 0, appliedVersion: 1, appliedRate: 2, eventVersion: version },
      {
        outcome: REJECTED,
        reason: SCORE_REJECT_REASON_REVERTED,
        appliedVersion: 0,
        appliedRate: 0,
        eventVersion: version,
      },
    ]);
    const after = await eventOf(open.id);
    expect(after.scores).toEqual({ count: 3, sum: 11, average: 11 / 3, histogram: [0, 1, 0, 1, 1] });
    expect(after.version).toBe(version);
    expect(await outboxKinds(h.db, open.id)).toEqual(['CREATED', 'SCORE_APPLIED', 'SCORE_APPLIED']);
    expect((await eventOf(closed.id)).scores).toMatchObject({ count: 0, sum: 0 });

    // Delivered again: the same answers, nothing moves.
    expect(
      await applyScores([
        { scoreId: fresh, version: 1, eventId: open.id, userId: 'a', rate: 4 },
        { scoreId: late, version: 1, eventId: closed.id, userId: 'c', rate: 3 },
        { scoreId: twice, version: 1, eventId: open.id, userId: 'e', rate: 2 },
      ]),
    ).toEqual([results[0], results[1], results[4]]);
    expect((await eventOf(open.id)).scores).toEqual(after.scores);
    expect(await outboxKinds(h.db, open.id)).toHaveLength(3);
  });

  it('when a batch is delivered twice, then the aggregates move once and the answers repeat', async () => {
    const events = [await createEvent(h), await createEvent(h)];
    const items = Array.from({ length: 50 }, (_, i) => ({
      scoreId: randomUUID(),
      version: 1,
      eventId: events[i % 2]!.id,
      userId: `u${i}`,
      rate: (i % 5) + 1,
    }));
    const first = await applyScores(items);
    expect(first.every((r) => r.outcome === APPLIED)).toBe(true);
    expect(await applyScores(items)).toEqual(first);
    for (const event of events) {
      const mine = items.filter((i) => i.eventId === event.id);
      const histogram = [1, 2, 3, 4, 5].map((rate) => mine.filter((i) => i.rate === rate).length);
      const sum = mine.reduce((a, i) => a + i.rate, 0);
      expect((await eventOf(event.id)).scores).toMatchObject({ count: 25, sum, histogram });
      expect(await outboxKinds(h.db, event.id)).toEqual(['CREATED', 'SCORE_APPLIED']);
    }
  });

  it('when one batch holds several versions of a score out of order, then they are taken in version order', async () => {
    const event = await createEvent(h);
    const scoreId = randomUUID();
    const item = (version: number, rate: number) => ({
      scoreId,
      version,
      eventId: event.id,
      userId: 'v',
      rate,
    });
    const results = await applyScores([item(3, 5), item(1, 1), item(2, 2), item(1, 4)]);
    const after = (await eventOf(event.id)).version;
    expect(results.map((r) => [r.outcome, r.appliedVersion, r.appliedRate, r.eventVersion])).toEqual([
      [APPLIED, 3, 5, after],
      [APPLIED, 1, 1, after],
      [APPLIED, 2, 2, after],
      [APPLIED, 1, 1, after], // a repeat of version 1: the first answer, whatever its rate says
    ]);
    expect((await eventOf(event.id)).scores).toMatchObject({ count: 1, sum: 5, histogram: [0, 0, 0, 0, 1] });
    // Version 2 was applied, then replaced: reverting it moves nothing; reverting 3 brings back 2.
    expect(
      await revertScores([
        { scoreId, version: 3 },
        { scoreId, version: 2 },
      ]),
    ).toMatchObject([
      { outcome: REVERTED, appliedVersion: 1, appliedRate: 1 },
      { outcome: NOT_CURRENT, appliedVersion: 3, appliedRate: 5 },
    ]);
    expect((await eventOf(event.id)).scores).toMatchObject({ count: 1, sum: 1, histogram: [1, 0, 0, 0, 0] });
  });

  it('when an item is malformed or the batch too big, then INVALID_ARGUMENT names it and nothing is applied', async () => {
    const event = await createEvent(h);
    const good = () => ({ scoreId: randomUUID(), version: 1, eventId: event.id, userId: 'g', rate: 3 });
    const cases: [ApplyItem[], string][] = [
      [[good(), { ...good(), rate: 6 }], 'items[1].rate'],
      [[{ ...good(), scoreId: 'nope' }], 'items[0].score_id'],
      [[good(), good(), { ...good(), userId: '' }], 'items[2].user_id'],
      [Array.from({ length: 1001 }, good), 'items'],
    ];
    for (const [items, field] of cases) {
      const error = await grpcError(applyScores(items), grpc.status.INVALID_ARGUMENT);
      expect(error.metadata.get('x-invalid-field')).toEqual([field]);
    }
    expect((await eventOf(event.id)).version).toBe(1);
    expect(await applyScores([])).toEqual([]);
  });

  it('when an item reuses a score id of another user, then the whole batch is refused naming it', async () => {
    const event = await createEvent(h);
    const scoreId = randomUUID();
    await applyScores([{ scoreId, version: 1, eventId: event.id, userId: 'owner', rate: 3 }]);
    const error = await grpcError(
      applyScores([
        { scoreId: randomUUID(), version: 1, eventId: event.id, userId: 'x', rate: 5 },
        { scoreId, version: 2, eventId: event.id, userId: 'thief', rate: 1 },
      ]),
      grpc.status.INVALID_ARGUMENT,
    );
    expect(error.metadata.get('x-invalid-field')).toEqual(['items[1].score_id']);
    expect((await eventOf(event.id)).scores).toMatchObject({ count: 1, sum: 3 });
    // Two items of one new score disagreeing on the user: refused too.
    const fresh = randomUUID();
    const clash = await grpcError(
      applyScores([
        { scoreId: fresh, version: 1, eventId: event.id, userId: 'a', rate: 5 },
        { scoreId: fresh, version: 2, eventId: event.id, userId: 'b', rate: 5 },
      ]),
      grpc.status.INVALID_ARGUMENT,
    );
    expect(clash.metadata.get('x-invalid-field')).toEqual(['items[1].score_id']);
    expect((await eventOf(event.id)).version).toBe(2);
  });

  it('when ApplyScores or RevertScores comes without the internal token, then it is refused', async () => {
    const event = await createEvent(h);
    const items = [{ scoreId: randomUUID(), version: 1, eventId: event.id, userId: 'x', rate: 3 }];
    await grpcError(applyScores(items, ''), grpc.status.UNAUTHENTICATED);
    await grpcError(applyScores(items, 'admin'), grpc.status.PERMISSION_DENIED);
    await grpcError(
      h.call('revertScores', { items: [{ scoreId: randomUUID(), version: 1 }] }),
      grpc.status.UNAUTHENTICATED,
    );
    expect((await eventOf(event.id)).version).toBe(1);
  });
});

describe('RevertScores', () => {
  it('when a batch reverts what is in effect, what was replaced and what never came, then each gets its answer', async () => {
    const [a, b] = [await createEvent(h), await createEvent(h)];
    const [s1, s2, s3, s4] = Array.from({ length: 4 }, () => randomUUID());
    await applyScores([
      { scoreId: s1, version: 1, eventId: a.id, userId: 'p', rate: 2 },
      { scoreId: s2, version: 1, eventId: a.id, userId: 'q', rate: 4 },
      { scoreId: s2, version: 2, eventId: a.id, userId: 'q', rate: 5 },
      { scoreId: s3, version: 1, eventId: b.id, userId: 'r', rate: 1 },
    ]);
    await h.call('closeEvent', { eventId: b.id }, 'admin');
    const items = [
      { scoreId: s1, version: 1 },
      { scoreId: s2, version: 1 },
      { scoreId: s3, version: 1 },
      { scoreId: s4, version: 1 },
      { scoreId: s1, version: 1 },
    ];
    const results = await revertScores(items);
    const [va, vb] = [(await eventOf(a.id)).version, (await eventOf(b.id)).version];
    expect(results).toEqual([
      { outcome: REVERTED, appliedVersion: 0, appliedRate: 0, eventVersion: va },
      { outcome: NOT_CURRENT, appliedVersion: 2, appliedRate: 5, eventVersion: va },
      { outcome: REVERTED, appliedVersion: 0, appliedRate: 0, eventVersion: vb },
      { outcome: TOMBSTONED, appliedVersion: 0, appliedRate: 0, eventVersion: 0 },
      { outcome: REVERTED, appliedVersion: 0, appliedRate: 0, eventVersion: va },
    ]);
    expect((await eventOf(a.id)).scores).toMatchObject({ count: 1, sum: 5, histogram: [0, 0, 0, 0, 1] });
    expect((await eventOf(b.id)).scores).toMatchObject({ count: 0, sum: 0 });
    expect(await outboxKinds(h.db, a.id)).toEqual(['CREATED', 'SCORE_APPLIED', 'SCORE_REVERTED']);
    expect(await outboxKinds(h.db, b.id)).toEqual(['CREATED', 'SCORE_APPLIED', 'CLOSED', 'SCORE_REVERTED']);
    // Delivered again: the same answers, nothing moves; the tombstone refuses a late apply.
    expect(await revertScores(items)).toEqual(results);
    expect((await eventOf(a.id)).version).toBe(va);
    const [lateApply] = await applyScores([{ scoreId: s4, version: 1, eventId: a.id, userId: 's', rate: 3 }]);
    expect(lateApply).toMatchObject({ outcome: REJECTED, reason: SCORE_REJECT_REASON_REVERTED });
  });

  it('when an item is malformed, then INVALID_ARGUMENT names it', async () => {
    const error = await grpcError(
      revertScores([
        { scoreId: randomUUID(), version: 1 },
        { scoreId: randomUUID(), version: 0 },
      ]),
      grpc.status.INVALID_ARGUMENT,
    );
    expect(error.metadata.get('x-invalid-field')).toEqual(['items[1].version']);
  });
});
