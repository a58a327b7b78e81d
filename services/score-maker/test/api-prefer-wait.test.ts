import { setTimeout as sleep } from 'node:timers/promises';
import { testServices, waitFor } from '@scoreline/platform/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSagaRepository } from '../src/data-access/saga-repository.js';
import { tokenFor } from './api-harness.js';
import { SagaSystem } from './saga-harness.js';

const skip = !testServices().redisUrl;

/** GET /scores/{id} with Prefer: wait, against the real API, database and (later) a real worker. */
describe.skipIf(skip)(`GET /scores/{id} with Prefer: wait${skip ? ' [skipped: needs Redis]' : ''}`, () => {
  let system: SagaSystem;
  let eventId: number;

  beforeAll(async () => {
    // No worker at first: scores stay PENDING until a test settles them.
    system = await SagaSystem.start('redis', { workers: 0 });
    eventId = await system.createEvent('Patience cup');
  });
  afterAll(async () => {
    await system?.dispose();
  });

  const submit = async (user: string, noWorkerYet = true) => {
    const score = await system.submit(user, eventId, 4);
    if (noWorkerYet) expect((await system.score(score.id)).status).toBe('PENDING');
    return score.id;
  };
  const getScore = async (user: string, id: string, prefer?: string) => {
    const started = Date.now();
    const res = await system.api.http.inject({
      method: 'GET',
      url: `/scores/${id}`,
      headers: { authorization: `Bearer ${await tokenFor(user)}`, ...(prefer ? { prefer } : {}) },
    });
    return { res, at: Date.now(), took: Date.now() - started };
  };
  const connections = async () => {
    const { rows } = await system.smDb.db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database()',
    );
    return rows[0]!.n;
  };

  it('when no worker runs, then wait=5 answers after 5 s with the score still PENDING, and says the wait was applied', async () => {
    const id = await submit('idle');
    const { res, took } = await getScore('idle', id, 'respond-async, wait=5');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ id, status: 'PENDING' });
    expect(res.headers['preference-applied']).toBe('wait=5');
    expect(took).toBeGreaterThanOrEqual(4_950);
    expect(took).toBeLessThan(8_000);
  });

  it('when 1,000 requests wait, then they hold no database connection each, and one settlement statement per score wakes them all', async () => {
    const users = Array.from({ length: 100 }, (_, i) => `waiter-${i}`);
    const ids = await Promise.all(users.map((user) => submit(user)));
    const before = await connections();
    const answered: string[] = [];
    const waiting = users.flatMap((user, i) =>
      Array.from({ length: 10 }, () =>
        getScore(user, ids[i]!, 'wait=20').then((r) => {
          answered.push(r.res.json<{ status: string }>().status);
          return r;
        }),
      ),
    );
    await sleep(1_500);
    expect(answered).toEqual([]);
    const during = await connections();
    // The pool and the one LISTEN connection, whatever the number of waiting requests.
    expect(during - before).toBeLessThanOrEqual(5);
    expect(during).toBeLessThan(40);

    // The worker's settlement statement, as it runs after line-provider applied each score.
    const sagas = createSagaRepository();
    const settledAt = Date.now();
    for (const [i, id] of ids.entries()) {
      const settled = await sagas.settle(system.smDb.db, 'APPLYING', [
        {
          scoreId: id,
          version: 1,
          settlement: {
            status: 'CONFIRMED',
            rate: null,
            confirmedRate: 4,
            confirmedVersion: 1,
            reason: null,
          },
        },
      ]);
      expect(settled, users[i]).toBe(1);
    }
    const results = await Promise.all(waiting);
    expect(answered.filter((s) => s !== 'CONFIRMED')).toEqual([]);
    for (const { res, at } of results) {
      expect(res.headers['preference-applied']).toBe('wait=20');
      expect(at - settledAt).toBeLessThan(10_000);
    }
  }, 60_000);

  it('when the saga settles while wait=5 waits, then CONFIRMED comes at once, well under 5 s', async () => {
    const id = await submit('eager');
    const pending = getScore('eager', id, 'wait=5');
    await sleep(300);
    await system.addWorker();
    const { res, at, took } = await pending;
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ id, status: 'CONFIRMED', confirmed_score: 4 });
    expect(res.headers['preference-applied']).toBe('wait=5');
    expect(took).toBeLessThan(4_000);
    // Answered right after the settlement committed, not at a polling tick.
    const { rows } = await system.smDb.db.query<{ updated_at: Date }>(
      'SELECT updated_at FROM scores WHERE id = $1',
      [id],
    );
    expect(at - rows[0]!.updated_at.getTime()).toBeLessThan(500);
  });

  it('when the preference is absent, malformed or too long, then it is answered at once or shortened to 30 s', async () => {
    const id = await submit('plain', false);
    for (const prefer of [undefined, 'wait=abc', 'wait=-1', 'handling=lenient']) {
      const { res, took } = await getScore('plain', id, prefer);
      expect(res.statusCode, prefer).toBe(200);
      expect(res.headers['preference-applied'], prefer).toBeUndefined();
      expect(took, prefer).toBeLessThan(2_000);
    }
    // Settled already (a worker runs now): a long wait is answered at once, shortened to the maximum.
    const settled = await submit('settled', false);
    await waitFor(async () => (await system.score(settled)).status !== 'PENDING', {
      what: 'the score settled',
    });
    const { res, took } = await getScore('settled', settled, 'wait=3600');
    expect(res.headers['preference-applied']).toBe('wait=30');
    expect(res.json()).toMatchObject({ status: 'CONFIRMED' });
    expect(took).toBeLessThan(2_000);
  });
  // Last: it stops the API.
  it('when the API shuts down while a request waits, then that request is answered at once and the shutdown does not wait for it', async () => {
    await system.stopLineProvider(); // the saga cannot settle: the score stays PENDING
    const id = await submit('stopping', false);
    const waiting = getScore('stopping', id, 'wait=30');
    await sleep(300);
    const stopStarted = Date.now();
    await system.api.stop();
    const stopTook = Date.now() - stopStarted;
    const { res, took } = await waiting;
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ id, status: 'PENDING' });
    expect(took).toBeLessThan(5_000);
    expect(stopTook).toBeLessThan(5_000);
  });
});
