import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { v1 } from '@scoreline/contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEvent, grpcError, startHarness, type Harness } from './helpers.js';

/** GetScoreLedger: one score's ledger and recorded versions, for looking a saga up (admin). */
let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.dispose();
});

const { APPLY_SCORE_OUTCOME_APPLIED: APPLIED, APPLY_SCORE_OUTCOME_REJECTED: REJECTED } = v1.ApplyScoreOutcome;
const {
  REVERT_SCORE_OUTCOME_REVERTED: REVERTED,
  REVERT_SCORE_OUTCOME_TOMBSTONED: TOMBSTONED,
  REVERT_SCORE_OUTCOME_NOT_CURRENT: NOT_CURRENT,
} = v1.RevertScoreOutcome;
const {
  SCORE_REJECT_REASON_EVENT_CLOSED: EVENT_CLOSED,
  SCORE_REJECT_REASON_EVENT_NOT_FOUND: EVENT_NOT_FOUND,
  SCORE_REJECT_REASON_REVERTED: REASON_REVERTED,
} = v1.ScoreRejectReason;

const apply = (req: Partial<v1.ApplyScoreRequest>) =>
  h.call<Partial<v1.ApplyScoreRequest>, v1.ApplyScoreResponse>('applyScore', req, 'internal');
const revert = (req: Partial<v1.RevertScoreRequest>) =>
  h.call<Partial<v1.RevertScoreRequest>, v1.RevertScoreResponse>('revertScore', req, 'internal');
const ledger = (scoreId: string, token = 'admin') =>
  h.call<Partial<v1.GetScoreLedgerRequest>, v1.GetScoreLedgerResponse>('getScoreLedger', { scoreId }, token);

describe('GetScoreLedger', () => {
  it('when asked without the admin token, then UNAUTHENTICATED; with the internal one, PERMISSION_DENIED', async () => {
    const event = await createEvent(h);
    const scoreId = randomUUID();
    await apply({ scoreId, version: 1, eventId: event.id, userId: 'alice', rate: 4 });
    await grpcError(ledger(scoreId, ''), grpc.status.UNAUTHENTICATED);
    await grpcError(ledger(scoreId, 'not-a-token'), grpc.status.UNAUTHENTICATED);
    const denied = await grpcError(ledger(scoreId, 'internal'), grpc.status.PERMISSION_DENIED);
    expect(denied.details).toContain('admin');
  });

  it('when the score id is not a UUID, then INVALID_ARGUMENT naming score_id', async () => {
    for (const scoreId of ['', 'not-a-uuid', `${randomUUID()}x`, "'; DROP TABLE score_ledger; --"]) {
      const error = await grpcError(ledger(scoreId), grpc.status.INVALID_ARGUMENT);
      expect(error.metadata.get('x-invalid-field')).toEqual(['score_id']);
    }
  });

  it('when line-provider has never seen the score, then NOT_FOUND', async () => {
    const error = await grpcError(ledger(randomUUID()), grpc.status.NOT_FOUND);
    expect(error.details).toMatch(/no record of score/);
  });

  it('when versions were applied and the later one reverted, then it shows the earlier in effect and each version with its outcome', async () => {
    const event = await createEvent(h);
    const scoreId = randomUUID();
    await apply({ scoreId, version: 1, eventId: event.id, userId: 'alice', rate: 4 });
    await apply({ scoreId, version: 2, eventId: event.id, userId: 'alice', rate: 2 });
    expect(await ledger(scoreId)).toMatchObject({ maxVersion: 2, appliedVersion: 2, appliedRate: 2 });
    expect((await revert({ scoreId, version: 2 })).outcome).toBe(REVERTED);

    const found = await ledger(scoreId.toUpperCase());
    expect(found).toMatchObject({
      scoreId,
      eventId: event.id,
      userId: 'alice',
      maxVersion: 2,
      appliedVersion: 1,
      appliedRate: 4,
    });
    expect(found.updatedAt).toBeInstanceOf(Date);
    expect(found.versions.map(({ recordedAt: _, ...v }) => v)).toEqual([
      { version: 1, rate: 4, applyOutcome: APPLIED, rejectReason: 0, revertOutcome: 0 },
      { version: 2, rate: 2, applyOutcome: APPLIED, rejectReason: 0, revertOutcome: REVERTED },
    ]);
    for (const v of found.versions) {
      expect(Math.abs(v.recordedAt!.getTime() - Date.now())).toBeLessThan(60_000);
    }
  });

  it('when a version was rejected, then its outcome and reason are shown and nothing is in effect', async () => {
    const event = await createEvent(h);
    await h.call('closeEvent', { eventId: event.id }, 'admin');
    const closedScore = randomUUID();
    await apply({ scoreId: closedScore, version: 1, eventId: event.id, userId: 'bob', rate: 5 });
    expect(await ledger(closedScore)).toMatchObject({
      eventId: event.id,
      maxVersion: 1,
      appliedVersion: 0,
      appliedRate: 0,
      versions: [
        { version: 1, rate: 5, applyOutcome: REJECTED, rejectReason: EVENT_CLOSED, revertOutcome: 0 },
      ],
    });

    const missingEvent = randomUUID();
    await apply({ scoreId: missingEvent, version: 1, eventId: 999_999, userId: 'bob', rate: 3 });
    expect((await ledger(missingEvent)).versions).toMatchObject([
      { applyOutcome: REJECTED, rejectReason: EVENT_NOT_FOUND },
    ]);
  });

  it('when a revert came before its apply, then the tombstone shows, and the late apply is recorded as refused', async () => {
    const scoreId = randomUUID();
    expect((await revert({ scoreId, version: 1 })).outcome).toBe(TOMBSTONED);
    // All that was seen is a RevertScore: no event or user yet.
    expect(await ledger(scoreId)).toMatchObject({
      eventId: 0,
      userId: '',
      maxVersion: 1,
      appliedVersion: 0,
      versions: [{ version: 1, rate: 0, applyOutcome: 0, revertOutcome: TOMBSTONED }],
    });

    const event = await createEvent(h);
    const late = await apply({ scoreId, version: 1, eventId: event.id, userId: 'carol', rate: 3 });
    expect(late).toMatchObject({ outcome: REJECTED, reason: REASON_REVERTED });
    expect((await ledger(scoreId)).appliedVersion).toBe(0);
  });

  it('when an earlier version is reverted after a later one was seen, then it records NOT_CURRENT and the later stays', async () => {
    const event = await createEvent(h);
    const scoreId = randomUUID();
    await apply({ scoreId, version: 1, eventId: event.id, userId: 'dave', rate: 1 });
    await apply({ scoreId, version: 2, eventId: event.id, userId: 'dave', rate: 5 });
    expect((await revert({ scoreId, version: 1 })).outcome).toBe(NOT_CURRENT);
    const found = await ledger(scoreId);
    expect(found).toMatchObject({ appliedVersion: 2, appliedRate: 5 });
    expect(found.versions.map((v) => [v.version, v.applyOutcome, v.revertOutcome])).toEqual([
      [1, APPLIED, NOT_CURRENT],
      [2, APPLIED, 0],
    ]);
  });
});
