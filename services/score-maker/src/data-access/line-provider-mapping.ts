import { v1 } from '@scoreline/contracts';
import { AppError } from '@scoreline/platform';
import type { EventState, EventStatus, EventView } from '../domain/event-view.js';
import type { ApplyScoreResult, RevertScoreResult } from '../domain/saga.js';

/** Proto messages → score-maker's types. Anything line-provider must always set but did not is INTERNAL. */

export const stateToProto: Record<EventState, v1.EventState> = {
  OPEN: v1.EventState.EVENT_STATE_OPEN,
  CLOSED: v1.EventState.EVENT_STATE_CLOSED,
  CANCELLED: v1.EventState.EVENT_STATE_CANCELLED,
};

const states = new Map<v1.EventState, EventState>([
  [v1.EventState.EVENT_STATE_OPEN, 'OPEN'],
  [v1.EventState.EVENT_STATE_CLOSED, 'CLOSED'],
  [v1.EventState.EVENT_STATE_CANCELLED, 'CANCELLED'],
]);

const statuses = new Map<v1.EventStatus, EventStatus>([
  [v1.EventStatus.EVENT_STATUS_PROCESSING, 'PROCESSING'],
  [v1.EventStatus.EVENT_STATUS_LOW_SCORE, 'LOW_SCORE'],
  [v1.EventStatus.EVENT_STATUS_HIGH_SCORE, 'HIGH_SCORE'],
]);

const applyOutcomes = new Map<v1.ApplyScoreOutcome, ApplyScoreResult['outcome']>([
  [v1.ApplyScoreOutcome.APPLY_SCORE_OUTCOME_APPLIED, 'APPLIED'],
  [v1.ApplyScoreOutcome.APPLY_SCORE_OUTCOME_REJECTED, 'REJECTED'],
  [v1.ApplyScoreOutcome.APPLY_SCORE_OUTCOME_SUPERSEDED, 'SUPERSEDED'],
]);

const rejectReasons = new Map<v1.ScoreRejectReason, NonNullable<ApplyScoreResult['reason']>>([
  [v1.ScoreRejectReason.SCORE_REJECT_REASON_EVENT_NOT_FOUND, 'EVENT_NOT_FOUND'],
  [v1.ScoreRejectReason.SCORE_REJECT_REASON_EVENT_CLOSED, 'EVENT_CLOSED'],
  [v1.ScoreRejectReason.SCORE_REJECT_REASON_REVERTED, 'REVERTED'],
]);

const revertOutcomes = new Map<v1.RevertScoreOutcome, RevertScoreResult['outcome']>([
  [v1.RevertScoreOutcome.REVERT_SCORE_OUTCOME_REVERTED, 'REVERTED'],
  [v1.RevertScoreOutcome.REVERT_SCORE_OUTCOME_TOMBSTONED, 'TOMBSTONED'],
  [v1.RevertScoreOutcome.REVERT_SCORE_OUTCOME_NOT_CURRENT, 'NOT_CURRENT'],
]);

// An enum value this build does not know means line-provider runs a newer contract than score-maker:
// guessing would corrupt the saga's decisions, so it is an error an operator must see.
function known<K, V>(map: Map<K, V>, value: K, what: string): V {
  const mapped = map.get(value);
  if (mapped === undefined)
    throw new AppError('INTERNAL', `line-provider sent an unknown ${what}: ${String(value)}`);
  return mapped;
}

function required<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new AppError('INTERNAL', `line-provider sent an event without ${what}`);
  return value;
}

export function eventFromProto(event: v1.Event | undefined): EventView {
  const e = required(event, 'its body');
  const scores = required(e.scores, 'scores');
  return {
    id: e.id,
    title: e.title,
    deadline: required(e.deadline, 'a deadline'),
    state: known(states, e.state, 'event state'),
    status: known(statuses, e.status, 'event status'),
    scores: {
      count: scores.count,
      sum: scores.sum,
      average: scores.average,
      histogram: [...scores.histogram],
    },
    version: e.version,
    createdAt: required(e.createdAt, 'createdAt'),
    updatedAt: required(e.updatedAt, 'updatedAt'),
  };
}

export function applyResultFromProto(res: v1.ApplyScoreResponse): ApplyScoreResult {
  const outcome = known(applyOutcomes, res.outcome, 'ApplyScore outcome');
  return {
    outcome,
    reason: outcome === 'REJECTED' ? known(rejectReasons, res.reason, 'reject reason') : null,
    appliedVersion: res.appliedVersion,
    // The proto says 0 when no version is in effect; null says so without a magic rate.
    appliedRate: res.appliedRate === 0 ? null : res.appliedRate,
    eventVersion: res.eventVersion,
  };
}

export function revertResultFromProto(res: v1.RevertScoreResponse): RevertScoreResult {
  return {
    outcome: known(revertOutcomes, res.outcome, 'RevertScore outcome'),
    appliedVersion: res.appliedVersion,
    appliedRate: res.appliedRate === 0 ? null : res.appliedRate,
    eventVersion: res.eventVersion,
  };
}

/** One result per item, or line-provider broke the contract: the saga must not pair answers wrongly. */
function oneEach<T>(results: T[], count: number, method: string): T[] {
  if (results.length !== count) {
    throw new AppError(
      'INTERNAL',
      `line-provider answered ${method} with ${results.length} results for ${count} items`,
    );
  }
  return results;
}

export function applyResultsFromProto(res: v1.ApplyScoresResponse, count: number): ApplyScoreResult[] {
  return oneEach(res.results, count, 'ApplyScores').map(applyResultFromProto);
}

export function revertResultsFromProto(res: v1.RevertScoresResponse, count: number): RevertScoreResult[] {
  return oneEach(res.results, count, 'RevertScores').map(revertResultFromProto);
}
