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

const {
  APPLY_SCORE_OUTCOME_APPLIED: APPLIED,
  APPLY_SCORE_OUTCOME_REJECTED: REJECTED,
  APPLY_SCORE_OUTCOME_SUPERSEDED: SUPERSEDED,
} = v1.ApplyScoreOutcome;
const {
  REVERT_SCORE_OUTCOME_REVERTED: REVERTED,
  REVERT_SCORE_OUTCOME_TOMBSTONED: TOMBSTONED,
  REVERT_SCORE_OUTCOME_NOT_CURRENT: NOT_CURRENT,
} = v1.RevertScoreOutcome;

const apply = (req: Partial<v1.ApplyScoreRequest>) =>
  h.call<Partial<v1.ApplyScoreRequest>, v1.ApplyScoreResponse>('applyScore', req, 'internal');
const revert = (req: Partial<v1.RevertScoreRequest>) =>
  h.call<Partial<v1.RevertScoreRequest>, v1.RevertScoreResponse>('revertScore', req, 'internal');
const scoresOf = async (eventId: number) =>
  (await h.call<{ eventId: number }, v1.GetEventResponse>('getEvent', { eventId })).event!;

describe('ApplyScore', () => {
  it('when a score is applied, then count, sum, histogram, average, status and version move', async () => {
    const event = await createEvent(h);
    const scoreId = randomUUID();
    const res = await apply({ scoreId, version: 1, eventId: event.id, userId: 'alice', rate: 4 });
    expect(res).toEqual({ outcome: APPLIED, reason: 0, appliedVersion: 1, appliedRate: 4, eventVersion: 2 });
    const after = await scoresOf(event.id);
    expect(after.scores).toEqual({ count: 1, sum: 4, average: 4, histogram: [0, 0, 0, 1, 0] });
    expect(after.status).toBe(v1.EventStatus.EVENT_STATUS_HIGH_SCORE);
    expect(after.version).toBe(2);
    expect(await outboxKinds(h.db, event.id)).toEqual(['CREATED', 'SCORE_APPLIED']);
  });

  it('when the same ApplyScore is repeated, then it returns the first answer and the aggregates move once', async () => {
    const event = await createEvent(h);
    const req = { scoreId: randomUUID(), version: 1, eventId: event.id, userId: 'bob', rate: 2 };
    const first = await apply(req);
    const second = await apply(req);
    const third = await apply(req);
    expect(second).toEqual(first);
    expect(third).toEqual(first);
    expect((await scoresOf(event.id)).scores).toMatchObject({ count: 1, sum: 2, histogram: [0, 1, 0, 0, 0] });
    expect(await outboxKinds(h.db, event.id)).toEqual(['CREATED', 'SCORE_APPLIED']);
  });

  it('when a user changes a score, then the aggregates move by the difference and the status follows the average', async () => {
    const event = await createEvent(h);
    const scoreId = randomUUID();
    await apply({ scoreId, version: 1, eventId: event.id, userId: 'carol', rate: 5 });
    await apply({ scoreId: randomUUID(), version: 1, eventId: event.id, userId: 'dave', rate: 2 });
    expect((await scoresOf(event.id)).status).toBe(v1.EventStatus.EVENT_STATUS_HIGH_SCORE);
    const res = await apply({ scoreId, version: 2, eventId: event.id, userId: 'carol', rate: 1 });
    expect(res).toMatchObject({ outcome: APPLIED, appliedVersion: 2, appliedRate: 1 });
    const after = await scoresOf(event.id);
    expect(after.scores).toEqual({ count: 2, sum: 3, average: 1.5, histogram: [1, 1, 0, 0, 0] });
    expect(after.status).toBe(v1.EventStatus.EVENT_STATUS_LOW_SCORE);
  });

  it('when version 2 arrives before version 1, then version 2 stays in effect and version 1 is superseded', async () => {
    const event = await createEvent(h);
    const scoreId = randomUUID();
    await apply({ scoreId, version: 2, eventId: event.id, userId: 'erin', rate: 5 });
    const late = await apply({ scoreId, version: 1, eventId: event.id, userId: 'erin', rate: 1 });
    expect(late).toMatchObject({ outcome: SUPERSEDED, appliedVersion: 2, appliedRate: 5 });
    expect((await scoresOf(event.id)).scores).toMatchObject({ count: 1, sum: 5, histogram: [0, 0, 0, 0, 1] });
  });

  it('when the event is unknown, closed or past its deadline, then REJECTED with the reason and nothing moves', async () => {
    const unknown = await apply({
      scoreId: randomUUID(),
      version: 1,
      eventId: 987_654,
      userId: 'x',
      rate: 3,
    });
    expect(unknown).toMatchObject({
      outcome: REJECTED,
      reason: v1.ScoreRejectReason.SCORE_REJECT_REASON_EVENT_NOT_FOUND,
    });

    const closed = await createEvent(h);
    await h.call('closeEvent', { eventId: closed.id }, 'admin');
    const req = { scoreId: randomUUID(), version: 1, eventId: closed.id, userId: 'x', rate: 3 };
    const res = await apply(req);
    expect(res).toMatchObject({
      outcome: REJECTED,
      reason: v1.ScoreRejectReason.SCORE_REJECT_REASON_EVENT_CLOSED,
      appliedVersion: 0,
    });
    expect(await apply(req)).toEqual(res);
    expect((await scoresOf(closed.id)).scores).toMatchObject({ count: 0, sum: 0 });

    const past = await createEvent(h);
    await h.db.query(`UPDATE events SET deadline = now() - interval '1 second' WHERE id = $1`, [past.id]);
    const late = await apply({ scoreId: randomUUID(), version: 1, eventId: past.id, userId: 'x', rate: 3 });
    expect(late).toMatchObject({
      outcome: REJECTED,
      reason: v1.ScoreRejectReason.SCORE_REJECT_REASON_EVENT_CLOSED,
    });
    expect(await outboxKinds(h.db, closed.id)).toEqual(['CREATED', 'CLOSED']);
  });

  it('when a user changes a score after the event closed, then the change is rejected and the earlier rate stays', async () => {
    const event = await createEvent(h);
    const scoreId = randomUUID();
    await apply({ scoreId, version: 1, eventId: event.id, userId: 'fay', rate: 4 });
    await h.call('closeEvent', { eventId: event.id }, 'admin');
    const res = await apply({ scoreId, version: 2, eventId: event.id, userId: 'fay', rate: 1 });
    expect(res).toMatchObject({ outcome: REJECTED, appliedVersion: 1, appliedRate: 4 });
    expect((await scoresOf(event.id)).scores).toMatchObject({ count: 1, sum: 4 });
  });

  it.each([
    ['score_id', { scoreId: 'not-a-uuid' }],
    ['version', { version: 0 }],
    ['event_id', { eventId: 0 }],
    ['user_id', { userId: '' }],
    ['user_id', { userId: 'u'.repeat(201) }],
    ['rate', { rate: 0 }],
    ['rate', { rate: 6 }],
    ['rate', { rate: -3 }],
  ])('when %s is invalid, then INVALID_ARGUMENT names it and nothing is written', async (field, bad) => {
    const event = await createEvent(h);
    const error = await grpcError(
      apply({ scoreId: randomUUID(), version: 1, eventId: event.id, userId: 'gus', rate: 3, ...bad }),
      grpc.status.INVALID_ARGUMENT,
    );
    expect(error.details).toContain(field);
    expect((await scoresOf(event.id)).version).toBe(1);
  });

  it('when a score id is reused for another user or event, then INVALID_ARGUMENT', async () => {
    const event = await createEvent(h);
    const scoreId = randomUUID();
    await apply({ scoreId, version: 1, eventId: event.id, userId: 'hal', rate: 3 });
    await grpcError(
      apply({ scoreId, version: 2, eventId: event.id, userId: 'ivy', rate: 3 }),
      grpc.status.INVALID_ARGUMENT,
    );
    expect((await scoresOf(event.id)).scores).toMatchObject({ count: 1, sum: 3 });
  });

  it('when ApplyScore or RevertScore comes without the internal token, then it is refused', async () => {
    const event = await createEvent(h);
    const req = { scoreId: randomUUID(), version: 1, eventId: event.id, userId: 'x', rate: 3 };
    await grpcError(h.call('applyScore', req), grpc.status.UNAUTHENTICATED);
    await grpcError(h.call('applyScore', req, 'not-the-token-at-all'), grpc.status.UNAUTHENTICATED);
    await grpcError(h.call('applyScore', req, 'admin'), grpc.status.PERMISSION_DENIED);
    await grpcError(h.call('revertScore', { scoreId: req.scoreId, version: 1 }), grpc.status.UNAUTHENTICATED);
    expect((await scoresOf(event.id)).scores).toMatchObject({ count: 0 });
  });

  it('when 200 ApplyScore calls hit one event at once, then count, sum and histogram are exact', async () => {
    const event = await createEvent(h);
    const rates = Array.from({ length: 200 }, (_, i) => ((i * 7) % 5) + 1);
    // Half of them are a second version of an earlier score, so changes race with first applies.
    const ids = Array.from({ length: 150 }, () => randomUUID());
    const calls = rates.map((rate, i) =>
      i < 150
        ? apply({ scoreId: ids[i]!, version: 1, eventId: event.id, userId: `u${i}`, rate })
        : apply({ scoreId: ids[i - 150]!, version: 2, eventId: event.id, userId: `u${i - 150}`, rate }),
    );
    const results = await Promise.all(calls);
    // Version 2 is the newest of its score, so it always applies; version 1 applies or is superseded.
    expect(results.slice(150).every((r) => r.outcome === APPLIED)).toBe(true);
    expect(results.slice(0, 150).every((r) => r.outcome === APPLIED || r.outcome === SUPERSEDED)).toBe(true);
    const inEffect = ids.map((_, i) => (i < 50 ? rates[150 + i]! : rates[i]!));
    const histogram = [0, 0, 0, 0, 0];
    for (const rate of inEffect) histogram[rate - 1]!++;
    const sum = inEffect.reduce((a, b) => a + b, 0);
    const after = await scoresOf(event.id);
    expect(after.scores).toMatchObject({ count: 150, sum, histogram });
    // Calls that arrive together are applied in one statement, which moves the event once: its version
    // grew by at least one and at most one per applied call, and no answer names a later one.
    const applied = 200 - results.filter((r) => r.outcome === SUPERSEDED).length;
    expect(after.version).toBeGreaterThan(1);
    expect(after.version).toBeLessThanOrEqual(1 + applied);
    expect(Math.max(...results.map((r) => Number(r.eventVersion)))).toBe(after.version);
  });
});

describe('RevertScore', () => {
  it('when the version in effect is reverted, then the previous applied rate comes back, and a repeat changes nothing', async () => {
    const event = await createEvent(h);
    const scoreId = randomUUID();
    await apply({ scoreId, version: 1, eventId: event.id, userId: 'jo', rate: 2 });
    await apply({ scoreId, version: 2, eventId: event.id, userId: 'jo', rate: 5 });
    const res = await revert({ scoreId, version: 2 });
    expect(res).toMatchObject({ outcome: REVERTED, appliedVersion: 1, appliedRate: 2 });
    expect(await revert({ scoreId, version: 2 })).toEqual(res);
    expect((await scoresOf(event.id)).scores).toMatchObject({ count: 1, sum: 2, histogram: [0, 1, 0, 0, 0] });
    expect(await outboxKinds(h.db, event.id)).toEqual([
      'CREATED',
      'SCORE_APPLIED',
      'SCORE_APPLIED',
      'SCORE_REVERTED',
    ]);
  });

  it('when the only version is reverted, then the score leaves the aggregates', async () => {
    const event = await createEvent(h);
    const scoreId = randomUUID();
    await apply({ scoreId, version: 1, eventId: event.id, userId: 'kim', rate: 4 });
    expect(await revert({ scoreId, version: 1 })).toMatchObject({
      outcome: REVERTED,
      appliedVersion: 0,
      appliedRate: 0,
    });
    expect((await scoresOf(event.id)).scores).toEqual({
      count: 0,
      sum: 0,
      average: 0,
      histogram: [0, 0, 0, 0, 0],
    });
  });

  it('when a version is reverted before it is applied, then a tombstone refuses the late apply', async () => {
    const event = await createEvent(h);
    const scoreId = randomUUID();
    expect(await revert({ scoreId, version: 1 })).toMatchObject({ outcome: TOMBSTONED, appliedVersion: 0 });
    const late = await apply({ scoreId, version: 1, eventId: event.id, userId: 'lee', rate: 5 });
    expect(late).toMatchObject({
      outcome: REJECTED,
      reason: v1.ScoreRejectReason.SCORE_REJECT_REASON_REVERTED,
    });
    expect((await scoresOf(event.id)).scores).toMatchObject({ count: 0, sum: 0 });
    // The user's next change is a newer version and goes through.
    expect(await apply({ scoreId, version: 2, eventId: event.id, userId: 'lee', rate: 3 })).toMatchObject({
      outcome: APPLIED,
    });
  });

  it('when a replaced version is reverted, then nothing moves and reverting the newer one does not bring it back', async () => {
    const event = await createEvent(h);
    const scoreId = randomUUID();
    await apply({ scoreId, version: 1, eventId: event.id, userId: 'max', rate: 1 });
    await apply({ scoreId, version: 2, eventId: event.id, userId: 'max', rate: 4 });
    expect(await revert({ scoreId, version: 1 })).toMatchObject({
      outcome: NOT_CURRENT,
      appliedVersion: 2,
      appliedRate: 4,
    });
    expect((await scoresOf(event.id)).scores).toMatchObject({ count: 1, sum: 4 });
    expect(await revert({ scoreId, version: 2 })).toMatchObject({ outcome: REVERTED, appliedVersion: 0 });
    expect((await scoresOf(event.id)).scores).toMatchObject({ count: 0, sum: 0 });
  });

  it('when the event closed after the score was applied, then a revert still takes it back', async () => {
    const event = await createEvent(h);
    const scoreId = randomUUID();
    await apply({ scoreId, version: 1, eventId: event.id, userId: 'ned', rate: 5 });
    await h.call('closeEvent', { eventId: event.id }, 'admin');
    expect(await revert({ scoreId, version: 1 })).toMatchObject({ outcome: REVERTED });
    expect((await scoresOf(event.id)).scores).toMatchObject({ count: 0, sum: 0 });
  });

  it('when RevertScore has a bad argument, then INVALID_ARGUMENT', async () => {
    await grpcError(revert({ scoreId: 'nope', version: 1 }), grpc.status.INVALID_ARGUMENT);
    await grpcError(revert({ scoreId: randomUUID(), version: 0 }), grpc.status.INVALID_ARGUMENT);
  });
});
