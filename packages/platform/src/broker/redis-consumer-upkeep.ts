import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { GROUP, scripts, type TopicKeys } from './redis-scripts.js';

/*
 * What a stream consumer (redis-consumer.ts) keeps going beside its read loop, each part one script of
 * redis-scripts.ts on the broker's connection: finishing handled batches, promoting due delayed
 * messages, and keeping slow batches' entries fresh.
 */

/** How often a consumer looks for delayed messages it was not told about (another replica's). */
const DELAYED_POLL_MS = 1_000;
/** Most delayed messages promoted by one script call. */
const PROMOTE_LIMIT = 1_000;
/** Most entries acknowledged by one script call, when the finishes of several batches are coalesced. */
const FINISH_LIMIT = 2_000;

/** A topic's keys, the connection their scripts run on, and where failures are told. */
export interface TopicScripts {
  command: Redis;
  keys: TopicKeys;
  logger: Logger;
  topic: string;
}

/** A delivery to hand out again after `delayMs`, as attempt number `attempt`. */
export interface Retry {
  entryId: string;
  messageId: string;
  delayMs: number;
  attempt: number;
  body: string;
}

/** A batch being handled. */
export interface Running {
  entryIds: string[];
  /** When the entries were read or last refreshed. */
  since: number;
}

// ---- finishing: one script call for every batch that finished while the previous call was out ----

/** Acknowledges `done` (and forgets `doneIds` for publish dedup), and schedules `retry`. */
export type Finish = (done: string[], doneIds: string[], retry: Retry[]) => Promise<void>;

interface Finishing {
  done: string[];
  doneIds: string[];
  retry: Retry[];
  resolve: () => void;
}

export function createFinisher(settings: TopicScripts): Finish {
  const queue: Finishing[] = [];
  let flushing = false;
  const flush = async () => {
    flushing = true;
    while (queue.length > 0) await finishTogether(settings, takeFinishing(queue));
    flushing = false;
  };
  return (done, doneIds, retry) =>
    new Promise<void>((resolve) => {
      queue.push({ done, doneIds, retry, resolve });
      if (!flushing) void flush();
    });
}

/** Takes the queue's first batches: at least one, and more while they come to fewer than FINISH_LIMIT entries. */
function takeFinishing(queue: Finishing[]): Finishing[] {
  let size = 0;
  let take = 0;
  while (take < queue.length && (take === 0 || size < FINISH_LIMIT)) {
    const item = queue[take++]!;
    size += item.done.length + item.retry.length;
  }
  return queue.splice(0, take);
}

async function finishTogether({ command, keys, logger, topic }: TopicScripts, items: Finishing[]) {
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

// ---- delayed messages: promoted when due by whichever consumer's timer fires first ----

export interface Promoter {
  /** Promotes due messages in `delayMs`, unless a promotion is due sooner already. */
  arm(delayMs: number): void;
  /** Promotes no more: arm() does nothing from now on. */
  stop(): void;
}

export function startPromoter({ command, keys, logger, topic }: TopicScripts): Promoter {
  let timer: NodeJS.Timeout | undefined;
  let at = Infinity;
  let stopped = false;
  const arm = (delayMs: number) => {
    if (stopped) return;
    const due = Date.now() + delayMs;
    if (timer && at <= due) return;
    clearTimeout(timer);
    at = due;
    timer = setTimeout(() => void promote(), Math.max(0, delayMs));
  };
  const promote = async () => {
    timer = undefined;
    at = Infinity;
    let next = DELAYED_POLL_MS;
    try {
      const untilNext = Number(await scripts.promote(command, [keys.stream, keys.delayed], [PROMOTE_LIMIT]));
      if (untilNext >= 0) next = Math.min(untilNext, DELAYED_POLL_MS);
    } catch (error) {
      logger.warn({ err: error, topic }, 'promoting delayed messages failed');
    }
    arm(next);
  };
  return {
    arm,
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

// ---- slow batches: their entries' idle time is reset so that no other consumer takes them over ----

/** Refreshes, as consumer `name`, the entries of `running` batches older than half the lock; returns its stop. */
export function startRefresher(
  settings: TopicScripts & { lockDurationMs: number },
  name: string,
  running: Set<Running>,
): () => void {
  const ticker = setInterval(
    () => refreshSlowBatches(settings, name, running),
    Math.max(25, settings.lockDurationMs / 4),
  );
  return () => clearInterval(ticker);
}

function refreshSlowBatches(
  { command, keys, logger, topic, lockDurationMs }: TopicScripts & { lockDurationMs: number },
  name: string,
  running: Set<Running>,
): void {
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
}
