import { LATENCY_BUCKETS, type Metrics } from '@scoreline/platform';
import type { SettledSaga } from '../data-access/saga-repository.js';

/** What the saga reports as it goes; counters and histograms only, nothing read back. */
export interface SagaObserver {
  /** Sagas settled by an ApplyScore answer: confirmed, or rejected (T1 compensated at once). */
  applied: (sagas: SettledSaga[]) => void;
  /** Sagas settled once the timeout's RevertScore went through. */
  reverted: (sagas: SettledSaga[]) => void;
  /** Sagas whose timeout compensation (RevertScore) began. */
  compensating: (count: number) => void;
}

/**
 * The saga's metrics:
 * - `scoreline_saga_outcomes_total{status, reason}`: settled sagas (CONFIRMED or REJECTED; reason
 *   `none`, EVENT_CLOSED, EVENT_NOT_FOUND, REVERTED, UNAVAILABLE);
 * - `scoreline_score_settlement_seconds{status}`: from the score's 202 to its settlement;
 * - `scoreline_saga_compensations_total{reason}`: compensations begun: a rejection by line-provider
 *   (its reason), or the timeout's RevertScore (UNAVAILABLE).
 */
export function createSagaMetrics(metrics: Metrics): SagaObserver {
  const outcomes = metrics.counter({
    name: 'scoreline_saga_outcomes_total',
    help: 'Settled sagas by final status and reason (none when confirmed without one)',
    labelNames: ['status', 'reason'],
  });
  const settlement = metrics.histogram({
    name: 'scoreline_score_settlement_seconds',
    help: "From a score's acceptance (202) to its saga's settlement, by final status",
    labelNames: ['status'],
    buckets: LATENCY_BUCKETS,
  });
  const compensations = metrics.counter({
    name: 'scoreline_saga_compensations_total',
    help: 'Saga compensations begun, by reason (UNAVAILABLE: the timeout sent RevertScore)',
    labelNames: ['reason'],
  });
  const settled = (sagas: SettledSaga[], compensated: boolean) => {
    for (const saga of sagas) {
      outcomes.inc({ status: saga.status, reason: saga.reason ?? 'none' });
      settlement.observe({ status: saga.status }, Math.max(0, saga.seconds));
      if (compensated && saga.reason) compensations.inc({ reason: saga.reason });
    }
  };
  return {
    applied: (sagas) => settled(sagas, true),
    reverted: (sagas) => settled(sagas, false),
    compensating: (count) => {
      if (count > 0) compensations.inc({ reason: 'UNAVAILABLE' }, count);
    },
  };
}
