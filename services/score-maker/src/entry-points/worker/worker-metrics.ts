import { LATENCY_BUCKETS, type Delivery, type Metrics } from '@scoreline/platform';

export interface SagaCounts {
  applying: number;
  reverting: number;
  stuck: number;
}

/**
 * `scoreline_sagas_in_flight{step}` (applying, reverting) and `scoreline_sagas_stuck` (compensating
 * for longer than SAGA_STUCK_AFTER), read from the database on scrape: one count over the partial
 * index of sagas in flight, at most every `minIntervalMs`.
 */
export function observeSagaCounts(
  metrics: Metrics,
  read: () => Promise<SagaCounts>,
  minIntervalMs = 1000,
): () => void {
  const inFlight = metrics.gauge({
    name: 'scoreline_sagas_in_flight',
    help: 'Sagas not settled yet, by step (applying: ApplyScore; reverting: the timeout compensation)',
    labelNames: ['step'],
  });
  const stuck = metrics.gauge({
    name: 'scoreline_sagas_stuck',
    help: 'Sagas compensating (RevertScore failing) for longer than SAGA_STUCK_AFTER',
  });
  return metrics.onScrape(
    async () => {
      const counts = await read();
      inFlight.set({ step: 'applying' }, counts.applying);
      inFlight.set({ step: 'reverting' }, counts.reverting);
      stuck.set(counts.stuck);
    },
    { minIntervalMs },
  );
}

/**
 * `scoreline_event_changed_lag_seconds`: from an EventChanged message's creation in line-provider's
 * outbox to its handling here (cache invalidated, scores marked final). Returns what to call with
 * each batch once handled.
 */
export function eventChangedLag(metrics: Metrics): (deliveries: readonly Delivery[]) => void {
  const lag = metrics.histogram({
    name: 'scoreline_event_changed_lag_seconds',
    help: "From an EventChanged message's creation in line-provider to its handling by a worker",
    buckets: LATENCY_BUCKETS,
  });
  return (deliveries) => {
    const now = Date.now();
    for (const d of deliveries) {
      const created = Date.parse(d.createdAt);
      if (Number.isFinite(created)) lag.observe(Math.max(0, (now - created) / 1000));
    }
  };
}
