import { randomUUID } from 'node:crypto';
import type { Random } from './random.js';

export interface LoadSettings {
  /** Base URLs of the API replicas; each submission starts on one and retries on the next. */
  apis: string[];
  /** `authorization` header values, one per user. */
  tokens: string[];
  eventIds: number[];
  submissions: number;
  /** The submissions are spread evenly over this long (an open loop: nothing waits for the saga). */
  durationMs: number;
  /** No submission starts after this long, whatever is left. */
  hardStopMs: number;
  /** Requests in flight at most. */
  concurrency: number;
  /** Share of submissions that change a score the user already gave. */
  changeShare: number;
  random: Random;
  /** Date.now() of the run's time origin. */
  began: number;
}

/** A 5xx answer or none at all (refused, reset, timed out), at ms since the run began. */
export interface Failure {
  at: number;
  what: string;
  /** Which API replica (0 or 1) it came from. */
  api: number;
}

export interface LoadResult {
  /** Submissions asked for. */
  requested: number;
  /** Submissions begun (each may take several HTTP requests). */
  submitted: number;
  /** Of those, changes of a score the user had given. */
  changes: number;
  requests: number;
  /** HTTP answers by status (retries included). */
  statuses: Map<number, number>;
  unanswered: number;
  /** Submissions still without a 202 or 4xx after every retry. */
  gaveUp: number;
  /** 503 answers without Retry-After (must be none). */
  noRetryAfter: number;
  /** Highest version answered 202, per score id. */
  accepted: Map<string, number>;
  /** 202 answers, including idempotent replays. */
  acceptedAnswers: number;
  failures: Failure[];
  /** ms since the run began */
  startedAt: number;
  endedAt: number;
}

const MAX_ATTEMPTS = 8;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Drives `POST /events/{id}/score` from many users over many events, paced evenly over the duration.
 * Each submission carries an Idempotency-Key; with no answer or a 503 it is retried with the same key,
 * on the other API replica, so a replica killed mid-request costs no submission and counts none twice.
 */
export async function runLoad(settings: LoadSettings): Promise<LoadResult> {
  const { random, began } = settings;
  const result: LoadResult = {
    requested: settings.submissions,
    submitted: 0,
    changes: 0,
    requests: 0,
    statuses: new Map(),
    unanswered: 0,
    gaveUp: 0,
    noRetryAfter: 0,
    accepted: new Map(),
    acceptedAnswers: 0,
    failures: [],
    startedAt: Date.now() - began,
    endedAt: 0,
  };
  const start = Date.now();
  const interval = settings.durationMs / settings.submissions;
  /** Events each user has scored (for changes), and events seen closed (409): mostly left alone. */
  const scored = settings.tokens.map(() => [] as number[]);
  const closed = new Set<number>();
  let next = 0;
  const unansweredAt = settings.apis.map(() => 0);
  const recentlyDown = (replica: number) => Date.now() - unansweredAt[replica]! < 1000;

  const chooseEvent = (user: number): { eventId: number; change: boolean } => {
    const mine = scored[user]!.filter((id) => !closed.has(id));
    if (mine.length > 0 && random.next() < settings.changeShare) {
      return { eventId: random.pick(mine), change: true };
    }
    const open = settings.eventIds.filter((id) => !closed.has(id));
    const pool = open.length > 0 && random.next() < 0.95 ? open : settings.eventIds;
    const eventId = random.pick(pool);
    return { eventId, change: scored[user]!.includes(eventId) };
  };

  const submit = async (index: number) => {
    const user = random.int(settings.tokens.length);
    const { eventId, change } = chooseEvent(user);
    const score = 1 + random.int(5);
    const key = randomUUID();
    result.submitted++;
    if (change) result.changes++;
    let replica = index % settings.apis.length;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      // A replica that just left a request unanswered is probably down: the other one goes first.
      const other = (replica + 1) % settings.apis.length;
      if (attempt === 0 && recentlyDown(replica) && !recentlyDown(other)) replica = other;
      const api = settings.apis[replica]!;
      result.requests++;
      try {
        const res = await fetch(`${api}/events/${eventId}/score`, {
          method: 'POST',
          headers: {
            authorization: settings.tokens[user]!,
            'content-type': 'application/json',
            'idempotency-key': key,
          },
          body: JSON.stringify({ score }),
          // Longer than the API's own wait for a database connection, so that its 503 is what is seen.
          signal: AbortSignal.timeout(20_000),
        });
        result.statuses.set(res.status, (result.statuses.get(res.status) ?? 0) + 1);
        const body = (await res.json().catch(() => ({}))) as { id?: string; version?: number };
        if (res.status === 202 && body.id && body.version) {
          result.acceptedAnswers++;
          result.accepted.set(body.id, Math.max(body.version, result.accepted.get(body.id) ?? 0));
          if (!scored[user]!.includes(eventId)) scored[user]!.push(eventId);
          return;
        }
        if (res.status < 500) {
          if (res.status === 409) closed.add(eventId);
          return;
        }
        result.failures.push({ at: Date.now() - began, what: String(res.status), api: replica });
        if (res.status === 503 && !res.headers.get('retry-after')) result.noRetryAfter++;
      } catch {
        result.unanswered++;
        result.failures.push({ at: Date.now() - began, what: 'no answer', api: replica });
        unansweredAt[replica] = Date.now();
        replica = other;
        // The other replica at once, unless it too has just failed to answer.
        if (!recentlyDown(other)) continue;
      }
      replica = other;
      await sleep(200 * (attempt + 1));
    }
    result.gaveUp++;
  };

  const loop = async () => {
    for (;;) {
      const index = next++;
      if (index >= settings.submissions || Date.now() - start > settings.hardStopMs) return;
      const due = start + index * interval;
      if (due > Date.now()) await sleep(due - Date.now());
      await submit(index);
    }
  };
  await Promise.all(Array.from({ length: settings.concurrency }, loop));
  result.endedAt = Date.now() - began;
  return result;
}
