import type {
  ApplyOutcome,
  RecordedApplyOutcome,
  RejectReason,
  RevertOutcome,
} from '@scoreline/contracts/scores';
import type { Rate } from './event.js';

/**
 * The saga's receiving end (DESIGN.md §3, T2). For each score id line-provider keeps the version in
 * effect, its rate, and the highest version it has seen in any form; for each (score id, version) the
 * answers it gave. These functions are the rules for one item; data-access carries them out for many
 * items at once, in SQL (migrations/0003_score_batches.sql), and test/score-batches-model.test.ts
 * checks that SQL against these functions applied one item at a time.
 */

export interface LedgerState {
  /** Highest version seen: applied, rejected or reverted. Versions only move forward. */
  maxVersion: number;
  appliedVersion: number;
  appliedRate: Rate | null;
}

/** What was recorded for one (score id, version). */
export interface VersionRecord {
  applyOutcome: RecordedApplyOutcome | null;
  rejectReason: RejectReason | null;
  revertOutcome: RevertOutcome | null;
}

export type EventCheck = 'open' | 'closed' | 'missing';

export type ApplyDecision =
  /** A repeat, or something already settled: answer without changing anything. */
  | { kind: 'answer'; outcome: ApplyOutcome; reason: RejectReason | null }
  /** Refuse and record the refusal (so a repeat gets the same answer); aggregates stay. */
  | { kind: 'reject'; reason: RejectReason }
  /** Make this version the one in effect: aggregates move from the previous rate to this one. */
  | { kind: 'apply'; fromRate: Rate | null };

export function decideApply(
  version: number,
  ledger: LedgerState | null,
  record: VersionRecord | null,
  event: EventCheck,
): ApplyDecision {
  if (record?.applyOutcome) {
    return { kind: 'answer', outcome: record.applyOutcome, reason: record.rejectReason };
  }
  // A tombstone: this version was reverted before it ever arrived.
  if (record?.revertOutcome) return { kind: 'answer', outcome: 'REJECTED', reason: 'REVERTED' };
  if (ledger && version <= ledger.maxVersion) return { kind: 'answer', outcome: 'SUPERSEDED', reason: null };
  if (event === 'missing') return { kind: 'reject', reason: 'EVENT_NOT_FOUND' };
  if (event === 'closed') return { kind: 'reject', reason: 'EVENT_CLOSED' };
  return { kind: 'apply', fromRate: ledger?.appliedRate ?? null };
}

export type RevertDecision =
  | { kind: 'answer'; outcome: RevertOutcome }
  /** Record the outcome; when `restore` is set, the version in effect changes to it. */
  | { kind: 'record'; outcome: 'TOMBSTONED' | 'NOT_CURRENT' }
  | { kind: 'revert' };

/**
 * RevertScore(score id, version): take a version back.
 * - in effect, and no later version seen → REVERTED: the previous applied version (not itself
 *   reverted) comes back, or none;
 * - never applied → TOMBSTONED: recorded, so a late ApplyScore of it is refused;
 * - applied once but replaced by a newer one, or in effect again only because a later version was
 *   reverted or refused → NOT_CURRENT: nothing moves, but it is marked so that reverting a newer one
 *   later does not bring it back.
 *
 * Once a later version has been seen, score-maker's saga for that later version decides what the score
 * shows (it mirrors what is in effect here when it settles), so a revert of an earlier version that
 * arrives late must not move anything: RevertScore(v2) delivered after RevertScore(v3) had brought v2
 * back would otherwise roll the score back to v1 while score-maker shows v2 confirmed.
 */
export function decideRevert(
  version: number,
  ledger: LedgerState | null,
  record: VersionRecord | null,
): RevertDecision {
  if (record?.revertOutcome) return { kind: 'answer', outcome: record.revertOutcome };
  if (ledger && ledger.appliedVersion === version && version >= ledger.maxVersion) return { kind: 'revert' };
  if (record?.applyOutcome === 'APPLIED') return { kind: 'record', outcome: 'NOT_CURRENT' };
  return { kind: 'record', outcome: 'TOMBSTONED' };
}
