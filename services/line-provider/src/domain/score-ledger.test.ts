import { describe, expect, it } from 'vitest';
import { aggregateDelta, deriveStatus } from './event.js';
import { decideApply, decideRevert, type LedgerState } from './score-ledger.js';

const ledger = (
  maxVersion: number,
  appliedVersion: number,
  appliedRate: 1 | 2 | 3 | 4 | 5 | null,
): LedgerState => ({
  maxVersion,
  appliedVersion,
  appliedRate,
});

describe('decideApply', () => {
  it('when a score is new and its event open, then it is applied from no previous rate', () => {
    expect(decideApply(1, null, null, 'open')).toEqual({ kind: 'apply', fromRate: null });
  });
  it('when a newer version arrives, then it is applied from the rate in effect', () => {
    expect(decideApply(2, ledger(1, 1, 4), null, 'open')).toEqual({ kind: 'apply', fromRate: 4 });
  });
  it('when the same version comes again, then the first answer is repeated', () => {
    const record = { applyOutcome: 'APPLIED' as const, rejectReason: null, revertOutcome: null };
    expect(decideApply(1, ledger(1, 1, 4), record, 'closed')).toEqual({
      kind: 'answer',
      outcome: 'APPLIED',
      reason: null,
    });
  });
  it('when an older version arrives after a newer one was seen, then it is superseded', () => {
    expect(decideApply(1, ledger(2, 2, 5), null, 'open')).toEqual({
      kind: 'answer',
      outcome: 'SUPERSEDED',
      reason: null,
    });
  });
  it('when a reverted version arrives late, then its tombstone refuses it', () => {
    const tombstone = { applyOutcome: null, rejectReason: null, revertOutcome: 'TOMBSTONED' as const };
    expect(decideApply(3, ledger(3, 0, null), tombstone, 'open')).toEqual({
      kind: 'answer',
      outcome: 'REJECTED',
      reason: 'REVERTED',
    });
  });
  it('when the event is closed or missing, then the version is rejected with that reason', () => {
    expect(decideApply(1, null, null, 'closed')).toEqual({ kind: 'reject', reason: 'EVENT_CLOSED' });
    expect(decideApply(1, null, null, 'missing')).toEqual({ kind: 'reject', reason: 'EVENT_NOT_FOUND' });
  });
});

describe('decideRevert', () => {
  it('when the version is in effect, then it is reverted', () => {
    expect(decideRevert(2, ledger(2, 2, 3), null)).toEqual({ kind: 'revert' });
  });
  it('when the version was never seen, then a tombstone is recorded', () => {
    expect(decideRevert(1, null, null)).toEqual({ kind: 'record', outcome: 'TOMBSTONED' });
  });
  it('when the version was applied and then replaced, then it is marked not current', () => {
    const record = { applyOutcome: 'APPLIED' as const, rejectReason: null, revertOutcome: null };
    expect(decideRevert(1, ledger(2, 2, 3), record)).toEqual({ kind: 'record', outcome: 'NOT_CURRENT' });
  });
  it('when the version is in effect again only because a later one was reverted, then nothing moves', () => {
    const record = { applyOutcome: 'APPLIED' as const, rejectReason: null, revertOutcome: null };
    expect(decideRevert(2, ledger(3, 2, 4), record)).toEqual({ kind: 'record', outcome: 'NOT_CURRENT' });
  });
  it('when it is repeated, then the first answer is repeated', () => {
    const record = {
      applyOutcome: 'APPLIED' as const,
      rejectReason: null,
      revertOutcome: 'REVERTED' as const,
    };
    expect(decideRevert(1, ledger(1, 0, null), record)).toEqual({ kind: 'answer', outcome: 'REVERTED' });
  });
});

describe('aggregates and status', () => {
  it('when a rate changes, then count stays and sum and histogram move by the difference', () => {
    expect(aggregateDelta(2, 5)).toEqual({ count: 0, sum: 3, histogram: [0, -1, 0, 0, 1] });
    expect(aggregateDelta(null, 4)).toEqual({ count: 1, sum: 4, histogram: [0, 0, 0, 1, 0] });
    expect(aggregateDelta(4, null)).toEqual({ count: -1, sum: -4, histogram: [0, 0, 0, -1, 0] });
  });
  it('when the average is 3 or more, then the status is HIGH_SCORE; below, LOW_SCORE; none, PROCESSING', () => {
    expect(deriveStatus({ count: 0, sum: 0 })).toBe('PROCESSING');
    expect(deriveStatus({ count: 2, sum: 6 })).toBe('HIGH_SCORE');
    expect(deriveStatus({ count: 3, sum: 8 })).toBe('LOW_SCORE');
  });
});
