import type { Queryable } from '@scoreline/platform';
import type { Score } from '../domain/score.js';
import type { ScoreRepository, Submission } from './score-repository.js';

/*
 * The API's group commit for T1 (DESIGN.md §3, "Batches"): submissions without an Idempotency-Key are
 * written many to a statement. A submission goes out at once while fewer than `maxInFlight`
 * statements are running, so a quiet API answers as fast as with one statement per request; under
 * load, whatever arrives while they run waits for the next free one and goes in it together, up to
 * `maxBatch`. So the busier the API, the fewer statements and commits per score (PostgreSQL's commit,
 * its WAL flush and the round trip are paid once per batch), and no submission waits to fill a batch.
 *
 * Each submission still gets its own answer. A statement holds one submission per (user, event): a
 * second one of the same pair waits for a later statement, so the row lock and the versions keep the
 * order the API received them in. When a batch's statement fails, each of its submissions is written
 * again alone, so one that cannot be written fails by itself and the rest are not held back by it.
 */

export interface SubmitterOptions {
  /** Statements running at once, at most (each holds a pooled connection while it runs). */
  maxInFlight: number;
  /** Submissions in one statement, at most. */
  maxBatch: number;
}

export const DEFAULT_SUBMITTER_OPTIONS: SubmitterOptions = { maxInFlight: 2, maxBatch: 200 };

interface Waiting {
  item: Submission;
  resolve: (score: Score | undefined) => void;
  reject: (error: unknown) => void;
}

export function createScoreSubmitter(
  db: Queryable,
  scores: Pick<ScoreRepository, 'submitMany'>,
  options: SubmitterOptions = DEFAULT_SUBMITTER_OPTIONS,
) {
  let waiting: Waiting[] = [];
  let inFlight = 0;

  /** The next batch: the oldest waiting submissions, one per (user, event), up to maxBatch. */
  const take = (): Waiting[] => {
    const batch: Waiting[] = [];
    const rest: Waiting[] = [];
    const keys = new Set<string>();
    for (const w of waiting) {
      const key = `${w.item.eventId}:${w.item.userId}`;
      if (batch.length < options.maxBatch && !keys.has(key)) {
        keys.add(key);
        batch.push(w);
      } else {
        rest.push(w);
      }
    }
    waiting = rest;
    return batch;
  };

  const write = async (batch: Waiting[]) => {
    try {
      const written = await scores.submitMany(
        db,
        batch.map((w) => w.item),
      );
      batch.forEach((w, i) => w.resolve(written[i]));
    } catch (error) {
      if (batch.length === 1) {
        batch[0]!.reject(error);
        return;
      }
      // Alone, each either succeeds or fails with its own error.
      await Promise.all(batch.map((w) => write([w])));
    }
  };

  const pump = () => {
    while (inFlight < options.maxInFlight && waiting.length > 0) {
      const batch = take();
      inFlight += 1;
      void write(batch).finally(() => {
        inFlight -= 1;
        pump();
      });
    }
  };

  return {
    /** T1 for one submission: its score after the write, or undefined when the score is final. */
    submit(item: Submission): Promise<Score | undefined> {
      return new Promise((resolve, reject) => {
        waiting.push({ item, resolve, reject });
        pump();
      });
    },
    /** Submissions waiting and statements running, for tests and metrics. */
    stats: () => ({ waiting: waiting.length, inFlight }),
  };
}

export type ScoreSubmitter = ReturnType<typeof createScoreSubmitter>;
