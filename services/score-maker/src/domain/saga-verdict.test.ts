import { describe, expect, it } from 'vitest';
import { compareWithLedger } from './saga-verdict.js';

const settled = { version: 2, confirmedVersion: 2, confirmedRate: 4, sagaState: null } as const;

describe('compareWithLedger', () => {
  it('when line-provider has in effect the version and rate score-maker confirmed, then they agree', () => {
    expect(compareWithLedger(settled, { appliedVersion: 2, appliedRate: 4 })).toEqual({
      kind: 'agree',
      text: 'agree: line-provider has version 2 (rate 4) in effect, the one score-maker confirmed',
    });
  });

  it('when neither has a version in effect, whether or not line-provider saw the score, then they agree', () => {
    const rejected = { version: 1, confirmedVersion: 0, confirmedRate: null, sagaState: null } as const;
    expect(compareWithLedger(rejected, { appliedVersion: 0, appliedRate: null }).kind).toBe('agree');
    expect(compareWithLedger(rejected, null)).toEqual({
      kind: 'agree',
      text: 'agree: neither side has a version in effect (line-provider has no record of the score)',
    });
  });

  it('when a settled score differs from line-provider, then it says so and that it should not', () => {
    const verdict = compareWithLedger(settled, { appliedVersion: 1, appliedRate: 3 });
    expect(verdict.kind).toBe('differ');
    expect(verdict.text).toBe(
      'line-provider has a different version in effect: version 1 (rate 3) there, score-maker confirmed ' +
        'version 2 (rate 4); the saga is settled, so the two should be equal: see the worker logs for this score',
    );
    expect(compareWithLedger(settled, { appliedVersion: 2, appliedRate: 5 }).kind).toBe('differ');
    expect(compareWithLedger(settled, null).text).toContain('no record of the score there');
  });

  it('when the saga is in flight, then a difference is expected until it settles', () => {
    const applying = { version: 3, confirmedVersion: 2, confirmedRate: 4, sagaState: 'APPLYING' } as const;
    expect(compareWithLedger(applying, { appliedVersion: 3, appliedRate: 1 }).text).toMatch(
      /version 3 \(rate 1\) there, score-maker confirmed version 2 \(rate 4\); the saga is still applying version 3: expected until it settles$/,
    );
    const reverting = { ...applying, sagaState: 'REVERTING' } as const;
    expect(compareWithLedger(reverting, { appliedVersion: 2, appliedRate: 4 }).text).toBe(
      'agree: line-provider has version 2 (rate 4) in effect, the one score-maker confirmed; ' +
        'the saga is still compensating version 3',
    );
  });
});
