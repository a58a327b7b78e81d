import {
  activeTraceparent,
  AppError,
  crashPoint,
  createGroupCommit,
  isAppError,
  type Database,
  type GroupCommit,
  type GroupCommitOptions,
} from '@scoreline/platform';
import type { Rate } from '../domain/event.js';
import { checkScoreBatch, checkScoreInput, type ApplyScoreInput } from '../domain/score-input.js';
import type {
  ApplyAnswer,
  ApplyItem,
  LedgerView,
  RevertAnswer,
  RevertItem,
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
 * PostgreSQL, so one transaction, idempotent per (score id, version). A bad item refuses the whole
 * batch with INVALID_ARGUMENT naming it, and nothing changes.
 *
 * The single calls are batches too: a call goes out at once while fewer than `grouping.maxInFlight`
 * statements of single calls run, and calls that arrive meanwhile go together in the next one (the
 * platform's createGroupCommit), at most one per score id, so one score's versions keep the order they
 * arrived in. Each call still gets its own answer and its own error: a statement that fails is tried
 * again item by item. A call inside a trace runs alone, so the EventChanged it writes carries its own
 * trace context.
 */
export function createScoreUseCases(deps: {
  db: Database;
  ledger: ScoreLedgerRepository;
  /** The single calls' group commit (LINE_PROVIDER_SINGLE_CALL_CONCURRENCY and _BATCH_SIZE). */
  grouping: GroupCommitOptions;
}) {
  const { db, ledger, grouping } = deps;
  const applyGroup = createGroupCommit<ApplyItem, ApplyAnswer>({
    options: grouping,
    key: (item) => item.scoreId,
    writeMany: (items) => ledger.applyScores(db, items, null),
  });
  const revertGroup = createGroupCommit<RevertItem, RevertAnswer>({
    options: grouping,
    key: (item) => item.scoreId,
    writeMany: (items) => ledger.revertScores(db, items, null),
  });
  /** A single call: alone inside a trace (its EventChanged carries that trace), otherwise grouped. */
  const single = async <I, R>(
    group: GroupCommit<I, R>,
    item: I,
    alone: (traceparent: string) => Promise<R[]>,
  ) => {
    const traceparent = activeTraceparent();
    const answer = traceparent ? (await alone(traceparent))[0]! : await group.write(item);
    crashPoint('line-provider.after-commit');
    return answer;
  };

  return {
    async applyScore(input: ApplyScoreInput): Promise<ApplyScoreResult> {
      const violation = checkScoreInput(input, APPLY_FIELDS);
      if (violation) throw invalid(violation);
      const item: ApplyItem = { ...input, rate: input.rate as Rate };
      return single(applyGroup, item, (traceparent) => ledger.applyScores(db, [item], traceparent));
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
      return single(revertGroup, input, (traceparent) => ledger.revertScores(db, [input], traceparent));
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
