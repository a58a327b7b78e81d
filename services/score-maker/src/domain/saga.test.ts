import { describe, expect, it } from 'vitest';
import { settleApply, settleRevert, timedOut } from './saga.js';

describe('saga decisions', () => {
  it('when line-provider applied the version, then the score is CONFIRMED at that value', () => {
    expect(settleApply('APPLIED', null, { appliedVersion: 3, appliedRate: 4 })).toEqual({
      status: 'CONFIRMED',
      rate: 4,
      confirmedRate: 4,
      confirmedVersion: 3,
      reason: null,
    });
  });

  it('when a change is rejected but an earlier value is in effect, then the score goes back to it, CONFIRMED', () => {
    expect(settleApply('REJECTED', 'EVENT_CLOSED', { appliedVersion: 1, appliedRate: 2 })).toEqual({
      status: 'CONFIRMED',
      rate: 2,
      confirmedRate: 2,
      confirmedVersion: 1,
      reason: 'EVENT_CLOSED',
    });
  });

  it('when a first score is rejected, then it is REJECTED with the reason', () => {
    expect(
      settleApply('REJECTED', 'EVENT_NOT_FOUND', { appliedVersion: 0, appliedRate: null }),
    ).toMatchObject({
      status: 'REJECTED',
      confirmedRate: null,
      reason: 'EVENT_NOT_FOUND',
    });
  });

  it('when a timed-out saga was reverted, then line-provider state is mirrored with reason UNAVAILABLE', () => {
    expect(settleRevert({ appliedVersion: 0, appliedRate: null })).toMatchObject({
      status: 'REJECTED',
      reason: 'UNAVAILABLE',
    });
    expect(settleRevert({ appliedVersion: 2, appliedRate: 5 })).toMatchObject({
      status: 'CONFIRMED',
      rate: 5,
      reason: 'UNAVAILABLE',
    });
  });

  it('when attempts or age run out, then the saga times out', () => {
    const now = new Date('2026-01-01T00:01:00Z');
    const base = { maxAttempts: 5, now, timeoutMs: 30_000 };
    expect(timedOut({ ...base, attempt: 5, pendingSince: now })).toBe(true);
    expect(timedOut({ ...base, attempt: 2, pendingSince: new Date('2026-01-01T00:00:00Z') })).toBe(true);
    expect(timedOut({ ...base, attempt: 2, pendingSince: new Date('2026-01-01T00:00:50Z') })).toBe(false);
  });

  it('when a saga waited past the timeout in a backlog, then its first failure is retried once, not compensated', () => {
    const now = new Date('2026-01-01T00:01:00Z');
    const base = { maxAttempts: 5, now, timeoutMs: 30_000, pendingSince: new Date('2026-01-01T00:00:00Z') };
    expect(timedOut({ ...base, attempt: 1 })).toBe(false);
    expect(timedOut({ ...base, attempt: 2 })).toBe(true);
  });
});
