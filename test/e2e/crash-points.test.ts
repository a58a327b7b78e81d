import * as grpc from '@grpc/grpc-js';
import { EVENT_CHANGED_TOPIC, v1 } from '@scoreline/contracts';
import {
  CRASH_AT_VARIABLE,
  CRASH_POINT_NAMES,
  crashMarker,
  type CrashPointName,
  type Database,
} from '@scoreline/platform';
import { testServices, waitFor } from '@scoreline/platform/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topicKeys } from '../../packages/platform/src/broker/redis-scripts.js';
import { APPLY_TOPIC, REVERT_TOPIC } from '../../services/score-maker/src/domain/score.js';
import { checkInvariants } from '../../services/score-maker/test/invariants.js';
import { openTopology, type Topology } from './topology-processes.js';
import type { Proc } from './walkthrough.js';

/*
 * Each named crash point (packages/platform/src/crash-points.ts), in the production processes: the
 * process under test is restarted with SCORELINE_CRASH_AT naming the point, driven until it dies there
 * (by SIGKILL, after printing the point's marker), checked to have died inside the window the point
 * names, restarted without it; once everything is quiet (no saga pending, both outboxes published,
 * nothing queued or in flight in Redis) the services must agree exactly: nothing lost, nothing applied
 * twice. One topology for the file; the cases run one after another on it, each on an event of its own.
 */

const missing = !testServices().postgresUrl || !testServices().redisUrl;
const clean = { pending: 0, eventMismatches: [], scoreMismatches: [], ledgerMismatches: [] };

type Role = 'line-provider' | 'api' | 'worker';
const entryPoints: Record<Role, { script: string; ready: string }> = {
  'line-provider': { script: 'services/line-provider/src/main.ts', ready: 'line-provider listening' },
  api: { script: 'services/score-maker/src/main-api.ts', ready: 'score-maker API listening' },
  worker: { script: 'services/score-maker/src/main-worker.ts', ready: 'score-maker worker started' },
};

interface Submitted {
  id: string;
  version: number;
}

/** What a case can reach: the databases, Redis, and a way to score its event. */
interface World {
  lp: Database;
  sm: Database;
  /** Entries queued, delayed or in flight on a topic (the broker's ids hash). */
  live(topic: string): Promise<number>;
  /** POSTs a score (as a new user unless one is named); throws when no HTTP answer comes. */
  submit(
    eventId: number,
    score: number,
    options?: { idempotencyKey?: string; user?: string },
  ): Promise<{ status: number; body: Submitted & Record<string, unknown> }>;
  api: string;
  token(user: string): Promise<string>;
  /** line-provider's admin CloseEvent. */
  closeEvent(eventId: number): Promise<void>;
  /** (Re)starts a process with the file's settings and these. */
  start(role: Role, extraEnv?: Record<string, string>): Promise<void>;
  stop(role: Role): Promise<void>;
  /** No saga pending, both outboxes published, nothing queued, delayed or in flight on any topic. */
  quiet(): Promise<boolean>;
}

interface Case {
  point: CrashPointName;
  /** The process armed with the point. */
  role: Role;
  /** The work that reaches it, for the test's name. */
  on: string;
  /** Before the process is armed: what must be in flight when it starts. */
  prepare?(w: World, eventId: number, submitted: Submitted[]): Promise<void>;
  /** The status every score of the case ends in (CONFIRMED unless said). */
  ends?: 'CONFIRMED' | 'REJECTED';
  /** Drives one unit of work that should reach the point; called until the process dies. */
  drive?(w: World, eventId: number, submitted: Submitted[]): Promise<void>;
  /** While the process is dead: the state must be the one the point's window leaves. */
  atCrash(w: World, eventId: number, submitted: Submitted[]): Promise<void>;
  /** After the restart and quiet, besides the invariants. */
  after?(w: World, eventId: number, submitted: Submitted[]): Promise<void>;
}

const unpublished = async (db: Database) =>
  (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM outbox WHERE published_at IS NULL')).rows[0]!
    .n;

const statuses = async (w: World, submitted: Submitted[]) =>
  (
    await w.sm.query<{ status: string }>('SELECT status FROM scores WHERE id = ANY($1::uuid[])', [
      submitted.map((s) => s.id),
    ])
  ).rows.map((r) => r.status);

/** Line-provider's ledger has each score's version in effect (T2 committed). */
async function appliedInLineProvider(w: World, submitted: Submitted[]) {
  const { rows } = await w.lp.query<{ score_id: string; applied_version: number }>(
    'SELECT score_id::text, applied_version FROM score_ledger WHERE score_id::text = ANY($1::text[])',
    [submitted.map((s) => s.id)],
  );
  return rows.length > 0 && rows.every((r) => r.applied_version >= 1);
}

/** Submits one score per call; remembers what was answered 202. */
const submitOne = async (w: World, eventId: number, submitted: Submitted[]) => {
  const { status, body } = await w.submit(eventId, 1 + (submitted.length % 5));
  expect(status).toBe(202);
  submitted.push({ id: body.id, version: body.version });
};

const sagaStates = async (w: World, submitted: Submitted[]) =>
  (
    await w.sm.query<{ saga_state: string | null }>(
      'SELECT saga_state FROM scores WHERE id = ANY($1::uuid[])',
      [submitted.map((s) => s.id)],
    )
  ).rows.map((r) => r.saga_state);

/** line-provider has recorded a RevertScore of each score's version. */
async function revertedInLineProvider(w: World, submitted: Submitted[]) {
  const { rows } = await w.lp.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM score_versions
     WHERE score_id::text = ANY($1::text[]) AND revert_outcome IS NOT NULL`,
    [submitted.map((s) => s.id)],
  );
  return rows[0]!.n === submitted.length;
}

/**
 * A RevertScore in flight: with line-provider down, a score is accepted (the API skips the event check),
 * its ApplyScore fails at its only attempt (a worker with SAGA_MAX_ATTEMPTS=1) and the timeout's
 * compensation queues RevertScore, which waits in its retries while that worker stops and
 * line-provider comes back. The armed worker takes it from there.
 */
async function compensating(w: World, eventId: number, submitted: Submitted[]) {
  await w.stop('line-provider');
  await w.start('worker', { SAGA_MAX_ATTEMPTS: '1' });
  await submitOne(w, eventId, submitted);
  await waitFor(async () => (await sagaStates(w, submitted))[0] === 'REVERTING', {
    what: 'the compensation to begin',
    timeoutMs: 30_000,
  });
  await w.stop('worker');
  await w.start('line-provider');
}

const retried = { idempotencyKey: 'crash-key', user: 'api-user' };

const cases: Case[] = [
  {
    point: 'api.after-commit',
    role: 'api',
    on: 'T1',
    async drive(w, eventId, submitted) {
      // No answer comes: the API dies between T1's commit and the 202. The client retries with its key.
      await expect(w.submit(eventId, 4, retried)).rejects.toThrow();
      submitted.push({ id: '', version: 1 });
    },
    async atCrash(w, eventId, submitted) {
      const { rows } = await w.sm.query<{ id: string; version: number; status: string }>(
        `SELECT id, version, status FROM scores WHERE user_id = 'api-user' AND event_id = $1`,
        [eventId],
      );
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ version: 1 });
      submitted[0]!.id = rows[0]!.id;
    },
    async after(w, eventId, submitted) {
      // The retry gets T1's own answer back, and writes nothing: still version 1.
      const retry = await w.submit(eventId, 4, retried);
      expect(retry.status).toBe(202);
      expect(retry.body).toMatchObject({ id: submitted[0]!.id, version: 1 });
      const { rows } = await w.sm.query<{ version: number; status: string; confirmed_rate: number }>(
        'SELECT version, status, confirmed_rate FROM scores WHERE id = $1',
        [submitted[0]!.id],
      );
      expect(rows).toEqual([{ version: 1, status: 'CONFIRMED', confirmed_rate: 4 }]);
    },
  },
  {
    point: 'relay.after-publish',
    role: 'worker',
    on: 'score-maker outbox',
    drive: submitOne,
    async atCrash(w) {
      // Published to the queue, never marked: the restarted relay publishes it again.
      expect(await unpublished(w.sm)).toBeGreaterThan(0);
      expect(await w.live(APPLY_TOPIC)).toBeGreaterThan(0);
    },
  },
  {
    point: 'worker.after-answer',
    role: 'worker',
    on: 'ApplyScore',
    drive: submitOne,
    async atCrash(w, _eventId, submitted) {
      // line-provider applied it; score-maker never heard: the step is redelivered and asks again.
      expect(await appliedInLineProvider(w, submitted)).toBe(true);
      expect(await statuses(w, submitted)).toContain('PENDING');
    },
  },
  {
    point: 'worker.before-ack',
    role: 'worker',
    on: 'ApplyScore',
    drive: submitOne,
    async atCrash(w, _eventId, submitted) {
      // Settled, but the step is still the dead worker's in the queue: redelivered, it must do nothing.
      expect(await statuses(w, submitted)).not.toContain('PENDING');
      expect(await w.live(APPLY_TOPIC)).toBeGreaterThan(0);
    },
  },
  {
    point: 'line-provider.after-commit',
    role: 'line-provider',
    on: 'ApplyScore',
    drive: submitOne,
    async atCrash(w, _eventId, submitted) {
      // Committed in line-provider, no answer sent: the worker retries and gets the first answer.
      expect(await appliedInLineProvider(w, submitted)).toBe(true);
      expect(await statuses(w, submitted)).toContain('PENDING');
    },
  },
  {
    point: 'relay.after-publish',
    role: 'line-provider',
    on: 'line-provider outbox',
    drive: submitOne,
    async atCrash(w) {
      // EventChanged published, never marked: published again after the restart.
      expect(await unpublished(w.lp)).toBeGreaterThan(0);
    },
  },
  {
    point: 'worker.after-answer',
    role: 'worker',
    on: 'RevertScore',
    ends: 'REJECTED',
    prepare: compensating,
    async atCrash(w, _eventId, submitted) {
      // line-provider recorded the revert; score-maker still waits for it.
      expect(await revertedInLineProvider(w, submitted)).toBe(true);
      expect(await sagaStates(w, submitted)).toEqual(['REVERTING']);
    },
  },
  {
    point: 'worker.before-ack',
    role: 'worker',
    on: 'RevertScore',
    ends: 'REJECTED',
    prepare: compensating,
    async atCrash(w, _eventId, submitted) {
      // Settled (REJECTED, line-provider holds nothing), the step still unacknowledged in the queue.
      expect(await statuses(w, submitted)).toEqual(['REJECTED']);
      expect(await w.live(REVERT_TOPIC)).toBeGreaterThan(0);
    },
    async after(w, _eventId, submitted) {
      const { rows } = await w.sm.query('SELECT reason FROM scores WHERE id = $1', [submitted[0]!.id]);
      expect(rows).toEqual([{ reason: 'UNAVAILABLE' }]);
    },
  },
  {
    point: 'worker.after-inbox',
    role: 'worker',
    on: 'a closing EventChanged',
    async drive(w, eventId, submitted) {
      if (submitted.length === 0) {
        // Scores settled and their EventChanged consumed (a late invalidation would empty the cache),
        // then the event in the API's cache (OPEN) before it closes.
        for (let i = 0; i < 3; i++) await submitOne(w, eventId, submitted);
        await waitFor(() => w.quiet(), { what: 'the scores to settle', timeoutMs: 30_000, intervalMs: 100 });
        expect((await getEvent(w, eventId)).state).toBe('OPEN');
        await w.closeEvent(eventId);
      }
    },
    async atCrash(w, eventId) {
      // The close is in the inbox and the scores are final; the cache was never told.
      const final = await w.sm.query<{ final: boolean }>('SELECT final FROM scores WHERE event_id = $1', [
        eventId,
      ]);
      expect(final.rows.map((r) => r.final)).toEqual([true, true, true]);
      expect(
        (await w.sm.query('SELECT 1 FROM inbox WHERE topic = $1', [EVENT_CHANGED_TOPIC])).rowCount,
      ).toBeGreaterThan(0);
      expect(await w.live(EVENT_CHANGED_TOPIC)).toBeGreaterThan(0);
      expect((await getEvent(w, eventId)).state).toBe('OPEN');
    },
    async after(w, eventId) {
      // The redelivered close finds its inbox row (nothing to mark twice) and invalidates the cache.
      await waitFor(async () => (await getEvent(w, eventId)).state === 'CLOSED', {
        what: 'the cache to show the close',
        timeoutMs: 30_000,
      });
      const { rows } = await w.sm.query<{ final: boolean; status: string }>(
        'SELECT final, status FROM scores WHERE event_id = $1',
        [eventId],
      );
      expect(rows).toEqual(Array.from({ length: 3 }, () => ({ final: true, status: 'CONFIRMED' })));
    },
  },
];

async function getEvent(w: World, eventId: number): Promise<{ state: string }> {
  const res = await fetch(`${w.api}/events/${eventId}`, {
    headers: { authorization: `Bearer ${await w.token('reader')}` },
  });
  expect(res.status).toBe(200);
  return (await res.json()) as { state: string };
}

describe.skipIf(missing)(
  `named crash points in the production processes${missing ? ' [skipped: needs PostgreSQL and Redis]' : ''}`,
  () => {
    const procs = new Map<Role, Proc>();
    let topology: Topology;
    let client: Redis;
    let admin: v1.EventServiceClient;
    let world: World;
    const eventIds = new Map<Case, number>();

    async function start(role: Role, armedEnv: Record<string, string> = {}): Promise<Proc> {
      await procs.get(role)?.stop();
      const { script, ready } = entryPoints[role];
      const proc = await topology.start(script, ready, armedEnv);
      procs.set(role, proc);
      return proc;
    }

    /** No saga pending, both outboxes published, nothing queued, delayed or in flight on any topic. */
    async function quiet(): Promise<boolean> {
      const pending = (
        await world.sm.query<{ n: number }>(`SELECT count(*)::int AS n FROM scores WHERE status = 'PENDING'`)
      ).rows[0]!.n;
      if (pending > 0 || (await unpublished(world.sm)) > 0 || (await unpublished(world.lp)) > 0) return false;
      for (const topic of [APPLY_TOPIC, REVERT_TOPIC, EVENT_CHANGED_TOPIC])
        if ((await world.live(topic)) > 0) return false;
      return true;
    }

    beforeAll(async () => {
      // Empty databases: each service migrates its own at start.
      topology = await openTopology('crash', {
        RATE_LIMIT_SCORES_PER_MINUTE: '1000000',
        // A dead worker's entries go to the next one within a few seconds.
        BROKER_LOCK_DURATION: '2s',
        BROKER_STALLED_INTERVAL: '500ms',
        SAGA_SWEEP_AFTER: '3s',
        SAGA_SWEEP_INTERVAL: '1s',
        SAGA_BACKOFF_MAX: '1s',
        SAGA_REVERT_BACKOFF_MAX: '1s',
        // line-provider down for a restart must never time a saga out: these cases are about crashes.
        SAGA_TIMEOUT: '10m',
        SAGA_MAX_ATTEMPTS: '1000',
        OUTBOX_POLL_INTERVAL: '200ms',
        // Only an invalidation (EventChanged) refreshes a cached event here, never its age.
        EVENTS_CACHE_TTL: '1h',
      });
      client = new Redis(topology.env.REDIS_URL);
      await start('line-provider');
      await start('worker');
      await start('api');
      admin = new v1.EventServiceClient(
        topology.env.LINE_PROVIDER_ADDRESS,
        grpc.credentials.createInsecure(),
      );
      const metadata = new grpc.Metadata();
      metadata.set('authorization', `Bearer ${topology.secrets.LINE_PROVIDER_ADMIN_TOKEN}`);
      for (const c of cases) {
        const request = {
          title: `Crash at ${c.point} in ${c.role}`,
          deadline: new Date(Date.now() + 86_400_000),
        };
        const id = await new Promise<number>((resolve, reject) =>
          admin.createEvent(v1.CreateEventRequest.fromPartial(request), metadata, (e, r) =>
            e ? reject(e) : resolve(r.event!.id),
          ),
        );
        eventIds.set(c, id);
      }
      const { api, token } = topology;
      let users = 0;
      world = {
        lp: topology.lp,
        sm: topology.sm,
        api,
        token,
        start: async (role, extraEnv) => void (await start(role, extraEnv)),
        stop: async (role) => void (await procs.get(role)!.stop()),
        quiet,
        closeEvent: (eventId) =>
          new Promise<void>((resolve, reject) =>
            admin.closeEvent(v1.CloseEventRequest.fromPartial({ eventId }), metadata, (e) =>
              e ? reject(e) : resolve(),
            ),
          ),
        live: async (topic) => client.hlen(topicKeys(topology.env.REDIS_PREFIX, topic).ids),
        async submit(eventId, score, options = {}) {
          const res = await fetch(`${api}/events/${eventId}/score`, {
            method: 'POST',
            headers: {
              authorization: `Bearer ${await token(options.user ?? `crash-user-${++users}`)}`,
              'content-type': 'application/json',
              ...(options.idempotencyKey ? { 'idempotency-key': options.idempotencyKey } : {}),
            },
            body: JSON.stringify({ score }),
            signal: AbortSignal.timeout(20_000),
          });
          return { status: res.status, body: (await res.json()) as Submitted & Record<string, unknown> };
        },
      };
    }, 180_000);

    afterAll(async () => {
      client?.disconnect();
      admin?.close();
      await topology?.dispose();
    });

    it('when the cases are listed, then every crash point is among them', () => {
      expect(new Set(cases.map((c) => c.point))).toEqual(new Set(CRASH_POINT_NAMES));
    });

    it.each(cases)(
      'when the $role process dies at $point ($on), then after its restart nothing is lost or applied twice',
      async (c) => {
        // Every process up (a failed case may have left one down), then nothing left of earlier cases.
        for (const role of ['line-provider', 'worker', 'api'] as const) {
          const proc = procs.get(role)!;
          if (proc.child.exitCode !== null || proc.child.signalCode !== null) await start(role);
        }
        await waitFor(quiet, { what: 'quiet before the case', timeoutMs: 60_000, intervalMs: 100 });
        const eventId = eventIds.get(c)!;
        const submitted: Submitted[] = [];
        await c.prepare?.(world, eventId, submitted);
        const armed = await start(c.role, { [CRASH_AT_VARIABLE]: c.point });
        // Driven again every few seconds (a step may wait in a backoff), for at most half a minute.
        const giveUp = Date.now() + 30_000;
        while (armed.child.exitCode === null && armed.child.signalCode === null) {
          expect(Date.now(), `${c.role} still alive; output:\n${armed.output().slice(-3000)}`).toBeLessThan(
            giveUp,
          );
          await c.drive?.(world, eventId, submitted);
          await Promise.race([armed.exited, new Promise((resolve) => setTimeout(resolve, 3000))]);
        }
        await armed.exited;
        expect(armed.child.signalCode, armed.output().slice(-3000)).toBe('SIGKILL');
        expect(armed.output()).toContain(crashMarker(c.point, 1).trim());
        await c.atCrash(world, eventId, submitted);

        await start(c.role);
        await waitFor(quiet, { what: 'quiet after the restart', timeoutMs: 60_000, intervalMs: 100 });
        expect(await checkInvariants(world.lp, world.sm)).toEqual(clean);
        await c.after?.(world, eventId, submitted);
        expect(await statuses(world, submitted)).toEqual(submitted.map(() => c.ends ?? 'CONFIRMED'));
        for (const proc of procs.values()) expect(proc.child.exitCode, proc.output().slice(-3000)).toBeNull();
      },
      120_000,
    );
  },
);
