import type { ApplyOutcome, RejectReason, RevertOutcome } from '@scoreline/contracts/scores';
import type { RejectionReason, ScoreStatus } from './score.js';

/**
 * The saga's decisions (DESIGN.md §3), apart from any I/O. score-maker never guesses what line-provider
 * holds: every settlement copies line-provider's own answer of what is in effect for the score
 * (applied version and rate), which is what keeps the agreement invariant exact.
 *
 * Steps and their compensations:
 *   T1 submit (API)            ↔ compensated by T3-reject below, or by the timeout's RevertScore
 *   T2 ApplyScore (line-provider) ↔ RevertScore(score id, version): removes it, or tombstones it
 *   T3 confirm                 (final step, nothing to compensate)
 */

export interface LineProviderState {
  /** The version line-provider has in effect for this score (0: none). */
  appliedVersion: number;
  appliedRate: number | null;
}

export interface Settlement {
  status: Exclude<ScoreStatus, 'PENDING'>;
  /** What the score shows afterwards: the confirmed value, or (REJECTED) what the user asked for. */
  rate: number | null;
  confirmedRate: number | null;
  confirmedVersion: number;
  reason: RejectionReason | null;
}

/** Back to what line-provider has in effect: CONFIRMED at that value, or REJECTED if it has none. */
export function mirror(state: LineProviderState, reason: RejectionReason | null): Settlement {
  if (state.appliedVersion > 0 && state.appliedRate !== null) {
    return {
      status: 'CONFIRMED',
      rate: state.appliedRate,
      confirmedRate: state.appliedRate,
      confirmedVersion: state.appliedVersion,
      reason,
    };
  }
  return { status: 'REJECTED', rate: null, confirmedRate: null, confirmedVersion: 0, reason };
}

/** line-provider's answer to ApplyScore: the outcome and what it has in effect afterwards. */
export interface ApplyScoreResult extends LineProviderState {
  outcome: ApplyOutcome;
  reason: RejectReason | null;
  eventVersion: number;
}

/** line-provider's answer to RevertScore. */
export interface RevertScoreResult extends LineProviderState {
  outcome: RevertOutcome;
  eventVersion: number;
}

/**
 * T3 after line-provider answered ApplyScore for the current version.
 * APPLIED confirms; REJECTED compensates T1 at once (back to line-provider's value, with the reason);
 * SUPERSEDED cannot happen for the current version unless line-provider saw a newer one, so it too
 * falls back to mirroring line-provider rather than leaving the score pending forever.
 */
export function settleApply(
  outcome: ApplyOutcome,
  reason: RejectReason | null,
  state: LineProviderState,
): Settlement {
  if (outcome === 'APPLIED') return { ...mirror(state, null), status: 'CONFIRMED' };
  return mirror(state, outcome === 'REJECTED' ? reason : 'REVERTED');
}

/** After the timeout's RevertScore went through: line-provider's value, marked UNAVAILABLE. */
export function settleRevert(state: LineProviderState): Settlement {
  return mirror(state, 'UNAVAILABLE');
}

/**
 * A transient failure gives up (and compensates) past the attempts or the age allowed. Age alone never
 * gives up on a first delivery: a saga that waited out the timeout in a backlog (workers down, a burst)
 * did so through no fault of line-provider, and its first failure (one slow call) gets a retry.
 */
export function timedOut(input: {
  attempt: number;
  maxAttempts: number;
  pendingSince: Date | null;
  now: Date;
  timeoutMs: number;
}): boolean {
  if (input.attempt >= input.maxAttempts) return true;
  if (input.attempt < 2 || input.pendingSince === null) return false;
  return input.now.getTime() - input.pendingSince.getTime() >= input.timeoutMs;
}
