import type { Broker, Database, Logger } from '@scoreline/platform';
import type { SagaRepository } from '../../data-access/saga-repository.js';
import { APPLY_TOPIC, REVERT_TOPIC } from '../../domain/score.js';
import { stepMessageId } from './step-id.js';

/**
 * Re-drives sagas from the database, the source of truth: every saga unsettled for longer than
 * `afterMs` gets its current step published again, under the step's own message id. While the first
 * job for that step is alive (waiting, delayed for a retry, running) the queue keeps it and ignores
 * the copy; when Redis lost it (restart, FLUSHALL, an evicted key), the copy takes its place. So a lost
 * job delays a saga by at most `afterMs` plus one sweep, and never loses it.
 */
export function createSweeper(deps: {
  db: Database;
  sagas: SagaRepository;
  broker: Broker;
  logger: Logger;
  afterMs: number;
  batch?: number;
}) {
  const { db, sagas, broker, logger, afterMs } = deps;
  return async (): Promise<number> => {
    const stale = await sagas.findStale(db, afterMs, deps.batch ?? 500);
    if (stale.length === 0) return 0;
    const now = new Date().toISOString();
    const applies = stale.filter((s) => s.sagaState === 'APPLYING');
    const reverts = stale.filter((s) => s.sagaState === 'REVERTING');
    await broker.publish(
      APPLY_TOPIC,
      applies.map((s) => ({
        id: stepMessageId(s.id, s.version, 'ApplyScore'),
        type: 'ApplyScore',
        key: s.id,
        payload: { scoreId: s.id, version: s.version, eventId: s.eventId, userId: s.userId, rate: s.rate },
        createdAt: now,
      })),
    );
    await broker.publish(
      REVERT_TOPIC,
      reverts.map((s) => ({
        id: stepMessageId(s.id, s.version, 'RevertScore'),
        type: 'RevertScore',
        key: s.id,
        payload: { scoreId: s.id, version: s.version },
        createdAt: now,
      })),
    );
    logger.debug({ applies: applies.length, reverts: reverts.length }, 'sweeper re-drove stale sagas');
    return stale.length;
  };
}
