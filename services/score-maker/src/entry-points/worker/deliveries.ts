import {
  crashPoint,
  inBatchSpan,
  itemSpans,
  SpanKind,
  type BatchHandler,
  type Delivery,
} from '@scoreline/platform';
import type { ApplyScoreCommand, RevertScoreCommand } from '../../domain/score.js';
import type { EventChangedMessage } from '../../use-cases/event-changes.js';
import type { Retries, Saga, Step } from '../../use-cases/saga.js';

/** Broker deliveries in, saga steps out: the queues' side of the use cases, and nothing else. */

const toStep = <C>(d: Delivery<C>): Step<C> => ({
  id: d.id,
  attempt: d.attempt,
  command: d.payload,
  traceparent: d.traceparent,
});

/*
 * Tracing a batch of saga steps: one span for the batch (its line-provider call is that span's child),
 * and one span per step in the trace of the request that submitted its score, linked to the batch's,
 * ended as retried (an error) or done. inBatchSpan says when the batch span joins the request's trace.
 */
async function tracedSteps<C extends { scoreId: string; version: number }>(
  name: string,
  deliveries: readonly Delivery<C>[],
  run: (steps: Step<C>[]) => Promise<Retries>,
): Promise<Retries> {
  return inBatchSpan(
    name,
    deliveries.map((d) => d.traceparent),
    { kind: SpanKind.CONSUMER, attributes: { 'messaging.batch.message_count': deliveries.length } },
    async (batch) => {
      const steps = itemSpans(
        `${name} step`,
        batch,
        deliveries.map((d) => ({
          traceparent: d.traceparent,
          attributes: {
            'scoreline.score_id': d.payload.scoreId,
            'scoreline.score_version': d.payload.version,
            'messaging.message.id': d.id,
            'messaging.delivery.attempt': d.attempt,
          },
        })),
      );
      let retry: Retries | undefined;
      try {
        retry = await run(deliveries.map(toStep));
        return retry;
      } finally {
        deliveries.forEach((d, i) =>
          steps.end(i, retry ? retry.get(d.id) : new Error('the batch failed; every step is retried')),
        );
      }
    },
  );
}

export const applyDeliveries =
  (saga: Saga): BatchHandler<ApplyScoreCommand> =>
  async (deliveries) => {
    const retry = await tracedSteps('saga apply', deliveries, (steps) => saga.apply(steps));
    crashPoint('worker.before-ack');
    return { retry };
  };

export const revertDeliveries =
  (saga: Saga): BatchHandler<RevertScoreCommand> =>
  async (deliveries) => {
    const retry = await tracedSteps('saga revert', deliveries, (steps) => saga.revert(steps));
    crashPoint('worker.before-ack');
    return { retry };
  };

export const applyExhausted =
  (saga: Saga) =>
  (delivery: Delivery, error: unknown): Promise<void> =>
    saga.giveUp(toStep(delivery as Delivery<ApplyScoreCommand>), error);

export const eventChangedDeliveries =
  (handle: (messages: readonly EventChangedMessage[]) => Promise<void>): BatchHandler =>
  async (deliveries) => {
    await inBatchSpan(
      'process line-provider.event-changed',
      deliveries.map((d) => d.traceparent),
      { kind: SpanKind.CONSUMER, attributes: { 'messaging.batch.message_count': deliveries.length } },
      () => handle(deliveries.map((d) => ({ id: d.id, payload: d.payload }))),
    );
  };
