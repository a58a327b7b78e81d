import { AppError, crashPoint, isAppError, type Database } from '@scoreline/platform';
import type { Rate } from '../domain/event.js';
import { checkScoreBatch, checkScoreInput, type ApplyScoreInput } from '../domain/score-input.js';
import type {
  ApplyAnswer,
  ApplyItem,
  LedgerView,
  RevertAnswer,
  ScoreLedgerRepository,
} from '../data-access/score-ledger-repository.js';

export type ApplyScoreResult = ApplyAnswer;
export type RevertScoreResult = RevertAnswer;
export type ScoreLedgerView = LedgerView;
export type RevertScoreInput = Pick<ApplyScoreInput, 'scoreId' | 'version'>;

const APPLY_FIELDS = ['scoreId', 'version', 'eventId', 'userId', 'rate'] as const;
const REVERT_FIELDS = ['scoreId', 'version'] as const;

function invalid(violation: { field: string; message: string }): AppError {
  return new AppError('INVALID_ARGUMENT', violation.message, { field: violation.field });
}

/** Names the item of a batch that the ledger refused (`items[i].score_id`), keeping the message. */
function inBatch(error: unknown): unknown {
  if (!isAppError(error, 'INVALID_ARGUMENT') || typeof error.details?.item !== 'number') return error;
  const field = `items[${error.details.item}].${error.field ?? 'score_id'}`;
  return new AppError('INVALID_ARGUMENT', `${field}: ${error.message}`, { field, cause: error });
}

/**
 * ApplyScore and RevertScore (DESIGN.md §3, T2), one item or a batch: each call is one statement in
 * PostgreSQL, so one transaction, idempotent per (score id, version). The single calls are batches
 * of one; a bad item refuses the whole batch with INVALID_ARGUMENT naming it, and nothing changes.
 */
export function createScoreUseCases(deps: { db: Database; ledger: ScoreLedgerRepository }) {
  const { db, ledger } = deps;

  return {
    async applyScore(input: ApplyScoreInput): Promise<ApplyScoreResult> {
      const violation = checkScoreInput(input, APPLY_FIELDS);
      if (violation) throw invalid(violation);
      const [answer] = await ledger.applyScores(db, [{ ...input, rate: input.rate as Rate }]);
      crashPoint('line-provider.after-commit');
      return answer!;
    },

    async applyScores(items: readonly ApplyScoreInput[]): Promise<ApplyScoreResult[]> {
      const violation = checkScoreBatch(items, APPLY_FIELDS);
      if (violation) throw invalid(violation);
      if (items.length === 0) return [];
      try {
        const answers = await ledger.applyScores(db, items as readonly ApplyItem[]);
        crashPoint('line-provider.after-commit');
        return answers;
      } catch (error) {
        throw inBatch(error);
      }
    },

    async revertScore(input: RevertScoreInput): Promise<RevertScoreResult> {
      const violation = checkScoreInput(input, REVERT_FIELDS);
      if (violation) throw invalid(violation);
      const [answer] = await ledger.revertScores(db, [input]);
      crashPoint('line-provider.after-commit');
      return answer!;
    },

    /** GetScoreLedger: the score's ledger and recorded versions. NOT_FOUND when never seen. */
    async ledger(scoreId: string): Promise<ScoreLedgerView> {
      const violation = checkScoreInput({ scoreId }, ['scoreId']);
      if (violation) throw invalid(violation);
      const found = await ledger.find(db, scoreId);
      if (!found) throw new AppError('NOT_FOUND', `line-provider has no record of score ${scoreId}`);
      return found;
    },

    async revertScores(items: readonly RevertScoreInput[]): Promise<RevertScoreResult[]> {
      const violation = checkScoreBatch(items, REVERT_FIELDS);
      if (violation) throw invalid(violation);
      if (items.length === 0) return [];
      const answers = await ledger.revertScores(db, items);
      crashPoint('line-provider.after-commit');
      return answers;
    },
  };
}

export type ScoreUseCases = ReturnType<typeof createScoreUseCases>;
