import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import {
  defaultBackoff,
  retryDelay,
  type BatchHandler,
  type BrokerMessage,
  type ConsumeBatchOptions,
  type Consumer,
  type Delivery,
} from './broker.js';
import { GROUP, scripts, type TopicKeys } from './redis-scripts.js';

/** How long one read blocks when nothing comes (new entries, including promoted ones, end it early). */
const BLOCK_MS = 5_000;
/** How often a consumer looks for delayed messages it was not told about (another replica's). */
const DELAYED_POLL_MS = 1_000;
/** Most delayed messages promoted by one script call. */
const PROMOTE_LIMIT = 1_000;
/** Most entries acknowledged by one script call, when the finishes of several batches are coalesced. */
const FINISH_LIMIT = 2_000;
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

interface Retry {
  entryId: string;
  messageId: string;
  delayMs: number;
  attempt: number;
  body: string;
}

interface Running {
  entryIds: string[];
  /** When the entries were read or last refreshed. */
  since: number;
}

type StreamEntry = [id: string, fields: string[] | null];

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
  const { command, logger, topic, keys, lockDurationMs, stalledIntervalMs } = settings;
  const concurrency = Math.max(1, options.concurrency ?? 1);
  const maxBatch = Math.max(1, options.maxBatch ?? 1);
  const maxAttempts = options.maxAttempts ?? 10;
  const backoff = options.backoff ?? defaultBackoff;
  const name = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;

  const blocking = new Redis(settings.url, { maxRetriesPerRequest: null, protocol: 2 });
  blocking.on('error', (error) => logger.warn({ err: error, topic }, 'Redis connection error (consumer)'));
  // Its id lets close() end a blocked read at once; it changes with every reconnect.
  let clientId: number | undefined;
  blocking.on('close', () => (clientId = undefined));

  const inFlight = new Set<Promise<void>>();
  const running = new Set<Running>();
  let closing = false;
  let reading = false;
  // What the read loop waits on, when it waits: a free slot, or the end of a backoff. close() calls it.
  let wake: (() => void) | undefined;
  let waitingForSlot = false;
  const pause = (ms?: number) =>
    new Promise<void>((resolve) => {
      waitingForSlot = ms === undefined;
      const timer = ms === undefined ? undefined : setTimeout(() => wake?.(), ms);
      wake = () => {
        clearTimeout(timer);
        wake = undefined;
        resolve();
      };
    });

  // ---- finishing: one script call for every batch that finished while the previous call was out ----
  const finishQueue: { done: string[]; doneIds: string[]; retry: Retry[]; resolve: () => void }[] = [];
  let flushing = false;
  const flush = async () => {
    flushing = true;
    while (finishQueue.length > 0) {
      let size = 0;
      let take = 0;
      while (take < finishQueue.length && (take === 0 || size < FINISH_LIMIT)) {
        const item = finishQueue[take++]!;
        size += item.done.length + item.retry.length;
      }
      const items = finishQueue.splice(0, take);
      const done = items.flatMap((i) => i.done);
      const doneIds = items.flatMap((i) => i.doneIds);
      const retry = items.flatMap((i) => i.retry);
      const args: (string | number)[] = [GROUP, done.length, ...done, doneIds.length, ...doneIds];
      for (const r of retry) args.push(r.entryId, r.messageId, r.delayMs, r.attempt, r.body);
      try {
        await scripts.finish(command, [keys.stream, keys.ids, keys.delayed], args);
      } catch (error) {
        // Still pending: handed out again once idle for lockDurationMs, so nothing is lost.
        logger.warn({ err: error, topic }, 'finishing deliveries failed; they will be handed out again');
      }
      for (const item of items) item.resolve();
    }
    flushing = false;
  };
  const finish = (done: string[], doneIds: string[], retry: Retry[]) =>
    new Promise<void>((resolve) => {
      finishQueue.push({ done, doneIds, retry, resolve });
      if (!flushing) void flush();
    });

  // ---- delayed messages: promoted when due by whichever consumer's timer fires first ----
  let promoteTimer: NodeJS.Timeout | undefined;
  let promoteAt = Infinity;
  const armPromote = (delayMs: number) => {
    if (closing) return;
    const at = Date.now() + delayMs;
    if (promoteTimer && promoteAt <= at) return;
    clearTimeout(promoteTimer);
    promoteAt = at;
    promoteTimer = setTimeout(() => void promote(), Math.max(0, delayMs));
  };
  const promote = async () => {
    promoteTimer = undefined;
    promoteAt = Infinity;
    let next = DELAYED_POLL_MS;
    try {
      const untilNext = Number(await scripts.promote(command, [keys.stream, keys.delayed], [PROMOTE_LIMIT]));
      if (untilNext >= 0) next = Math.min(untilNext, DELAYED_POLL_MS);
    } catch (error) {
      logger.warn({ err: error, topic }, 'promoting delayed messages failed');
    }
    armPromote(next);
  };

  // ---- slow batches: their entries' idle time is reset so that no other consumer takes them over ----
  const refreshTicker = setInterval(
    () => {
      const now = Date.now();
      const ids: string[] = [];
      for (const batch of running) {
        if (now - batch.since < lockDurationMs / 2) continue;
        batch.since = now;
        ids.push(...batch.entryIds);
      }
      if (ids.length === 0) return;
      scripts.refresh(command, [keys.stream], [GROUP, name, ...ids]).catch((error: unknown) => {
        logger.warn({ err: error, topic }, 'refreshing slow deliveries failed');
      });
    },
    Math.max(25, lockDurationMs / 4),
  );

  // ---- handling a batch ----
  const runBatch = (entries: StreamEntry[]) => {
    const deliveries: Delivery[] = [];
    const parsed: { entryId: string; attempt: number; body: string }[] = [];
    const unreadable: string[] = [];
    for (const [entryId, fields] of entries) {
      const field = (key: string) => {
        const at = fields?.indexOf(key) ?? -1;
        return at >= 0 && at % 2 === 0 ? fields?.[at + 1] : undefined;
      };
      const body = field('m');
      const attempt = Number(field('a'));
      try {
        if (body === undefined || !(attempt >= 1)) throw new Error('missing fields');
        const message = JSON.parse(body) as BrokerMessage;
        deliveries.push({ ...message, attempt, topic });
        parsed.push({ entryId, attempt, body });
      } catch (error) {
        logger.error({ err: error, topic, entryId }, 'unreadable stream entry dropped');
        unreadable.push(entryId);
      }
    }
    const batch: Running = { entryIds: entries.map(([id]) => id), since: Date.now() };
    running.add(batch);
    const task = (async () => {
      let failed: (delivery: Delivery) => { error: unknown } | undefined = () => undefined;
      if (deliveries.length > 0) {
        try {
          const outcome = await handler(deliveries);
          const retry = outcome?.retry;
          failed = (d) => (retry?.has(d.id) ? { error: retry.get(d.id) } : undefined);
        } catch (error) {
          failed = () => ({ error });
        }
      }
      const done = [...unreadable];
      const doneIds: string[] = [];
      const retry: Retry[] = [];
      for (const [i, delivery] of deliveries.entries()) {
        const { entryId, attempt, body } = parsed[i]!;
        const failure = failed(delivery);
        if (failure && attempt < maxAttempts) {
          const delayMs = retryDelay(backoff, attempt, failure.error);
          retry.push({ entryId, messageId: delivery.id, delayMs, attempt: attempt + 1, body });
          continue;
        }
        if (failure) {
          try {
            await options.onExhausted?.(delivery, failure.error);
          } catch (hookError) {
            logger.error({ err: hookError, topic }, 'onExhausted failed');
          }
        }
        done.push(entryId);
        doneIds.push(delivery.id);
      }
      await finish(done, doneIds, retry);
      if (retry.length > 0) armPromote(Math.min(...retry.map((r) => r.delayMs)));
    })();
    inFlight.add(task);
    void task.finally(() => {
      inFlight.delete(task);
      running.delete(batch);
      if (waitingForSlot) wake?.();
    });
  };

  const dispatch = (entries: StreamEntry[]) => {
    for (let i = 0; i < entries.length; i += maxBatch) runBatch(entries.slice(i, i + maxBatch));
  };

  // ---- the read loop ----
  const ensureGroup = async () => {
    try {
      await blocking.xgroup('CREATE', keys.stream, GROUP, '0', 'MKSTREAM');
    } catch (error) {
      if (!errorText(error).startsWith('BUSYGROUP')) throw error;
    }
  };
  let claimCursor = '0-0';
  let claims = 0;
  let nextClaimAt = Date.now() + stalledIntervalMs;
  /** Takes over entries idle for lockDurationMs: their consumer died (a slow live one refreshes them). */
  const claimStalled = async (free: number) => {
    nextClaimAt = Date.now() + stalledIntervalMs;
    if (++claims % PRUNE_EVERY === 0) {
      const idleMs = Math.max(10 * lockDurationMs, 10 * BLOCK_MS, 60_000);
      await scripts.prune(blocking, [keys.stream], [GROUP, idleMs]);
    }
    const [cursor, entries] = (await blocking.xautoclaim(
      keys.stream,
      GROUP,
      name,
      lockDurationMs,
      claimCursor,
      'COUNT',
      free * maxBatch,
    )) as [string, StreamEntry[]];
    claimCursor = cursor;
    const live = entries.filter(([, fields]) => fields !== null);
    if (live.length > 0) {
      logger.info({ topic, count: live.length }, 'took over deliveries of a consumer that stopped');
      dispatch(live);
    }
  };

  const loop = async () => {
    let failures = 0;
    let groupChecked = false;
    while (!closing) {
      const free = concurrency - inFlight.size;
      if (free <= 0) {
        await pause();
        continue;
      }
      try {
        if (!groupChecked) {
          await ensureGroup();
          groupChecked = true;
        }
        clientId ??= Number(await blocking.client('ID'));
        if (Date.now() >= nextClaimAt) {
          await claimStalled(free);
          continue;
        }
        if (closing) break;
        reading = true;
        const block = Math.max(1, Math.min(BLOCK_MS, nextClaimAt - Date.now()));
        const reply = await blocking.xreadgroup(
          'GROUP',
          GROUP,
          name,
          'COUNT',
          free * maxBatch,
          'BLOCK',
          block,
          'STREAMS',
          keys.stream,
          '>',
        );
        reading = false;
        failures = 0;
        if (reply?.[0]) dispatch(reply[0][1]);
      } catch (error) {
        reading = false;
        if (closing) break;
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
        await pause(Math.min(5_000, 100 * 2 ** Math.min(failures, 6)));
      }
    }
  };

  const looping = loop();
  armPromote(0);

  return {
    async close() {
      if (closing) return;
      closing = true;
      wake?.();
      clearTimeout(promoteTimer);
      if (reading) {
        // End the blocked read now rather than after its timeout; cut the connection if that fails.
        if (clientId !== undefined) await command.client('UNBLOCK', clientId).catch(() => undefined);
        const ended = await Promise.race([looping.then(() => true), sleep(500).then(() => false)]);
        if (!ended) blocking.disconnect();
      }
      await looping;
      await Promise.allSettled([...inFlight]);
      clearInterval(refreshTicker);
      await blocking.quit().catch(() => blocking.disconnect());
    },
  };
}
