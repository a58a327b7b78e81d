import type { Logger } from 'pino';
import {
  defaultBackoff,
  retryDelay,
  type BatchHandler,
  type Broker,
  type BrokerMessage,
  type ConsumeBatchOptions,
  type ConsumeOptions,
  type Consumer,
  type Delivery,
  type Handler,
} from './broker.js';

interface Entry {
  message: BrokerMessage;
  attempt: number;
  dueAt: number;
  seq: number;
}

interface ConsumerSlot {
  readonly maxBatch: number;
  hasCapacity(): boolean;
  run(entries: Entry[]): void;
  close(): Promise<void>;
}

interface Topic {
  /** Ready and delayed entries; small queues, so a sorted array is simpler than a heap and fast enough. */
  entries: Entry[];
  /** Ids queued or in flight, for publish dedup. */
  ids: Set<string>;
  consumers: Set<ConsumerSlot>;
  timer: NodeJS.Timeout | undefined;
}

/**
 * The in-process broker: same semantics as the Redis one, minus durability. The outbox is what makes
 * messages durable; what was queued here when the process died is re-driven from the database.
 */
export function createMemoryBroker(options: { logger?: Logger } = {}): Broker {
  const topics = new Map<string, Topic>();
  let seq = 0;
  let closed = false;

  const topicOf = (name: string): Topic => {
    let topic = topics.get(name);
    if (!topic) {
      topic = { entries: [], ids: new Set(), consumers: new Set(), timer: undefined };
      topics.set(name, topic);
    }
    return topic;
  };

  const enqueue = (topic: Topic, entry: Entry) => {
    // Keep entries ordered by due time, then publish order, so delivery order follows publish order.
    let i = topic.entries.length;
    while (i > 0) {
      const prev = topic.entries[i - 1]!;
      if (prev.dueAt < entry.dueAt || (prev.dueAt === entry.dueAt && prev.seq < entry.seq)) break;
      i--;
    }
    topic.entries.splice(i, 0, entry);
  };

  /** Hands each consumer with a free slot the entries due now, up to its batch size, in queue order. */
  const dispatch = (name: string) => {
    const topic = topicOf(name);
    if (topic.timer) {
      clearTimeout(topic.timer);
      topic.timer = undefined;
    }
    const now = Date.now();
    for (const consumer of topic.consumers) {
      while (consumer.hasCapacity()) {
        let due = 0;
        while (due < consumer.maxBatch && due < topic.entries.length && topic.entries[due]!.dueAt <= now)
          due++;
        if (due === 0) break;
        consumer.run(topic.entries.splice(0, due));
      }
    }
    const next = topic.entries[0];
    if (next && topic.consumers.size > 0 && !closed) {
      topic.timer = setTimeout(() => dispatch(name), Math.max(0, next.dueAt - Date.now()));
    }
  };

  class MemoryConsumer implements Consumer, ConsumerSlot {
    private inFlight = new Set<Promise<void>>();
    private closing = false;
    private readonly concurrency: number;
    private readonly maxAttempts: number;
    readonly maxBatch: number;

    constructor(
      private readonly name: string,
      private readonly handler: BatchHandler,
      private readonly opts: ConsumeBatchOptions,
    ) {
      this.concurrency = opts.concurrency ?? 1;
      this.maxAttempts = opts.maxAttempts ?? 10;
      this.maxBatch = Math.max(1, opts.maxBatch ?? 1);
    }

    hasCapacity() {
      return !this.closing && this.inFlight.size < this.concurrency;
    }

    run(entries: Entry[]) {
      const topic = topicOf(this.name);
      const deliveries: Delivery[] = entries.map((e) => ({
        ...e.message,
        attempt: e.attempt,
        topic: this.name,
      }));
      const task = (async () => {
        let failed: (delivery: Delivery) => { error: unknown } | undefined;
        try {
          const outcome = await this.handler(deliveries);
          const retry = outcome?.retry;
          failed = (d) => (retry?.has(d.id) ? { error: retry.get(d.id) } : undefined);
        } catch (error) {
          failed = () => ({ error });
        }
        for (const [i, entry] of entries.entries()) {
          const delivery = deliveries[i]!;
          const failure = failed(delivery);
          if (!failure) {
            topic.ids.delete(entry.message.id);
          } else if (entry.attempt >= this.maxAttempts) {
            topic.ids.delete(entry.message.id);
            try {
              await this.opts.onExhausted?.(delivery, failure.error);
            } catch (hookError) {
              options.logger?.error({ err: hookError, topic: this.name }, 'onExhausted failed');
            }
          } else {
            const delay = retryDelay(this.opts.backoff ?? defaultBackoff, entry.attempt, failure.error);
            enqueue(topic, { ...entry, attempt: entry.attempt + 1, dueAt: Date.now() + delay, seq: seq++ });
          }
        }
      })();
      this.inFlight.add(task);
      void task.finally(() => {
        this.inFlight.delete(task);
        if (!closed) setImmediate(() => dispatch(this.name));
      });
    }

    async close() {
      this.closing = true;
      topicOf(this.name).consumers.delete(this);
      await Promise.allSettled([...this.inFlight]);
    }
  }

  const consumeBatch = <P>(
    name: string,
    handler: BatchHandler<P>,
    consumeOptions: ConsumeBatchOptions = {},
  ) => {
    const consumer = new MemoryConsumer(name, handler as BatchHandler, consumeOptions);
    topicOf(name).consumers.add(consumer);
    setImmediate(() => dispatch(name));
    return consumer;
  };

  return {
    kind: 'memory',
    async publish(name, messages, publishOptions = {}) {
      if (closed) throw new Error('broker is closed');
      const topic = topicOf(name);
      const dueAt = Date.now() + (publishOptions.delayMs ?? 0);
      for (const message of messages) {
        if (topic.ids.has(message.id)) continue;
        topic.ids.add(message.id);
        enqueue(topic, { message: structuredClone(message), attempt: 1, dueAt, seq: seq++ });
      }
      // Hand out on the next turn, as a network broker would, never inside the publisher's call stack.
      setImmediate(() => dispatch(name));
    },
    consume<P>(name: string, handler: Handler<P>, consumeOptions: ConsumeOptions = {}) {
      // One delivery a call: a throw retries that delivery, as the batch path does for all of a batch.
      const single: BatchHandler<P> = async ([delivery]) => handler(delivery!);
      return consumeBatch(name, single, { ...consumeOptions, maxBatch: 1 });
    },
    consumeBatch,
    async depth(name) {
      return topicOf(name).entries.length;
    },
    async ping() {
      if (closed) throw new Error('broker is closed');
    },
    async close() {
      closed = true;
      const all = [...topics.values()].flatMap((t) => {
        if (t.timer) clearTimeout(t.timer);
        return [...t.consumers];
      });
      await Promise.all(all.map((c) => c.close()));
    },
  };
}
