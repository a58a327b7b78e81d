import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { Database, Logger } from '@scoreline/platform';
import type { ScoreRepository } from '../../data-access/score-repository.js';
import type { EventView } from '../../domain/event-view.js';
import type { Score } from '../../domain/score.js';
import { eventBody, scoreBody } from './views.js';

/** How far back a resumed scores stream reads, before its Last-Event-ID: commits land out of order. */
export const RESUME_MARGIN_MS = 5_000;
/** The most scores a resumed scores stream replays; a client that missed more reloads its list. */
const RESUME_LIMIT = 500;
/** Event changes kept for resuming the events stream. */
const RING_SIZE = 512;
/** Unsent bytes one stream may hold before it is dropped. */
const MAX_BUFFERED_BYTES = 1024 * 1024;

export interface LiveUpdatesDeps {
  db: Database;
  scores: Pick<ScoreRepository, 'changedFor' | 'ofEventsFor' | 'changedSince'>;
  /** An event as the API serves it (through the process's events cache). */
  loadEvent: (id: number) => Promise<EventView | null>;
  logger: Logger;
  /** Open streams at most in this process; more answer 503. */
  maxConnections: number;
  /** A comment line this often keeps proxies from closing an idle stream. */
  heartbeatMs: number;
  /** Event changes are gathered this long and read once per event. Default 50. */
  coalesceMs?: number;
}

interface Stream {
  res: ServerResponse;
  heartbeat: NodeJS.Timeout;
  /** The user whose scores it follows, or undefined for the events stream. */
  userId?: string;
}

/** One Server-Sent Events message: `id`, `event` and one `data` line of JSON. */
export function sseMessage(event: string, data: unknown, id?: string): string {
  return `${id === undefined ? '' : `id: ${id}\n`}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

/**
 * Live updates as Server-Sent Events (GET /me/scores/stream, GET /events/stream), fed by what this
 * process already hears, never by a query per client:
 *
 * - settlements: the NOTIFY that wakes `Prefer: wait` (the settled score ids) is passed to `settled()`,
 *   which reads those of the ids that belong to a connected user in one query and writes each to that
 *   user's streams;
 * - event changes: the events cache's invalidations (EventChanged, through Redis pub/sub on every API
 *   process) are passed to `eventChanged()`; each changed event is read once, through the cache, and
 *   written to every events stream. An event that closed also has its connected users' scores read
 *   (one query): they have just been marked final.
 *
 * Resuming: a scores stream's ids are the score's `updated_at` in ms, and a client that reconnects with
 * `Last-Event-ID` gets its scores changed since (RESUME_MARGIN_MS earlier, since transactions commit
 * out of start order): one query per reconnection. The events stream's ids are `<process>.<seq>`, and
 * the last RING_SIZE changes are kept: a reconnection within them gets what it missed, any other a
 * `reset` (reload the list).
 */
export function createLiveUpdates(deps: LiveUpdatesDeps) {
  const boot = randomBytes(4).toString('hex');
  const streams = new Set<Stream>();
  const eventStreams = new Set<Stream>();
  const byUser = new Map<string, Set<Stream>>();
  const ring: { seq: number; text: string }[] = [];
  let seq = 0;
  let closed = false;
  const pendingEvents = new Set<number>();
  let flushTimer: NodeJS.Timeout | undefined;

  const write = (stream: Stream, text: string) => {
    if (stream.res.writableEnded) return;
    // A client that stops reading is dropped rather than buffered for without end: it reconnects
    // with Last-Event-ID and gets what it missed.
    if (stream.res.writableLength > MAX_BUFFERED_BYTES) {
      stream.res.destroy();
      return;
    }
    stream.res.write(text);
  };

  function remove(stream: Stream): void {
    if (!streams.delete(stream)) return;
    clearInterval(stream.heartbeat);
    eventStreams.delete(stream);
    if (stream.userId !== undefined) {
      const set = byUser.get(stream.userId);
      set?.delete(stream);
      if (set?.size === 0) byUser.delete(stream.userId);
    }
  }

  function open(res: ServerResponse, userId?: string): Stream {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      // Proxies such as nginx buffer responses unless told not to.
      'x-accel-buffering': 'no',
    });
    const stream: Stream = {
      res,
      userId,
      heartbeat: setInterval(() => write(stream, ': keep-alive\n\n'), deps.heartbeatMs),
    };
    stream.heartbeat.unref();
    streams.add(stream);
    if (userId !== undefined) {
      let set = byUser.get(userId);
      if (!set) byUser.set(userId, (set = new Set()));
      set.add(stream);
    } else {
      eventStreams.add(stream);
    }
    res.once('close', () => remove(stream));
    // Browsers wait this long before reconnecting.
    write(stream, 'retry: 2000\n\n');
    return stream;
  }

  const scoreMessage = (score: Score) =>
    sseMessage('score', scoreBody(score), String(score.updatedAt.getTime()));

  function sendScores(found: readonly Score[]): void {
    for (const score of found) {
      const text = scoreMessage(score);
      for (const stream of byUser.get(score.userId) ?? []) write(stream, text);
    }
  }

  function broadcastEvent(event: string, data: unknown): void {
    seq += 1;
    const text = sseMessage(event, data, `${boot}.${seq}`);
    ring.push({ seq, text });
    if (ring.length > RING_SIZE) ring.shift();
    for (const stream of eventStreams) write(stream, text);
  }

  async function flushEvents(): Promise<void> {
    flushTimer = undefined;
    const ids = [...pendingEvents];
    pendingEvents.clear();
    const closing: number[] = [];
    for (const id of ids) {
      try {
        const event = await deps.loadEvent(id);
        if (!event) continue;
        if (eventStreams.size > 0) broadcastEvent('event', eventBody(event));
        if (event.state !== 'OPEN') closing.push(id);
      } catch (error) {
        deps.logger.warn({ err: error, eventId: id }, 'live updates: reading a changed event failed');
      }
    }
    if (closing.length > 0 && byUser.size > 0) {
      sendScores(await deps.scores.ofEventsFor(deps.db, closing, [...byUser.keys()]));
    }
  }

  return {
    /** Open streams, for metrics and tests. */
    size: () => streams.size,

    /** Whether another stream may open: the process holds at most `maxConnections`. */
    hasRoom: () => !closed && streams.size < deps.maxConnections,

    /** Starts a user's scores stream on this response; `lastEventId` resumes it. */
    async openScores(res: ServerResponse, userId: string, lastEventId: string | undefined): Promise<void> {
      const since =
        lastEventId !== undefined && /^\d{1,15}$/.test(lastEventId) ? Number(lastEventId) : undefined;
      // Registered before the read, so that nothing settling meanwhile is missed (at worst sent twice).
      const stream = open(res, userId);
      if (since !== undefined) {
        try {
          const missed = await deps.scores.changedSince(
            deps.db,
            userId,
            new Date(since - RESUME_MARGIN_MS),
            RESUME_LIMIT + 1,
          );
          if (missed.length > RESUME_LIMIT) write(stream, sseMessage('reset', {}));
          else for (const score of missed) write(stream, scoreMessage(score));
        } catch (error) {
          deps.logger.warn({ err: error }, 'live updates: resuming a scores stream failed');
          write(stream, sseMessage('reset', {}));
        }
      }
      write(stream, sseMessage('ready', {}, String(Date.now())));
    },

    /** Starts an events stream on this response; `lastEventId` resumes it. */
    openEvents(res: ServerResponse, lastEventId: string | undefined): void {
      const stream = open(res);
      if (lastEventId !== undefined) {
        const [from, n] = lastEventId.split('.');
        const last = Number(n);
        const first = ring[0];
        const held =
          from === boot &&
          Number.isSafeInteger(last) &&
          last <= seq &&
          (last === seq || (first !== undefined && last >= first.seq - 1));
        if (!held) write(stream, sseMessage('reset', {}));
        else for (const kept of ring) if (kept.seq > last) write(stream, kept.text);
      }
      write(stream, sseMessage('ready', {}, `${boot}.${seq}`));
    },

    /** A settlement NOTIFY's payload: settled score ids, comma-separated. */
    async settled(payload: string): Promise<void> {
      if (byUser.size === 0 || closed) return;
      const ids = payload.split(',').filter((id) => id.length > 0);
      try {
        sendScores(await deps.scores.changedFor(deps.db, ids, [...byUser.keys()]));
      } catch (error) {
        deps.logger.warn({ err: error }, 'live updates: reading settled scores failed');
      }
    },

    /** An events cache invalidation; 'all' when invalidations may have been missed. */
    eventChanged(change: { id: number } | 'all'): void {
      if (closed) return;
      if (eventStreams.size === 0) {
        // Nobody hears this change: the ring cannot replay it, so a resumption must reload.
        seq += 1;
        ring.length = 0;
      }
      if (streams.size === 0) return;
      if (change === 'all') {
        if (eventStreams.size > 0) broadcastEvent('reset', {});
        return;
      }
      pendingEvents.add(change.id);
      flushTimer ??= setTimeout(() => {
        flushEvents().catch((error: unknown) =>
          deps.logger.warn({ err: error }, 'live updates: event changes failed'),
        );
      }, deps.coalesceMs ?? 50);
    },

    /** Ends every stream (shutdown): clients reconnect to another replica. */
    closeAll(): void {
      closed = true;
      if (flushTimer) clearTimeout(flushTimer);
      for (const stream of [...streams]) {
        remove(stream);
        stream.res.end();
      }
    },
  };
}

export type LiveUpdates = ReturnType<typeof createLiveUpdates>;
