import { v1 } from '@scoreline/contracts';
import { AppError } from '@scoreline/platform';
import { average, deriveStatus, type Event, type EventState } from '../../domain/event.js';
import type { RejectReason, RevertOutcome } from '@scoreline/contracts/scores';
import type { ApplyScoreResult, RevertScoreResult, ScoreLedgerView } from '../../use-cases/scores.js';

const stateToProto: Record<EventState, v1.EventState> = {
  OPEN: v1.EventState.EVENT_STATE_OPEN,
  CLOSED: v1.EventState.EVENT_STATE_CLOSED,
  CANCELLED: v1.EventState.EVENT_STATE_CANCELLED,
};

const statusToProto = {
  PROCESSING: v1.EventStatus.EVENT_STATUS_PROCESSING,
  LOW_SCORE: v1.EventStatus.EVENT_STATUS_LOW_SCORE,
  HIGH_SCORE: v1.EventStatus.EVENT_STATUS_HIGH_SCORE,
} as const;

export function eventToProto(event: Event): v1.Event {
  return {
    id: event.id,
    title: event.title,
    deadline: event.deadline,
    state: stateToProto[event.state],
    status: statusToProto[deriveStatus(event.aggregates)],
    scores: {
      count: event.aggregates.count,
      sum: event.aggregates.sum,
      average: average(event.aggregates),
      histogram: [...event.aggregates.histogram],
    },
    version: event.version,
    createdAt: event.createdAt,
    updatedAt: event.updatedAt,
  };
}

/** UNSPECIFIED means "any state"; an unknown enum number is a bad argument. */
export function stateFromProto(state: v1.EventState): EventState | undefined {
  switch (state) {
    case v1.EventState.EVENT_STATE_UNSPECIFIED:
      return undefined;
    case v1.EventState.EVENT_STATE_OPEN:
      return 'OPEN';
    case v1.EventState.EVENT_STATE_CLOSED:
      return 'CLOSED';
    case v1.EventState.EVENT_STATE_CANCELLED:
      return 'CANCELLED';
    default:
      throw new AppError('INVALID_ARGUMENT', `state ${String(state)} is not a known EventState`, {
        field: 'state',
      });
  }
}

const rejectReasonToProto: Record<RejectReason, v1.ScoreRejectReason> = {
  EVENT_NOT_FOUND: v1.ScoreRejectReason.SCORE_REJECT_REASON_EVENT_NOT_FOUND,
  EVENT_CLOSED: v1.ScoreRejectReason.SCORE_REJECT_REASON_EVENT_CLOSED,
  REVERTED: v1.ScoreRejectReason.SCORE_REJECT_REASON_REVERTED,
};

const applyOutcomeToProto = {
  APPLIED: v1.ApplyScoreOutcome.APPLY_SCORE_OUTCOME_APPLIED,
  REJECTED: v1.ApplyScoreOutcome.APPLY_SCORE_OUTCOME_REJECTED,
  SUPERSEDED: v1.ApplyScoreOutcome.APPLY_SCORE_OUTCOME_SUPERSEDED,
} as const;

const revertOutcomeToProto: Record<RevertOutcome, v1.RevertScoreOutcome> = {
  REVERTED: v1.RevertScoreOutcome.REVERT_SCORE_OUTCOME_REVERTED,
  TOMBSTONED: v1.RevertScoreOutcome.REVERT_SCORE_OUTCOME_TOMBSTONED,
  NOT_CURRENT: v1.RevertScoreOutcome.REVERT_SCORE_OUTCOME_NOT_CURRENT,
};

export function applyResultToProto(result: ApplyScoreResult): v1.ApplyScoreResponse {
  return {
    outcome: applyOutcomeToProto[result.outcome],
    reason: result.reason ? rejectReasonToProto[result.reason] : 0,
    appliedVersion: result.appliedVersion,
    appliedRate: result.appliedRate ?? 0,
    eventVersion: result.eventVersion,
  };
}

export function revertResultToProto(result: RevertScoreResult): v1.RevertScoreResponse {
  return {
    outcome: revertOutcomeToProto[result.outcome],
    appliedVersion: result.appliedVersion,
    appliedRate: result.appliedRate ?? 0,
    eventVersion: result.eventVersion,
  };
}

export function ledgerToProto(ledger: ScoreLedgerView): v1.GetScoreLedgerResponse {
  return {
    scoreId: ledger.scoreId,
    eventId: ledger.eventId ?? 0,
    userId: ledger.userId ?? '',
    maxVersion: ledger.maxVersion,
    appliedVersion: ledger.appliedVersion,
    appliedRate: ledger.appliedRate ?? 0,
    updatedAt: ledger.updatedAt,
    versions: ledger.versions.map((v) => ({
      version: v.version,
      rate: v.rate ?? 0,
      applyOutcome: v.applyOutcome ? applyOutcomeToProto[v.applyOutcome] : 0,
      rejectReason: v.rejectReason ? rejectReasonToProto[v.rejectReason] : 0,
      revertOutcome: v.revertOutcome ? revertOutcomeToProto[v.revertOutcome] : 0,
      recordedAt: v.recordedAt,
    })),
  };
}
