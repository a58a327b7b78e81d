import { crashPoint, type BatchHandler, type Delivery } from '@scoreline/platform';
import type { ApplyScoreCommand, RevertScoreCommand } from '../../domain/score.js';
import type { EventChangedMessage } from '../../use-cases/event-changes.js';
import type { Saga, Step } from '../../use-cases/saga.js';

/** Broker deliveries in, saga steps out: the queues' side of the use cases, and nothing else. */

const toStep = <C>(d: Delivery<C>): Step<C> => ({ id: d.id, attempt: d.attempt, command: d.payload });

export const applyDeliveries =
  (saga: Saga): BatchHandler<ApplyScoreCommand> =>
  async (deliveries) => {
    const retry = await saga.apply(deliveries.map(toStep));
    crashPoint('worker.before-ack');
    return { retry };
  };

export const revertDeliveries =
  (saga: Saga): BatchHandler<RevertScoreCommand> =>
  async (deliveries) => {
    const retry = await saga.revert(deliveries.map(toStep));
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
    await handle(deliveries.map((d) => ({ id: d.id, payload: d.payload })));
  };
