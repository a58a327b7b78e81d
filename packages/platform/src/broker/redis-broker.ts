import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type {
  BatchHandler,
  Broker,
  ConsumeBatchOptions,
  ConsumeOptions,
  Consumer,
  Handler,
} from './broker.js';
import { startStreamConsumer } from './redis-consumer.js';
import { GROUP, scripts, topicKeys } from './redis-scripts.js';

export interface RedisBrokerOptions {
  url: string;
  logger: Logger;
  /** Prefix of every Redis key, so several deployments (or test files) can share one Redis. */
  prefix?: string;
  /**
   * How often each consumer looks for entries whose consumer died (idle longer than `lockDurationMs`)
   * and takes them over. A dead consumer's message waits at most about this long plus `lockDurationMs`.
   */
  stalledIntervalMs?: number;
  /** How long an entry handed out stays its consumer's; a live consumer keeps its slow batches fresh. */
  lockDurationMs?: number;
}

/**
 * Redis adapter on Redis Streams. Durable while Redis is; at-least-once across replicas.
 *
 * Per topic, under the prefix (redis-scripts.ts has the layout and the scripts):
 * - a stream of ready entries (field `m` the message as JSON, `a` its attempt number) with one
 *   consumer group that every consumer in every replica joins, so each entry goes to one of them;
 * - a hash of the message ids queued, delayed or in flight: publish skips an id already there, which is
 *   what lets the score-maker sweeper republish a stale saga's step every few seconds under the same
 *   id without doubling it while the first copy is alive;
 * - a sorted set of delayed messages (a publish delay, a retry's backoff) scored by due time.
 *
 * publish: one script call per publish() (HSETNX per id, then XADD, or ZADD when delayed): the batch
 * is queued atomically, in order, in one round trip.
 * Consumers: each has a connection of its own for XREADGROUP … COUNT free×maxBatch BLOCK, where free
 * is its idle handler slots (`concurrency`); what comes is cut into batches of at most `maxBatch` and
 * handed out at once, never waiting for a batch to fill. `consume` is `consumeBatch` with batches of
 * one, so both share this path: a single-message consumer still reads all it has room for at once.
 * Finishing: one script call (XACK and XDEL of every entry; HDEL of the ids done or exhausted; ZADD of
 * the retried with attempt + 1, due after `retryDelay`) for all the batches that finished while the
 * previous call was out, so that many small batches share round trips too. `onExhausted` runs before.
 * Delayed messages: a script moves due ones to the stream, which wakes blocked readers. Each consumer
 * runs it on a timer set for the earliest due time it knows of (its own retries, and what the script
 * returns as the next due time), and at least every second for what others delayed, so a retry is
 * late by the timer's slack and one round trip.
 * Dead consumers: every `stalledIntervalMs` a consumer XAUTOCLAIMs entries idle for `lockDurationMs`;
 * a taken-over entry keeps its attempt number (a crash is no failed attempt). A batch still running
 * after lockDurationMs / 2 has its entries' idle time reset (only those still its own), so a slow
 * batch is not taken over. Consumer names are unique per instance; long-idle names with nothing
 * pending are forgotten.
 * Redis wiped (FLUSHALL, a restart without persistence): reads fail with NOGROUP (or UNBLOCKED), the
 * group is created again (MKSTREAM) and reading goes on; what was lost is the application's to re-drive
 * (score-maker's sweeper does it for sagas). Connection errors are logged as warnings and retried with
 * backoff, never thrown out of a consumer. Redis must not evict keys (maxmemory-policy noeviction), as
 * for any queue on Redis: an evicted stream or delayed set whose ids hash survived would have publish
 * ignore those ids for good.
 *
 * Why streams rather than BullMQ (one job per message): a job runs BullMQ's scripts to be added, moved
 * to active and locked, completed and trimmed, each its own round trip, about 38 Redis commands a
 * message counting those inside the scripts; here publishing costs two commands a message inside one
 * script call per publish, and a batch is one XREADGROUP and one finishing call whatever its size.
 * Measured when the choice was made (a benchmark since removed): 20,000 messages published 200 a
 * call, BullMQ → consume → consumeBatch of 200, ranges over three runs on a 2-core machine shared with
 * other work: Redis commands a message 38 → 2.4 → 2.0; Redis CPU a message 108–142 → 16–21 → 9–11
 * µs; the publishing and consuming process's CPU a message 149–215 → 34–56 → 17–21 µs; messages a
 * second 1.9k–4.9k → 10k–21k → 18k–41k (wall time is the noisy figure on that machine; the costs a
 * message held).
 */
export function createRedisBroker(options: RedisBrokerOptions): Broker {
  const { logger } = options;
  const prefix = options.prefix ?? 'scoreline';
  const lockDurationMs = options.lockDurationMs ?? 30_000;
  const stalledIntervalMs = options.stalledIntervalMs ?? 30_000;
  // Commands wait out a reconnect rather than fail: a publish resolves once its messages are in Redis.
  // Those issued in one tick (a batch's finish beside another's publish) share one socket write.
  const command = new Redis(options.url, {
    maxRetriesPerRequest: null,
    protocol: 2,
    enableAutoPipelining: true,
  });
  command.on('error', (error) => logger.warn({ err: error }, 'Redis connection error'));
  const consumers = new Set<Consumer>();
  let closed = false;

  const consumeBatch = <P>(
    topic: string,
    handler: BatchHandler<P>,
    consumeOptions: ConsumeBatchOptions = {},
  ) => {
    if (closed) throw new Error('broker is closed');
    const inner = startStreamConsumer(
      {
        url: options.url,
        command,
        logger,
        topic,
        keys: topicKeys(prefix, topic),
        lockDurationMs,
        stalledIntervalMs,
      },
      handler as BatchHandler,
      consumeOptions,
    );
    const consumer: Consumer = {
      async close() {
        consumers.delete(consumer);
        await inner.close();
      },
    };
    consumers.add(consumer);
    return consumer;
  };

  return {
    kind: 'redis',
    async publish(topic, messages, publishOptions = {}) {
      if (messages.length === 0) return;
      const args: (string | number)[] = [Math.max(0, Math.round(publishOptions.delayMs ?? 0))];
      for (const message of messages) {
        if (typeof message.id !== 'string' || message.id === '')
          throw new Error('message id must be a non-empty string');
        args.push(message.id, JSON.stringify(message));
      }
      const keys = topicKeys(prefix, topic);
      await scripts.publish(command, [keys.stream, keys.ids, keys.delayed], args);
    },

    consume<P>(topic: string, handler: Handler<P>, consumeOptions: ConsumeOptions = {}) {
      // One delivery a call: a throw retries that delivery, as the batch path does for all of a batch.
      const single: BatchHandler<P> = async ([delivery]) => handler(delivery!);
      return consumeBatch(topic, single, { ...consumeOptions, maxBatch: 1 });
    },

    consumeBatch,

    async depth(topic) {
      const keys = topicKeys(prefix, topic);
      return Number(await scripts.depth(command, [keys.stream, keys.delayed], [GROUP]));
    },

    async ping() {
      await command.ping();
    },

    async close() {
      closed = true;
      await Promise.all([...consumers].map((c) => c.close()));
      await command.quit().catch(() => command.disconnect());
    },
  };
}
