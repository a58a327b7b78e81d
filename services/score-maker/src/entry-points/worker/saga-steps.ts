import { isAppError, type Database, type Delivery, type Logger } from '@scoreline/platform';
import type { LineProviderClient } from '../../data-access/line-provider-client.js';
import type { SagaRepository } from '../../data-access/saga-repository.js';
import { settleApply, settleRevert, timedOut } from '../../domain/saga.js';
import type { ApplyScoreCommand, RevertScoreCommand } from '../../domain/score.js';

export interface SagaSettings {
  /** Deliveries of one ApplyScore before the timeout's compensation. */
  maxAttempts: number;
  /** Age of a saga after which a transient failure compensates instead of retrying. */
  timeoutMs: number;
}

/** Transient: worth retrying. Anything not known to be permanent counts as transient: never drop. */
export function isTransient(error: unknown): boolean {
  return !isAppError(error, 'INVALID_ARGUMENT') && !isAppError(error, 'NOT_FOUND');
}

/**
 * The saga's worker-side steps. Each handler is idempotent: it reads the score first and acts only if
 * the step it was sent for is still the current one; line-provider's calls are idempotent per
 * (score id, version); settlements match on (version, step).
 */
export function createSagaSteps(deps: {
  db: Database;
  sagas: SagaRepository;
  lineProvider: Pick<LineProviderClient, 'applyScore' | 'revertScore'>;
  settings: SagaSettings;
  logger: Logger;
  now?: () => Date;
}) {
  const { db, sagas, lineProvider, settings, logger } = deps;
  const now = deps.now ?? (() => new Date());

  /** T2 → T3. Compensation: REJECTED settles back at once; a timeout goes to revert(). */
  const apply = async (delivery: Delivery<ApplyScoreCommand>): Promise<void> => {
    const command = delivery.payload;
    const score = await sagas.get(db, command.scoreId);
    if (!score || score.version !== command.version || score.sagaState !== 'APPLYING') return; // superseded or settled
    let result;
    try {
      result = await lineProvider.applyScore(command);
    } catch (error) {
      const expired = timedOut({
        attempt: delivery.attempt,
        pendingSince: score.pendingSince,
        now: now(),
        ...settings,
      });
      if (isTransient(error) && !expired) throw error; // the broker retries with backoff and jitter
      logger.warn(
        { err: error, scoreId: command.scoreId, version: command.version, attempt: delivery.attempt },
        'ApplyScore gave up; compensating with RevertScore',
      );
      await sagas.beginRevert(db, command.scoreId, command.version);
      return;
    }
    const settlement = settleApply(result.outcome, result.reason, result);
    await sagas.settle(db, command.scoreId, command.version, 'APPLYING', settlement);
  };

  /**
   * The timeout's compensation: RevertScore until line-provider takes it (the broker retries without a
   * limit, with capped backoff), then the score mirrors what line-provider has in effect. Delivered
   * even when the user has changed the score since: line-provider must never apply this version late.
   */
  const revert = async (delivery: Delivery<RevertScoreCommand>): Promise<void> => {
    const command = delivery.payload;
    let result;
    try {
      result = await lineProvider.revertScore(command);
    } catch (error) {
      logger.warn(
        { err: error, scoreId: command.scoreId, version: command.version, attempt: delivery.attempt },
        'RevertScore failed; retrying',
      );
      throw error;
    }
    await sagas.settle(db, command.scoreId, command.version, 'REVERTING', settleRevert(result));
  };

  /** The broker ran out of attempts on an ApplyScore (a safety net: apply() normally compensates first). */
  const applyExhausted = async (delivery: Delivery, error: unknown): Promise<void> => {
    const command = delivery.payload as ApplyScoreCommand;
    logger.error(
      { err: error, scoreId: command.scoreId, version: command.version },
      'ApplyScore exhausted its attempts',
    );
    await sagas.beginRevert(db, command.scoreId, command.version);
  };

  return { apply, revert, applyExhausted };
}

export type SagaSteps = ReturnType<typeof createSagaSteps>;
