import { createGroupCommit, type GroupCommitOptions, type Queryable } from '@scoreline/platform';
import type { Score } from '../domain/score.js';
import type { ScoreRepository, Submission } from './score-repository.js';

/*
 * The API's group commit for T1 (DESIGN.md §3, "Batches"): submissions without an Idempotency-Key are
 * written many to a statement (the platform's createGroupCommit: at once while fewer than `maxInFlight`
 * statements run, otherwise together with whatever else waits, up to `maxBatch`).
 *
 * Each submission still gets its own answer. A statement holds one submission per (user, event): a
 * second one of the same pair waits for a later statement, so the row lock and the versions keep the
 * order the API received them in. When a batch's statement fails, each of its submissions is written
 * again alone, so one that cannot be written fails by itself and the rest are not held back by it.
 */

export type SubmitterOptions = GroupCommitOptions;

export const DEFAULT_SUBMITTER_OPTIONS: SubmitterOptions = { maxInFlight: 2, maxBatch: 200 };

export function createScoreSubmitter(
  db: Queryable,
  scores: Pick<ScoreRepository, 'submitMany'>,
  options: SubmitterOptions = DEFAULT_SUBMITTER_OPTIONS,
) {
  const group = createGroupCommit<Submission, Score | undefined>({
    options,
    key: (item) => `${item.eventId}:${item.userId}`,
    writeMany: (items) => scores.submitMany(db, items),
  });
  return {
    /** T1 for one submission: its score after the write, or undefined when the score is final. */
    submit: (item: Submission): Promise<Score | undefined> => group.write(item),
    /** Submissions waiting and statements running, for tests and metrics. */
    stats: () => group.stats(),
  };
}

export type ScoreSubmitter = ReturnType<typeof createScoreSubmitter>;
