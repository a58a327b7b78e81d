import { activeTraceparent, AppError, crashPoint, type Database, type Logger } from '@scoreline/platform';
import { acceptsScores, type EventView } from '../domain/event-view.js';
import type { Score } from '../domain/score.js';
import type { IdempotencyRepository, StoredResponse } from '../data-access/idempotency-repository.js';
import type { ScoreRepository } from '../data-access/score-repository.js';
import {
  createScoreSubmitter,
  DEFAULT_SUBMITTER_OPTIONS,
  type SubmitterOptions,
} from '../data-access/score-submitter.js';

export interface SubmitScoreInput {
  userId: string;
  eventId: number;
  rate: number;
  idempotency?: { key: string; requestHash: string };
}

/**
 * What a submission came to: the score accepted now, or, for a retry with the same Idempotency-Key,
 * the first request's answer as it was stored.
 */
export type SubmitOutcome =
  | { readonly kind: 'accepted'; readonly score: Score }
  | { readonly kind: 'replayed'; readonly answer: StoredResponse };

/**
 * POST /events/{id}/score: T1 of the saga (DESIGN.md §3). The event is checked against the cache (or
 * line-provider) first, so an unknown or closed event is refused before anything is written; the
 * saga still asks line-provider, which stays the authority. If line-provider cannot be reached and the
 * cache has nothing, the score is accepted all the same: the saga settles it when line-provider is back.
 */
export function createSubmitScore(deps: {
  db: Database;
  scores: ScoreRepository;
  idempotency: IdempotencyRepository;
  loadEvent: (id: number) => Promise<EventView | null>;
  logger: Logger;
  /**
   * The answer stored with an Idempotency-Key, in the transaction that writes the score, and replayed
   * as it is to the key's retries: the HTTP route's answer to an accepted score.
   */
  answerOf: (score: Score) => StoredResponse;
  now?: () => Date;
  /** How submissions without an Idempotency-Key are grouped into statements (score-submitter.ts). */
  submitter?: SubmitterOptions;
}) {
  const { db, scores, idempotency, logger } = deps;
  const now = deps.now ?? (() => new Date());
  const submitter = createScoreSubmitter(db, scores, deps.submitter ?? DEFAULT_SUBMITTER_OPTIONS);

  const checkEvent = async (eventId: number) => {
    let event: EventView | null;
    try {
      event = await deps.loadEvent(eventId);
    } catch (error) {
      logger.warn(
        { err: error, eventId },
        'event check skipped: line-provider unreachable; the saga will decide',
      );
      return;
    }
    if (!event) throw new AppError('EVENT_NOT_FOUND', `event ${eventId} does not exist`);
    if (!acceptsScores(event, now())) {
      throw new AppError(
        'EVENT_CLOSED',
        `event ${eventId} is closed for scoring (${event.state === 'OPEN' ? 'deadline passed' : event.state.toLowerCase()})`,
      );
    }
  };

  /** T1 in the caller's transaction, or, without one, grouped with other submissions (one commit). */
  const write = async (
    tx: Parameters<ScoreRepository['submit']>[0] | undefined,
    input: SubmitScoreInput,
  ): Promise<Score> => {
    const score = tx
      ? await scores.submit(tx, input)
      : await submitter.submit({
          userId: input.userId,
          eventId: input.eventId,
          rate: input.rate,
          traceparent: activeTraceparent(),
        });
    if (!score)
      throw new AppError(
        'SCORE_FINAL',
        `your score for event ${input.eventId} is final: the event has closed`,
      );
    return score;
  };

  return async (input: SubmitScoreInput): Promise<SubmitOutcome> => {
    const key = input.idempotency;
    if (!key) {
      await checkEvent(input.eventId);
      // No key: one statement, one round trip (an implicit transaction), shared with other submissions.
      const written = await write(undefined, input);
      crashPoint('api.after-commit');
      return { kind: 'accepted', score: written };
    }
    const replayed = await db.transaction(async (tx) => {
      await idempotency.lock(tx, input.userId, key.key);
      return idempotency.find(tx, input.userId, key.key);
    });
    if (replayed) return replayOrRefuse(replayed, key.requestHash);
    await checkEvent(input.eventId);
    const answered = await db.transaction(async (tx) => {
      await idempotency.lock(tx, input.userId, key.key);
      // Another request with this key may have committed since the first look.
      const stored = await idempotency.find(tx, input.userId, key.key);
      if (stored) return replayOrRefuse(stored, key.requestHash);
      const score = await write(tx, input);
      await idempotency.save(tx, input.userId, key.key, key.requestHash, deps.answerOf(score));
      return { kind: 'accepted', score } as const;
    });
    crashPoint('api.after-commit');
    return answered;
  };
}

function replayOrRefuse(
  stored: StoredResponse & { requestHash: string },
  requestHash: string,
): SubmitOutcome {
  if (stored.requestHash !== requestHash) {
    throw new AppError(
      'IDEMPOTENCY_KEY_REUSED',
      'this Idempotency-Key was used with a different request in the last 24 hours',
    );
  }
  return {
    kind: 'replayed',
    answer: { statusCode: stored.statusCode, body: stored.body, location: stored.location },
  };
}

export type SubmitScore = ReturnType<typeof createSubmitScore>;
