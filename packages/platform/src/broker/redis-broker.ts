import { Queue, UnrecoverableError, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import {
  defaultBackoff,
  retryDelay,
  type Broker,
  type BrokerMessage,
  type ConsumeOptions,
  type Consumer,
  type Delivery,
  type Handler,
} from './broker.js';

export interface RedisBrokerOptions {
  url: string;
  logger: Logger;
  /** Prefix of every Redis key, so several deployments (or test files) can share one Redis. */
  prefix?: string;
  /**
   * How often BullMQ looks for jobs whose worker died (lock expired) and hands them out again. A dead
   * worker's message waits at most about this long plus `lockDurationMs`.
   */
  stalledIntervalMs?: number;
  lockDurationMs?: number;
  /** Keep finished jobs this long so that a republished message id is still recognised. */
  keepCompletedSeconds?: number;
}

// BullMQ's own attempt limit is set out of reach: each consumer applies its own `maxAttempts`, so both
// adapters decide "give up" in the same place.
const UNLIMITED_ATTEMPTS = 2 ** 31 - 1;
const BACKOFF_TYPE = 'scoreline';

/** Redis adapter: one BullMQ queue per topic. Durable while Redis is; at-least-once across replicas. */
export function createRedisBroker(options: RedisBrokerOptions): Broker {
  const { logger } = options;
  const prefix = options.prefix ?? 'scoreline';
  // BullMQ requires maxRetriesPerRequest null: its blocking commands must wait out a reconnect.
  const connection = new Redis(options.url, { maxRetriesPerRequest: null, lazyConnect: false });
  connection.on('error', (error) => logger.warn({ err: error }, 'Redis connection error'));
  const queues = new Map<string, Queue>();
  const consumers = new Set<Consumer>();

  const queueOf = (topic: string): Queue => {
    let queue = queues.get(topic);
    if (!queue) {
      queue = new Queue(topic, {
        connection,
        prefix,
        defaultJobOptions: {
          attempts: UNLIMITED_ATTEMPTS,
          backoff: { type: BACKOFF_TYPE },
          removeOnComplete: { age: options.keepCompletedSeconds ?? 600, count: 10_000 },
          removeOnFail: { age: 7 * 24 * 3600, count: 10_000 },
        },
      });
      queue.on('error', (error) => logger.warn({ err: error, topic }, 'queue error'));
      queues.set(topic, queue);
    }
    return queue;
  };

  return {
    kind: 'redis',
    async publish(topic, messages, publishOptions = {}) {
      if (messages.length === 0) return;
      for (const m of messages) {
        // BullMQ uses ':' as its key separator and treats all-digit ids as its own counters.
        if (m.id.includes(':') || /^\d+$/.test(m.id))
          throw new Error(`message id not usable as a job id: ${m.id}`);
      }
      // addBulk is one MULTI: all of the batch is queued, in order, or none of it.
      await queueOf(topic).addBulk(
        messages.map((message) => ({
          name: message.type,
          data: message,
          opts: { jobId: message.id, delay: publishOptions.delayMs },
        })),
      );
    },

    consume<P>(topic: string, handler: Handler<P>, consumeOptions: ConsumeOptions = {}) {
      const maxAttempts = consumeOptions.maxAttempts ?? 10;
      const backoff = consumeOptions.backoff ?? defaultBackoff;
      const worker = new Worker<BrokerMessage<P>>(
        topic,
        async (job: Job<BrokerMessage<P>>) => {
          const delivery: Delivery<P> = { ...job.data, attempt: job.attemptsMade + 1, topic };
          try {
            await handler(delivery);
          } catch (error) {
            if (delivery.attempt < maxAttempts) throw error;
            try {
              await consumeOptions.onExhausted?.(delivery, error);
            } catch (hookError) {
              logger.error({ err: hookError, topic }, 'onExhausted failed');
            }
            // Kept in the failed set for inspection; never retried again.
            throw new UnrecoverableError(error instanceof Error ? error.message : String(error));
          }
        },
        {
          connection,
          prefix,
          concurrency: consumeOptions.concurrency ?? 1,
          stalledInterval: options.stalledIntervalMs ?? 30_000,
          lockDuration: options.lockDurationMs ?? 30_000,
          // A job whose worker died is handed out again however many times that happens: giving up
          // here would lose the message.
          maxStalledCount: UNLIMITED_ATTEMPTS,
          settings: {
            backoffStrategy: (attemptsMade: number, _type?: string, error?: Error) =>
              retryDelay(backoff, attemptsMade, error),
          },
        },
      );
      worker.on('error', (error) => logger.warn({ err: error, topic }, 'worker error'));
      const consumer: Consumer = {
        async close() {
          consumers.delete(consumer);
          await worker.close();
        },
      };
      consumers.add(consumer);
      return consumer;
    },

    async depth(topic) {
      const counts = await queueOf(topic).getJobCounts('wait', 'delayed', 'prioritized');
      return Object.values(counts).reduce((a, b) => a + b, 0);
    },

    async ping() {
      await connection.ping();
    },

    async close() {
      await Promise.all([...consumers].map((c) => c.close()));
      await Promise.all([...queues.values()].map((q) => q.close()));
      queues.clear();
      await connection.quit().catch(() => connection.disconnect());
    },
  };
}
