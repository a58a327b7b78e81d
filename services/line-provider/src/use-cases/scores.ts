import { AppError, type Database } from '@scoreline/platform';
import type { Rate } from '../domain/event.js';
import { checkScoreInput, type ApplyScoreInput } from '../domain/score-input.js';
import { decideApply, decideRevert, type RejectReason, type RevertOutcome } from '../domain/score-ledger.js';
import type { ScoreLedgerRepository } from '../data-access/score-ledger-repository.js';

export interface ApplyScoreResult {
  outcome: 'APPLIED' | 'REJECTED' | 'SUPERSEDED';
  reason: RejectReason | null;
  appliedVersion: number;
  appliedRate: Rate | null;
  eventVersion: number;
}

export interface RevertScoreResult {
  outcome: RevertOutcome;
  appliedVersion: number;
  appliedRate: Rate | null;
  eventVersion: number;
}

function invalid(violation: { field: string; message: string }): AppError {
  return new AppError('INVALID_ARGUMENT', violation.message, { field: violation.field });
}

/** ApplyScore and RevertScore (DESIGN.md §3, T2): each one transaction, idempotent per (score id, version). */
export function createScoreUseCases(deps: { db: Database; ledger: ScoreLedgerRepository }) {
  const { db, ledger } = deps;

  return {
    async applyScore(input: ApplyScoreInput): Promise<ApplyScoreResult> {
      const violation = checkScoreInput(input, ['scoreId', 'version', 'eventId', 'userId', 'rate']);
      if (violation) throw invalid(violation);
      const rate = input.rate as Rate;
      return db.transaction(async (tx) => {
        const locked = await ledger.lock(tx, input);
        const { owner } = locked;
        if (
          (owner.eventId !== null && owner.eventId !== input.eventId) ||
          (owner.userId !== null && owner.userId !== input.userId)
        ) {
          throw new AppError('INVALID_ARGUMENT', 'score_id already belongs to another event or user', {
            field: 'score_id',
          });
        }
        const current = {
          appliedVersion: locked.ledger?.appliedVersion ?? 0,
          appliedRate: locked.ledger?.appliedRate ?? null,
          eventVersion: locked.eventVersion,
        };
        const decision = decideApply(input.version, locked.ledger, locked.record, locked.event);
        switch (decision.kind) {
          case 'answer':
            return { outcome: decision.outcome, reason: decision.reason, ...current };
          case 'reject':
            await ledger.recordRejection(tx, { ...input, rate, reason: decision.reason });
            return { outcome: 'REJECTED', reason: decision.reason, ...current };
          case 'apply': {
            const eventVersion = await ledger.apply(tx, { ...input, rate, fromRate: decision.fromRate });
            if (eventVersion === undefined) {
              // Closed between the read and the row lock: refuse, exactly as if we had seen it closed.
              await ledger.recordRejection(tx, { ...input, rate, reason: 'EVENT_CLOSED' });
              return { outcome: 'REJECTED', reason: 'EVENT_CLOSED', ...current };
            }
            return {
              outcome: 'APPLIED',
              reason: null,
              appliedVersion: input.version,
              appliedRate: rate,
              eventVersion,
            };
          }
        }
      });
    },

    async revertScore(input: Pick<ApplyScoreInput, 'scoreId' | 'version'>): Promise<RevertScoreResult> {
      const violation = checkScoreInput(input, ['scoreId', 'version']);
      if (violation) throw invalid(violation);
      return db.transaction(async (tx) => {
        const locked = await ledger.lock(tx, { ...input, eventId: null, userId: null });
        const current = {
          appliedVersion: locked.ledger?.appliedVersion ?? 0,
          appliedRate: locked.ledger?.appliedRate ?? null,
          eventVersion: locked.eventVersion,
        };
        const decision = decideRevert(input.version, locked.ledger, locked.record);
        switch (decision.kind) {
          case 'answer':
            return { outcome: decision.outcome, ...current };
          case 'record':
            await ledger.recordRevert(tx, { ...input, outcome: decision.outcome });
            return { outcome: decision.outcome, ...current };
          case 'revert': {
            const eventVersion = await ledger.revert(tx, {
              ...input,
              eventId: locked.owner.eventId!,
              fromRate: current.appliedRate!,
              previous: locked.previous,
            });
            return {
              outcome: 'REVERTED',
              appliedVersion: locked.previous?.version ?? 0,
              appliedRate: locked.previous?.rate ?? null,
              eventVersion,
            };
          }
        }
      });
    },
  };
}

export type ScoreUseCases = ReturnType<typeof createScoreUseCases>;
