import http from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';

/** Load generation: a closed loop, an open loop, and POST /events/{id}/score over node:http. */

/** Wall-clock milliseconds (epoch) with sub-millisecond resolution, comparable with the database's now(). */
export const epochMs = () => performance.timeOrigin + performance.now();

let stopRequested = false;
/** Ends the load in progress (Ctrl-C): no more calls are started. */
export const stopLoad = () => void (stopRequested = true);

/**
 * `concurrency` callers, each starting its next call when its last one ends, for `seconds` or until
 * `count` calls have started. Calls started before the end finish after it: their time counts too.
 */
export async function runClosedLoop(options: {
  concurrency: number;
  seconds?: number;
  count?: number;
  call: (i: number) => Promise<unknown>;
}) {
  // Failed calls by error message; the latency (ms) of each successful one.
  const result = { calls: 0, errors: new Map<string, number>(), elapsedMs: 0, latenciesMs: [] as number[] };
  const start = performance.now();
  const stopAt = start + (options.seconds ?? Infinity) * 1000;
  let started = 0;
  stopRequested = false;
  const caller = async () => {
    while (performance.now() < stopAt && started < (options.count ?? Infinity) && !stopRequested) {
      const t0 = performance.now();
      try {
        await options.call(started++);
        result.latenciesMs.push(performance.now() - t0);
        result.calls++;
      } catch (error) {
        const key = error instanceof Error ? error.message : String(error);
        result.errors.set(key, (result.errors.get(key) ?? 0) + 1);
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, caller));
  result.elapsedMs = performance.now() - start;
  return result;
}

/**
 * Call i is due at start + i/rate and is sent on a 2 ms timer once due, whether or not earlier calls
 * have been answered (a slow server does not slow the arrivals down, so its latency is not hidden).
 * Resolves when every call has ended.
 */
export async function runOpenLoop(rate: number, seconds: number, send: (dueAt: number) => Promise<void>) {
  const total = Math.round(rate * seconds);
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const inFlight = new Set<Promise<void>>();
  const start = epochMs();
  // How far behind its schedule the generator fell at worst (ms), and its event loop's p99 delay.
  const result = { rate, seconds, startedAt: start, sent: 0, maxBehindMs: 0, loopDelayP99Ms: 0 };
  stopRequested = false;
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const now = epochMs();
      const due = stopRequested
        ? result.sent
        : Math.min(total, Math.floor(((now - start) * rate) / 1000) + 1);
      if (due > result.sent)
        result.maxBehindMs = Math.max(result.maxBehindMs, now - start - (result.sent * 1000) / rate);
      for (; result.sent < due; result.sent++) {
        const call = send(start + (result.sent * 1000) / rate).finally(() => inFlight.delete(call));
        inFlight.add(call);
      }
      if (result.sent >= total || stopRequested) {
        clearInterval(timer);
        resolve();
      }
    }, 2);
  });
  loop.disable();
  result.loopDelayP99Ms = loop.percentile(99) / 1e6;
  await Promise.all(inFlight);
  return result;
}

export interface ApiTarget {
  host: string;
  port: number;
  agent: http.Agent;
}

/**
 * POST /events/{eventId}/score with a random score 1-5: its status ("202", "429", or the transport
 * error's code), its body, and when the answer arrived (epoch ms). Never throws; times out after 30 s.
 */
export function postScore(target: ApiTarget, eventId: number, authorization: string) {
  const body = `{"score":${1 + Math.floor(Math.random() * 5)}}`;
  return new Promise<{ status: string; body: string; at: number }>((resolve) => {
    const fail = (error: NodeJS.ErrnoException) =>
      resolve({ status: error.code ?? error.message, body: '', at: epochMs() });
    const request = http.request(
      {
        ...target,
        method: 'POST',
        path: `/events/${eventId}/score`,
        headers: {
          authorization,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
        },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () =>
          resolve({
            status: String(response.statusCode),
            body: Buffer.concat(chunks).toString(),
            at: epochMs(),
          }),
        );
        response.on('error', fail);
      },
    );
    request.on('error', fail);
    request.setTimeout(30_000, () =>
      request.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })),
    );
    request.end(body);
  });
}

export const pick = <T>(list: readonly T[]) => list[Math.floor(Math.random() * list.length)]!;
