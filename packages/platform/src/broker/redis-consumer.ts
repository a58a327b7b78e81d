import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import {
  defaultBackoff,
  retryDelay,
  type BackoffPolicy,
  type BatchHandler,
  type BrokerMessage,
  type ConsumeBatchOptions,
  type Consumer,
  type Delivery,
} from './broker.js';
import { GROUP, scripts, type TopicKeys } from './redis-scripts.js';
import {
  createFinisher,
  startPromoter,
  startRefresher,
  type Finish,
  type Promoter,
  type Retry,
  type Running,
} from './redis-consumer-upkeep.js';

/** How long one read blocks when nothing comes (new entries, including promoted ones, end it early). */
const BLOCK_MS = 5_000;
/** Every this many looks for stalled entries, forget consumers long gone. */
const PRUNE_EVERY = 20;

export interface StreamConsumerSettings {
  url: string;
  /** The broker's connection for everything that does not block. */
  command: Redis;
  logger: Logger;
  topic: string;
  keys: TopicKeys;
  lockDurationMs: number;
  stalledIntervalMs: number;
}

type StreamEntry = [id: string, fields: string[] | null];

/** The consumer's options, with their defaults. */
interface Limits {
  concurrency: number;
  maxBatch: number;
  maxAttempts: number;
  backoff: BackoffPolicy;
}

/** The read loop's own state, which close() works on too. */
interface Reader {
  /** A connection of its own: XREADGROUP blocks it. */
  blocking: Redis;
  /** Its id lets close() end a blocked read at once; it changes with every reconnect. */
  clientId: number | undefined;
  closing: boolean;
  /** An XREADGROUP is on its way. */
  reading: boolean;
  /** What the read loop waits on, when it waits: a free slot, or the end of a backoff. close() calls it. */
  wake: (() => void) | undefined;
  waitingForSlot: boolean;
  claimCursor: string;
  claims: number;
  nextClaimAt: number;
}

/** One consumer's parts, which the functions below share. */
interface StreamConsumer {
  settings: StreamConsumerSettings;
  handler: BatchHandler;
  options: ConsumeBatchOptions;
  limits: Limits;
  /** The consumer's name in the group: unique to this process and consumer. */
  name: string;
  reader: Reader;
  /** Handler calls on their way: at most `concurrency`. */
  inFlight: Set<Promise<void>>;
  /** Their entries, kept fresh while they run long. */
  running: Set<Running>;
  finish: Finish;
  promoter: Promoter;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

const errorText = (error: unknown) => (error instanceof Error ? error.message : String(error));

/**
 * One consumer of one topic: a read loop on a connection of its own (XREADGROUP blocks it), up to
 * `concurrency` handler calls at once, finishes coalesced into one script call while another is on its
 * way, a timer that promotes due delayed messages, and a ticker that keeps slow batches' entries fresh.
 */
export function startStreamConsumer(
  settings: StreamConsumerSettings,
  handler: BatchHandler,
  options: ConsumeBatchOptions,
): Consumer {
  const consumer: StreamConsumer = {
    settings,
    handler,
    options,
    limits: limitsOf(options),
    name: `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`,
    reader: openReader(settings),
    inFlight: new Set(),
    running: new Set(),
    finish: createFinisher(settings),
    promoter: startPromoter(settings),
  };
  const stopRefreshing = startRefresher(settings, consumer.name, consumer.running);
  const looping = readLoop(consumer);
  consumer.promoter.arm(0);
  return { close: () => stop(consumer, looping, stopRefreshing) };
}

function limitsOf(options: ConsumeBatchOptions): Limits {
  return {
    concurrency: Math.max(1, options.concurrency ?? 1),
    maxBatch: Math.max(1, options.maxBatch ?? 1),
    maxAttempts: options.maxAttempts ?? 10,
    backoff: options.backoff ?? defaultBackoff,
  };
}

function openReader({ url, logger, topic, stalledIntervalMs }: StreamConsumerSettings): Reader {
  const blocking = new Redis(url, { maxRetriesPerRequest: null, protocol: 2 });
  blocking.on('error', (error) => logger.warn({ err: error, topic }, 'Redis connection error (consumer)'));
  const reader: Reader = {
    blocking,
    clientId: undefined,
    closing: false,
    reading: false,
    wake: undefined,
    waitingForSlot: false,
    claimCursor: '0-0',
    claims: 0,
    nextClaimAt: Date.now() + stalledIntervalMs,
  };
  blocking.on('close', () => (reader.clientId = undefined));
  return reader;
}

/** Waits for a free slot (no `ms`), or for `ms`; either ends early when close() calls `wake`. */
function pause(reader: Reader, ms?: number): Promise<void> {
  return new Promise<void>((resolve) => {
    reader.waitingForSlot = ms === undefined;
    const timer = ms === undefined ? undefined : setTimeout(() => reader.wake?.(), ms);
    reader.wake = () => {
      clearTimeout(timer);
      reader.wake = undefined;
      resolve();
    };
  });
}

// ---- the read loop ----

/** Reads until close(): new entries while slots are free, and now and then the stalled entries of the dead. */
async function readLoop(consumer: StreamConsumer): Promise<void> {
  const { reader, settings, limits } = consumer;
  const { logger, topic } = settings;
  let failures = 0;
  let groupChecked = false;
  while (!reader.closing) {
    const free = limits.concurrency - consumer.inFlight.size;
    if (free <= 0) {
      await pause(reader);
      continue;
    }
    try {
      if (!groupChecked) {
        await ensureGroup(reader, settings.keys);
        groupChecked = true;
      }
      reader.clientId ??= Number(await reader.blocking.client('ID'));
      if (Date.now() >= reader.nextClaimAt) {
        await claimStalled(consumer, free);
        continue;
      }
      if (reader.closing) break;
      const entries = await readNew(consumer, free);
      failures = 0;
      if (entries) dispatch(consumer, entries);
    } catch (error) {
      reader.reading = false;
      if (reader.closing) break;
      failures++;
      const text = errorText(error);
      if (text.startsWith('NOGROUP') || text.startsWith('UNBLOCKED')) {
        // Redis lost the stream (FLUSHALL, a restart without persistence): start it again, empty.
        logger.warn({ topic }, 'stream or consumer group missing (Redis wiped?); creating them again');
        groupChecked = false;
        if (failures === 1) continue;
      } else {
        logger.warn({ err: error, topic }, 'reading the stream failed; trying again');
      }
      await pause(reader, Math.min(5_000, 100 * 2 ** Math.min(failures, 6)));
    }
  }
}

async function ensureGroup(reader: Reader, keys: TopicKeys): Promise<void> {
  try {
    await reader.blocking.xgroup('CREATE', keys.stream, GROUP, '0', 'MKSTREAM');
  } catch (error) {
    if (!errorText(error).startsWith('BUSYGROUP')) throw error;
  }
}

/** Waits for new entries, as many as the free slots take, until the next look for stalled ones at most. */
async function readNew(
  { reader, settings, limits, name }: StreamConsumer,
  free: number,
): Promise<StreamEntry[] | undefined> {
  reader.reading = true;
  const block = Math.max(1, Math.min(BLOCK_MS, reader.nextClaimAt - Date.now()));
  const reply = await reader.blocking.xreadgroup(
    'GROUP',
    GROUP,
    name,
    'COUNT',
    free * limits.maxBatch,
    'BLOCK',
    block,
    'STREAMS',
    settings.keys.stream,
    '>',
  );
  reader.reading = false;
  return reply?.[0]?.[1];
}

/** Takes over entries idle for lockDurationMs: their consumer died (a slow live one refreshes them). */
async function claimStalled(consumer: StreamConsumer, free: number): Promise<void> {
  const { reader, name, limits } = consumer;
  const { keys, logger, topic, lockDurationMs, stalledIntervalMs } = consumer.settings;
  reader.nextClaimAt = Date.now() + stalledIntervalMs;
  if (++reader.claims % PRUNE_EVERY === 0) {
    const idleMs = Math.max(10 * lockDurationMs, 10 * BLOCK_MS, 60_000);
    await scripts.prune(reader.blocking, [keys.stream], [GROUP, idleMs]);
  }
  const [cursor, entries] = (await reader.blocking.xautoclaim(
    keys.stream,
    GROUP,
    name,
    lockDurationMs,
    reader.claimCursor,
    'COUNT',
    free * limits.maxBatch,
  )) as [string, StreamEntry[]];
  reader.claimCursor = cursor;
  const live = entries.filter(([, fields]) => fields !== null);
  if (live.length > 0) {
    logger.info({ topic, count: live.length }, 'took over deliveries of a consumer that stopped');
    dispatch(consumer, live);
  }
}

// ---- handling a batch ----

function dispatch(consumer: StreamConsumer, entries: StreamEntry[]): void {
  const { maxBatch } = consumer.limits;
  for (let i = 0; i < entries.length; i += maxBatch) runBatch(consumer, entries.slice(i, i + maxBatch));
}

/** Starts one handler call for these entries, and finishes them when it ends; a free slot wakes the loop. */
function runBatch(consumer: StreamConsumer, entries: StreamEntry[]): void {
  const { reader, inFlight, running } = consumer;
  const read = readEntries(entries, consumer.settings);
  const batch: Running = { entryIds: entries.map(([id]) => id), since: Date.now() };
  running.add(batch);
  const task = (async () => {
    const failed = await callHandler(consumer.handler, read.deliveries);
    const { done, doneIds, retry } = await settle(consumer, read, failed);
    await consumer.finish(done, doneIds, retry);
    if (retry.length > 0) consumer.promoter.arm(Math.min(...retry.map((r) => r.delayMs)));
  })();
  inFlight.add(task);
  void task.finally(() => {
    inFlight.delete(task);
    running.delete(batch);
    if (reader.waitingForSlot) reader.wake?.();
  });
}

/** A batch's entries as deliveries, each beside its entry; unreadable entries are only to be acknowledged. */
interface ReadEntries {
  deliveries: Delivery[];
  parsed: { entryId: string; attempt: number; body: string }[];
  unreadable: string[];
}

function readEntries(entries: StreamEntry[], { logger, topic }: StreamConsumerSettings): ReadEntries {
  const read: ReadEntries = { deliveries: [], parsed: [], unreadable: [] };
  for (const [entryId, fields] of entries) {
    const body = entryField(fields, 'm');
    const attempt = Number(entryField(fields, 'a'));
    try {
      if (body === undefined || !(attempt >= 1)) throw new Error('missing fields');
      const message = JSON.parse(body) as BrokerMessage;
      read.deliveries.push({ ...message, attempt, topic });
      read.parsed.push({ entryId, attempt, body });
    } catch (error) {
      logger.error({ err: error, topic, entryId }, 'unreadable stream entry dropped');
      read.unreadable.push(entryId);
    }
  }
  return read;
}

function entryField(fields: string[] | null, key: string): string | undefined {
  const at = fields?.indexOf(key) ?? -1;
  return at >= 0 && at % 2 === 0 ? fields?.[at + 1] : undefined;
}

type Failed = (delivery: Delivery) => { error: unknown } | undefined;

/** Hands the deliveries to the handler; says which failed, and with what error (a throw fails them all). */
async function callHandler(handler: BatchHandler, deliveries: Delivery[]): Promise<Failed> {
  if (deliveries.length === 0) return () => undefined;
  try {
    const outcome = await handler(deliveries);
    const retry = outcome?.retry;
    return (d) => (retry?.has(d.id) ? { error: retry.get(d.id) } : undefined);
  } catch (error) {
    return () => ({ error });
  }
}

/** Sorts a handled batch: a failure is retried at its next attempt, or is exhausted and done; the rest is done. */
async function settle({ limits, options, settings }: StreamConsumer, read: ReadEntries, failed: Failed) {
  const done = [...read.unreadable];
  const doneIds: string[] = [];
  const retry: Retry[] = [];
  for (const [i, delivery] of read.deliveries.entries()) {
    const { entryId, attempt, body } = read.parsed[i]!;
    const failure = failed(delivery);
    if (failure && attempt < limits.maxAttempts) {
      const delayMs = retryDelay(limits.backoff, attempt, failure.error);
      retry.push({ entryId, messageId: delivery.id, delayMs, attempt: attempt + 1, body });
      continue;
    }
    if (failure) {
      try {
        await options.onExhausted?.(delivery, failure.error);
      } catch (hookError) {
        settings.logger.error({ err: hookError, topic: settings.topic }, 'onExhausted failed');
      }
    }
    done.push(entryId);
    doneIds.push(delivery.id);
  }
  return { done, doneIds, retry };
}

// ---- stopping ----

/** Stops reading, waits for the handler calls on their way and their finishes, then closes the connection. */
async function stop(
  consumer: StreamConsumer,
  looping: Promise<void>,
  stopRefreshing: () => void,
): Promise<void> {
  const { reader } = consumer;
  if (reader.closing) return;
  reader.closing = true;
  reader.wake?.();
  consumer.promoter.stop();
  if (reader.reading) await endBlockedRead(consumer.settings.command, reader, looping);
  await looping;
  await Promise.allSettled([...consumer.inFlight]);
  stopRefreshing();
  await reader.blocking.quit().catch(() => reader.blocking.disconnect());
}

/** Ends the blocked read now rather than after its timeout; cuts the connection if that fails. */
async function endBlockedRead(command: Redis, reader: Reader, looping: Promise<void>): Promise<void> {
  if (reader.clientId !== undefined) await command.client('UNBLOCK', reader.clientId).catch(() => undefined);
  const ended = await Promise.race([looping.then(() => true), sleep(500).then(() => false)]);
  if (!ended) reader.blocking.disconnect();
}
