/**
 * The broker carries commands and events between processes: at-least-once, never fire-and-forget.
 * Two adapters implement it with the same semantics (one contract test suite runs against both):
 * Redis Streams for real deployments (redis-broker.ts says how and why), and an in-process one for the
 * one-process quick start.
 *
 * Semantics every adapter keeps:
 * - a message is handed to one consumer of its topic at a time; consumers of one topic (in one process
 *   or many) share the work;
 * - a handler that throws gets the message again later, with exponential backoff and jitter, or after
 *   exactly `RetryLater.delayMs`; `attempt` counts deliveries from 1;
 * - after `maxAttempts` failed deliveries the message goes to `onExhausted` and is dropped from the
 *   queue, so give a large `maxAttempts` to whatever must never be dropped;
 * - a message published again with the id of one still queued or in flight is not queued twice;
 * - a message may still arrive twice (a crash after the handler's effect, a republish after the first
 *   copy finished): handlers must be idempotent;
 * - `consumeBatch` hands several deliveries to one handler call; each keeps all of the above on its
 *   own (its attempt number, its retry and backoff, its `onExhausted`), and a consumer that dies
 *   mid-batch has the whole batch handed out again, with the same attempt numbers.
 */
export interface BrokerMessage<P = unknown> {
  /** Unique id; the dedup key for publishing and for consumers' inbox tables. */
  id: string;
  type: string;
  /** What the message is about (event id, score id …); the outbox keeps order per key. */
  key: string;
  payload: P;
  /** ISO-8601 time the message was created at its source. */
  createdAt: string;
  /** W3C trace context of the request that wrote the message (its outbox row's), when it was traced. */
  traceparent?: string;
}

export interface Delivery<P = unknown> extends BrokerMessage<P> {
  /** 1 on the first delivery, 2 on the first retry … */
  attempt: number;
  topic: string;
}

export interface PublishOptions {
  /** Deliver no earlier than this many milliseconds from now. */
  delayMs?: number;
}

export interface BackoffPolicy {
  /** Delay before the first retry. */
  initialMs: number;
  /** The delay never grows past this. */
  maxMs: number;
  /** Growth per attempt (2 doubles). */
  factor?: number;
  /** Spread each delay uniformly over [delay/2, delay] so that retries of a burst do not align. */
  jitter?: boolean;
}

export interface ConsumeOptions {
  /** Messages handled at once by this consumer. */
  concurrency?: number;
  maxAttempts?: number;
  backoff?: BackoffPolicy;
  /** Called once when a message failed `maxAttempts` times, before it is dropped. */
  onExhausted?: (delivery: Delivery, error: unknown) => Promise<void> | void;
}

export type Handler<P = unknown> = (delivery: Delivery<P>) => Promise<void>;

/** What a batch handler reports about the deliveries it was handed. */
export interface BatchOutcome {
  /**
   * Deliveries to try again, by message id, each with its error: each is retried (or handed to
   * `onExhausted`) exactly as if a single-message handler had thrown that error for it, by its own
   * attempt count. Every delivery not named here is done.
   */
  retry?: ReadonlyMap<string, unknown>;
}

/**
 * Handles many deliveries at once. Throwing counts as a failed attempt for every delivery of the batch;
 * a handler that can tell which items failed returns them in `retry` instead, so one bad item never
 * holds back the rest.
 */
export type BatchHandler<P = unknown> = (deliveries: readonly Delivery<P>[]) => Promise<BatchOutcome | void>;

export interface ConsumeBatchOptions extends ConsumeOptions {
  /**
   * Most deliveries per handler call. A batch is whatever is waiting when the consumer asks, up to this:
   * the consumer never waits for a batch to fill, so latency at low load is that of single messages.
   * `concurrency` counts batches handled at once.
   */
  maxBatch?: number;
}

export interface Consumer {
  /** Stops taking messages and waits for those in flight to finish. */
  close(): Promise<void>;
}

export interface Broker {
  readonly kind: 'redis' | 'memory';
  /** Publishes in order; resolves once every message is durably queued (for Redis: in Redis). */
  publish(topic: string, messages: readonly BrokerMessage[], options?: PublishOptions): Promise<void>;
  consume<P = unknown>(topic: string, handler: Handler<P>, options?: ConsumeOptions): Consumer;
  /** Like `consume`, many deliveries per handler call; the two may not be mixed on one topic. */
  consumeBatch<P = unknown>(topic: string, handler: BatchHandler<P>, options?: ConsumeBatchOptions): Consumer;
  /** Messages waiting or delayed on a topic (not counting those in flight). */
  depth(topic: string): Promise<number>;
  ping(): Promise<void>;
  /** Closes every consumer (waiting for in-flight handlers) and the connections. */
  close(): Promise<void>;
}

/** Throw from a handler to be retried after exactly `delayMs` (counts as a failed attempt). */
export class RetryLater extends Error {
  override readonly name = 'RetryLater';
  constructor(
    readonly delayMs: number,
    message = `retry in ${delayMs} ms`,
  ) {
    super(message);
  }
}

export const defaultBackoff: BackoffPolicy = { initialMs: 100, maxMs: 30_000, factor: 2, jitter: true };

/** The delay before delivery number `attempt + 1`, after `attempt` failed deliveries. */
export function retryDelay(
  policy: BackoffPolicy,
  attempt: number,
  error: unknown,
  random = Math.random,
): number {
  if (error instanceof RetryLater) return Math.max(0, error.delayMs);
  const raw = Math.min(policy.maxMs, policy.initialMs * (policy.factor ?? 2) ** Math.max(0, attempt - 1));
  return policy.jitter === false ? raw : Math.round(raw / 2 + (raw / 2) * random());
}
