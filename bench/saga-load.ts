import http from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';

/**
 * Open-loop load for bench/saga.ts: POST /events/{id}/score at a fixed rate, on a timer, whether or not
 * earlier requests have been answered (a slow server does not slow the arrivals down, so its latency
 * is not hidden). Request i is due at start + i/rate; each tick sends every request that is due.
 */

/** Wall-clock milliseconds (epoch) with sub-millisecond resolution, comparable with the database's now(). */
export const epochMs = () => performance.timeOrigin + performance.now();

export interface Accepted {
  id: string;
  version: number;
  /** When the 202 arrived here (epoch ms). */
  at: number;
}

export interface LoadTarget {
  host: string;
  port: number;
  agent: http.Agent;
  eventIds: readonly number[];
  /** `Bearer …` values. */
  tokens: readonly string[];
}

export interface LoadResult {
  rate: number;
  seconds: number;
  /** Epoch ms of the first due request and of the end of the sending window. */
  startedAt: number;
  endedAt: number;
  sent: number;
  accepted: number;
  /** Non-202 answers and transport errors, by status or error code. */
  refused: Map<string, number>;
  unanswered: number;
  /** Due time → 202 arrival (ms), per 202: the API's latency as an open-loop client sees it. */
  acceptLatency: number[];
  /** How far behind its schedule the generator fell at worst (ms), and its event loop's p99 delay. */
  maxBehindMs: number;
  loopDelayP99Ms: number;
}

const TICK_MS = 2;

let stopRequested = false;
/** Ends the run in progress (Ctrl-C): no more requests are sent. */
export function stopSending(): void {
  stopRequested = true;
}

export async function runOpenLoop(
  target: LoadTarget,
  rate: number,
  seconds: number,
  onAccepted: (accepted: Accepted) => void,
): Promise<LoadResult> {
  const pick = <T>(list: readonly T[]) => list[Math.floor(Math.random() * list.length)]!;
  const total = Math.round(rate * seconds);
  const interval = 1000 / rate;
  const result: LoadResult = {
    rate,
    seconds,
    startedAt: epochMs(),
    endedAt: 0,
    sent: 0,
    accepted: 0,
    refused: new Map(),
    unanswered: 0,
    acceptLatency: [],
    maxBehindMs: 0,
    loopDelayP99Ms: 0,
  };
  const refuse = (key: string) => result.refused.set(key, (result.refused.get(key) ?? 0) + 1);
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  let inFlight = 0;
  let allAnswered: (() => void) | undefined;

  const send = (dueAt: number) => {
    const body = `{"score":${1 + Math.floor(Math.random() * 5)}}`;
    inFlight++;
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      inFlight--;
      if (inFlight === 0) allAnswered?.();
    };
    const request = http.request(
      {
        agent: target.agent,
        host: target.host,
        port: target.port,
        method: 'POST',
        path: `/events/${pick(target.eventIds)}/score`,
        headers: {
          authorization: pick(target.tokens),
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
        },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          const at = epochMs();
          if (response.statusCode === 202) {
            try {
              const score = JSON.parse(Buffer.concat(chunks).toString()) as { id: string; version: number };
              result.accepted++;
              result.acceptLatency.push(at - dueAt);
              onAccepted({ id: score.id, version: score.version, at });
            } catch {
              refuse('202 with an unreadable body');
            }
          } else {
            refuse(String(response.statusCode));
          }
          finish();
        });
        response.on('error', (error: NodeJS.ErrnoException) => {
          refuse(error.code ?? error.message);
          finish();
        });
      },
    );
    request.on('error', (error: NodeJS.ErrnoException) => {
      refuse(error.code ?? error.message);
      finish();
    });
    request.setTimeout(30_000, () =>
      request.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })),
    );
    request.end(body);
    result.sent++;
  };

  stopRequested = false;
  const start = epochMs();
  result.startedAt = start;
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const now = epochMs();
      const due = stopRequested
        ? result.sent
        : Math.min(total, Math.floor(((now - start) * rate) / 1000) + 1);
      if (due > result.sent)
        result.maxBehindMs = Math.max(result.maxBehindMs, now - (start + result.sent * interval));
      while (result.sent < due) send(start + result.sent * interval);
      if (result.sent >= total || stopRequested) {
        clearInterval(timer);
        resolve();
      }
    }, TICK_MS);
  });
  result.endedAt = Math.max(epochMs(), start + seconds * 1000);
  loop.disable();
  result.loopDelayP99Ms = loop.percentile(99) / 1e6;
  // Wait for the answers still on their way (at most 30 s: the request timeout).
  if (inFlight > 0) await new Promise<void>((resolve) => (allAnswered = resolve));
  result.unanswered = result.sent - result.accepted - [...result.refused.values()].reduce((a, b) => a + b, 0);
  return result;
}
