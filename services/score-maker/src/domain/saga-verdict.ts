import type { LineProviderState } from './saga.js';
import type { Score } from './score.js';

/**
 * Whether score-maker's record of a score agrees with line-provider's ledger (`npm run sagas -- show`).
 * score-maker's confirmed version and rate mirror line-provider's last answer (see mirror() in
 * saga.ts), so once the saga is settled the two must be equal; while it is in flight, a difference is
 * the step not yet answered or settled.
 */
export type VerdictKind = 'agree' | 'differ';

export interface Verdict {
  kind: VerdictKind;
  text: string;
}

const inEffect = (version: number, rate: number | null) =>
  version > 0 ? `version ${version} (rate ${rate ?? '?'})` : 'no version';

/** `ledger` null: line-provider has no record of the score (it never took a step of its saga). */
export function compareWithLedger(
  score: Pick<Score, 'version' | 'confirmedVersion' | 'confirmedRate' | 'sagaState'>,
  ledger: LineProviderState | null,
): Verdict {
  const lp = ledger ?? { appliedVersion: 0, appliedRate: null };
  const lpRate = lp.appliedVersion > 0 ? lp.appliedRate : null;
  const smRate = score.confirmedVersion > 0 ? score.confirmedRate : null;
  const same = lp.appliedVersion === score.confirmedVersion && lpRate === smRate;
  const inFlight =
    score.sagaState === 'APPLYING'
      ? `; the saga is still applying version ${score.version}`
      : score.sagaState === 'REVERTING'
        ? `; the saga is still compensating version ${score.version}`
        : '';
  if (same) {
    const what =
      lp.appliedVersion > 0
        ? `line-provider has ${inEffect(lp.appliedVersion, lpRate)} in effect, the one score-maker confirmed`
        : `neither side has a version in effect${ledger ? '' : ' (line-provider has no record of the score)'}`;
    return { kind: 'agree', text: `agree: ${what}${inFlight}` };
  }
  const there = ledger ? inEffect(lp.appliedVersion, lpRate) : 'no record of the score';
  const why = inFlight
    ? `${inFlight}: expected until it settles`
    : '; the saga is settled, so the two should be equal: see the worker logs for this score';
  return {
    kind: 'differ',
    text:
      `line-provider has a different version in effect: ${there} there, ` +
      `score-maker confirmed ${inEffect(score.confirmedVersion, smRate)}${why}`,
  };
}
