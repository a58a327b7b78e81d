import {
  privatePostgresAvailable,
  startPrivatePostgres,
  testServices,
  waitFor,
  type PrivatePostgres,
} from '@scoreline/platform/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkInvariants } from '../../services/score-maker/test/invariants.js';
import { openTopology, type Topology } from './topology-processes.js';
import { cli } from './walkthrough.js';

const skip = !privatePostgresAvailable() || !testServices().redisUrl;
const USERS = 40;
const EVENTS = 5;

interface LoadReport {
  /** Highest version answered 202 per score id. */
  accepted: Map<string, number>;
  statuses: Map<number, number>;
  /** Requests that got no HTTP answer at all (connection refused or reset, timeout). */
  unanswered: number;
  /** 503 answers without a Retry-After header (must be none). */
  noRetryAfter: number;
  /** First and last moment a 5xx or no answer was seen, ms since the load began. */
  failureWindow: [number, number] | undefined;
  /** Every 5xx or missing answer: when it was answered (ms since the load began), and what it was. */
  failures: { at: number; what: string }[];
}

/** Scores events from many users at `concurrency` requests at once until `stop()` resolves. */
function startLoad(api: string, tokens: string[], eventIds: number[], concurrency = 8) {
  const report: LoadReport = {
    accepted: new Map(),
    statuses: new Map(),
    unanswered: 0,
    noRetryAfter: 0,
    failureWindow: undefined,
    failures: [],
  };
  const began = Date.now();
  let running = true;
  const failed = (what: string) => {
    const at = Date.now() - began;
    report.failures.push({ at, what });
    report.failureWindow = report.failureWindow ? [report.failureWindow[0], at] : [at, at];
  };
  const one = async () => {
    const token = tokens[Math.floor(Math.random() * tokens.length)]!;
    const eventId = eventIds[Math.floor(Math.random() * eventIds.length)]!;
    try {
      const res = await fetch(`${api}/events/${eventId}/score`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ score: 1 + Math.floor(Math.random() * 5) }),
        // Longer than the API's own wait for a database connection (10 s), so its 503 is seen.
        signal: AbortSignal.timeout(20_000),
      });
      report.statuses.set(res.status, (report.statuses.get(res.status) ?? 0) + 1);
      const body = (await res.json().catch(() => ({}))) as { id?: string; version?: number };
      if (res.status === 202 && body.id && body.version) {
        report.accepted.set(body.id, Math.max(body.version, report.accepted.get(body.id) ?? 0));
      }
      if (res.status >= 500) failed(String(res.status));
      if (res.status === 503 && !res.headers.get('retry-after')) report.noRetryAfter++;
    } catch {
      report.unanswered++;
      failed('no answer');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  const loops = Array.from({ length: concurrency }, async () => {
    while (running) await one();
  });
  return {
    report,
    /** ms since the load began */
    now: () => Date.now() - began,
    async stop() {
      running = false;
      await Promise.all(loops);
      return report;
    },
  };
}

/**
 * line-provider, the API and a worker as separate processes, each service's database on a private
 * PostgreSQL server of its own, so that each can be restarted (or stopped for a while) under load alone:
 * no process may die, the saga must resume by itself, nothing accepted may be lost, and the only 5xx
 * are 503s (with Retry-After) answered within the restart window, whose length is logged.
 */
describe.skipIf(skip)(
  `a PostgreSQL restart under load${skip ? ' [skipped: needs Debian PostgreSQL binaries and Redis]' : ''}`,
  () => {
    let smServer: PrivatePostgres;
    let lpServer: PrivatePostgres;
    let topology: Topology;
    let api = '';
    let tokens: string[] = [];
    const eventIds: number[] = [];

    beforeAll(async () => {
      [smServer, lpServer] = await Promise.all([startPrivatePostgres(), startPrivatePostgres()]);
      await lpServer.createDatabase('line_provider');
      await smServer.createDatabase('score_maker');
      topology = await openTopology(
        'restart',
        {
          RATE_LIMIT_SCORES_PER_MINUTE: '1000000',
          SAGA_SWEEP_AFTER: '2s',
          SAGA_SWEEP_INTERVAL: '1s',
        },
        {
          databaseUrls: {
            lineProvider: lpServer.urlFor('line_provider'),
            scoreMaker: smServer.urlFor('score_maker'),
          },
        },
      );
      const { start } = topology;
      await start('services/line-provider/src/main.ts', 'line-provider listening');
      await start('services/score-maker/src/main-worker.ts', 'score-maker worker started');
      await start('services/score-maker/src/main-api.ts', 'score-maker API listening');
      api = topology.api;

      for (let i = 0; i < EVENTS; i++) {
        const created = await cli(
          ['events', 'create', '--title', `Event ${i}`, '--deadline', '+1d', '--json'],
          topology.cliEnv,
        );
        expect(created.code, created.out).toBe(0);
        eventIds.push((JSON.parse(created.out) as { id: number }).id);
      }
      tokens = await Promise.all(Array.from({ length: USERS }, (_, i) => topology.token(`user-${i}`)));
    }, 180_000);

    afterAll(async () => {
      await topology?.dispose();
      await smServer?.dispose();
      await lpServer?.dispose();
    });

    /** Every process still up; every accepted score settled at (or past) its accepted version; §5 exact. */
    async function expectRecovered(report: LoadReport) {
      for (const proc of topology.procs) {
        expect(proc.child.exitCode, proc.output().slice(-3000)).toBeNull();
        expect(proc.child.signalCode).toBeNull();
      }
      expect(report.accepted.size).toBeGreaterThan(50);
      await waitFor(
        async () => {
          const { rows } = await topology.sm.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM scores WHERE status = 'PENDING'`,
          );
          return rows[0]!.n === 0;
        },
        { what: 'every saga to settle after the database came back', timeoutMs: 90_000 },
      );
      const { rows } = await topology.sm.query<{ id: string; version: number; status: string }>(
        'SELECT id, version, status FROM scores WHERE id = ANY($1::uuid[])',
        [[...report.accepted.keys()]],
      );
      const stored = new Map(rows.map((r) => [r.id, r]));
      const lost = [...report.accepted].filter(([id, version]) => (stored.get(id)?.version ?? 0) < version);
      expect(lost).toEqual([]);
      const invariants = await checkInvariants(topology.lp, topology.sm);
      expect(invariants).toEqual({
        pending: 0,
        eventMismatches: [],
        scoreMismatches: [],
        ledgerMismatches: [],
      });
      // During the outage the API answers 503 with Retry-After (never 500); otherwise 202.
      for (const status of report.statuses.keys()) expect([202, 503]).toContain(status);
      expect(report.noRetryAfter).toBe(0);
      expect(report.unanswered).toBe(0);
    }

    /**
     * The load, `action` after 3 s, 4 s more of load: asserts that every failure (a 5xx or no answer) is
     * a 503 answered between the action's start and `graceMs` after its end, and logs the window.
     */
    async function underLoad(name: string, action: () => Promise<void>, graceMs: number) {
      const load = startLoad(api, tokens, eventIds);
      await new Promise((resolve) => setTimeout(resolve, 3000));
      const from = load.now();
      await action();
      const to = load.now();
      await new Promise((resolve) => setTimeout(resolve, 4000));
      const report = await load.stop();
      const [first, last] = report.failureWindow ?? [from, from];
      console.log(`${name}:`, {
        statuses: Object.fromEntries(report.statuses),
        unanswered: report.unanswered,
        serverDownMs: to - from,
        // From the restart's start to the last 503 answered (0: no request failed).
        failureWindowMs: report.failureWindow ? last - from : 0,
      });
      for (const failure of report.failures) {
        expect(failure.what).toBe('503');
        expect(failure.at).toBeGreaterThanOrEqual(from);
        expect(failure.at).toBeLessThanOrEqual(to + graceMs);
      }
      expect(first).toBeGreaterThanOrEqual(from);
      await expectRecovered(report);
    }

    // A request that waits for a database connection gets its 503 after up to 10 s (the pool's wait).
    const GRACE_MS = 11_000;

    it("when score-maker's server restarts (pg_ctl restart -m fast) under load, then every process survives, nothing accepted is lost and 503s stay within the restart window", async () => {
      await underLoad("score-maker's database restart", () => smServer.restart(), GRACE_MS);
    }, 240_000);

    it("when line-provider's server restarts under load, then every process survives, nothing accepted is lost and the API answers no 5xx beyond the restart window", async () => {
      await underLoad("line-provider's database restart", () => lpServer.restart(), GRACE_MS);
    }, 240_000);

    it("when score-maker's server is stopped for 10 s under load, then every process survives and the saga resumes by itself", async () => {
      await underLoad(
        "score-maker's database stopped for 10 s",
        async () => {
          await smServer.stop();
          await new Promise((resolve) => setTimeout(resolve, 10_000));
          await smServer.start();
        },
        GRACE_MS,
      );
    }, 240_000);
  },
);
