import { randomUUID } from 'node:crypto';
import { testServices, waitFor } from '@scoreline/platform/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { SagaSystem, type BrokerKind } from './saga-harness.js';

const kinds: BrokerKind[] = testServices().redisUrl ? ['redis', 'memory'] : ['memory'];
const settled = (s: { status: string }) => s.status !== 'PENDING';

describe.each(kinds)('the SubmitScore saga on the %s broker', (kind) => {
  let system: SagaSystem | undefined;
  afterEach(async () => {
    await system?.dispose();
    system = undefined;
  });

  it('when a score is submitted, then it becomes CONFIRMED and the aggregates move once', async () => {
    system = await SagaSystem.start(kind);
    const eventId = await system.createEvent();
    const { id } = await system.submit('alice', eventId, 4);
    const score = await waitFor(
      async () => {
        const s = await system!.score(id);
        return settled(s) && s;
      },
      { what: 'confirmation' },
    );
    expect(score).toMatchObject({
      status: 'CONFIRMED',
      rate: 4,
      confirmed_rate: 4,
      reason: null,
      saga_state: null,
    });
    expect(await system.aggregates(eventId)).toEqual({ score_count: 1, score_sum: 4 });
    // A change goes through the same saga and moves the aggregates by the difference.
    await system.submit('alice', eventId, 1);
    await waitFor(async () => (await system!.score(id)).confirmed_rate === 1, { what: 'the change' });
    expect(await system.aggregates(eventId)).toEqual({ score_count: 1, score_sum: 1 });
    const report = await system.invariants();
    expect(report).toEqual({ pending: 0, eventMismatches: [], scoreMismatches: [], ledgerMismatches: [] });
  });

  it('when the event closes while the saga is in flight, then the score is REJECTED and the aggregates stay untouched', async () => {
    system = await SagaSystem.start(kind, { workers: 0 });
    const eventId = await system.createEvent();
    const { id } = await system.submit('bob', eventId, 5); // accepted while open; no worker yet
    await system.closeEvent(eventId);
    await waitFor(
      async () =>
        (await system!.lpDb.db.query(`SELECT 1 FROM events WHERE id = $1 AND state = 'CLOSED'`, [eventId]))
          .rowCount === 1,
      {
        what: 'the closer',
      },
    );
    await system.addWorker();
    const score = await waitFor(
      async () => {
        const s = await system!.score(id);
        return settled(s) && s.final && s;
      },
      { what: 'rejection and finality' },
    );
    expect(score).toMatchObject({
      status: 'REJECTED',
      reason: 'EVENT_CLOSED',
      confirmed_rate: null,
      final: true,
    });
    expect(await system.aggregates(eventId)).toEqual({ score_count: 0, score_sum: 0 });
    expect((await system.invariants()).eventMismatches).toEqual([]);
  });

  it('when a change is rejected after the event closed, then the score goes back to its confirmed value', async () => {
    system = await SagaSystem.start(kind, { workers: 1 });
    const eventId = await system.createEvent();
    const { id } = await system.submit('carol', eventId, 2);
    await waitFor(async () => (await system!.score(id)).status === 'CONFIRMED', { what: 'confirmation' });
    await Promise.all(system.workers.splice(0).map((w) => w.stop()));
    await system.submit('carol', eventId, 5);
    await system.closeEvent(eventId);
    await waitFor(
      async () =>
        (await system!.lpDb.db.query(`SELECT 1 FROM events WHERE id = $1 AND state = 'CLOSED'`, [eventId]))
          .rowCount === 1,
      {
        what: 'the closer',
      },
    );
    await system.addWorker();
    const score = await waitFor(
      async () => {
        const s = await system!.score(id);
        return settled(s) && s;
      },
      { what: 'compensation' },
    );
    expect(score).toMatchObject({
      status: 'CONFIRMED',
      rate: 2,
      confirmed_rate: 2,
      reason: 'EVENT_CLOSED',
      version: 2,
    });
    expect(await system.aggregates(eventId)).toEqual({ score_count: 1, score_sum: 2 });
  });

  it('when line-provider is down for a moment and comes back, then the score is CONFIRMED', async () => {
    system = await SagaSystem.start(kind, { env: { SAGA_TIMEOUT: '20s', SAGA_MAX_ATTEMPTS: '100' } });
    const eventId = await system.createEvent();
    await system.stopLineProvider();
    const { id } = await system.submit('dave', eventId, 3); // the event check is skipped while it is down
    // A delivery failed on the stopped line-provider (the worker recorded why), and the score waits.
    await waitFor(
      async () => {
        const { rows } = await system!.smDb.db.query<{ last_error: string | null }>(
          'SELECT last_error FROM scores WHERE id = $1',
          [id],
        );
        return rows[0]?.last_error != null;
      },
      { what: 'a failed delivery recorded' },
    );
    expect((await system.score(id)).status).toBe('PENDING');
    await system.startLineProvider();
    const score = await waitFor(
      async () => {
        const s = await system!.score(id);
        return settled(s) && s;
      },
      { what: 'confirmation after recovery', timeoutMs: 20_000 },
    );
    expect(score).toMatchObject({ status: 'CONFIRMED', confirmed_rate: 3 });
    expect(await system.aggregates(eventId)).toEqual({ score_count: 1, score_sum: 3 });
  });

  it('when line-provider stays down past the timeout, then REJECTED UNAVAILABLE, the revert is delivered and a late apply is refused', async () => {
    system = await SagaSystem.start(kind, { env: { SAGA_TIMEOUT: '1s', SAGA_MAX_ATTEMPTS: '4' } });
    const eventId = await system.createEvent();
    await system.stopLineProvider();
    const { id } = await system.submit('erin', eventId, 5);
    await waitFor(async () => (await system!.score(id)).saga_state === 'REVERTING', {
      what: 'the timeout',
      timeoutMs: 15_000,
    });
    expect((await system.score(id)).status).toBe('PENDING'); // until line-provider takes the revert
    await system.startLineProvider();
    const score = await waitFor(
      async () => {
        const s = await system!.score(id);
        return settled(s) && s;
      },
      { what: 'the compensation', timeoutMs: 20_000 },
    );
    expect(score).toMatchObject({
      status: 'REJECTED',
      reason: 'UNAVAILABLE',
      confirmed_rate: null,
      saga_state: null,
    });
    // line-provider holds a tombstone: the ApplyScore of that version, arriving late, is refused.
    const late = await system
      .client()
      .applyScore({ scoreId: id, version: 1, eventId, userId: 'erin', rate: 5 });
    expect(late).toMatchObject({ outcome: 'REJECTED', reason: 'REVERTED' });
    expect(await system.aggregates(eventId)).toEqual({ score_count: 0, score_sum: 0 });
    expect(await system.invariants()).toEqual({
      pending: 0,
      eventMismatches: [],
      scoreMismatches: [],
      ledgerMismatches: [],
    });
  });

  it('when every message is delivered twice, then each is applied once', async () => {
    system = await SagaSystem.start(kind);
    const eventId = await system.createEvent();
    const ids = [];
    for (let i = 0; i < 20; i++) ids.push((await system.submit(`dup${i}`, eventId, (i % 5) + 1)).id);
    await waitFor(async () => (await system!.pending()) === 0, { what: 'all settled' });
    // Re-deliver every command and every event change that was ever published, under new ids.
    const outbox = await system.smDb.db.query<{
      topic: string;
      type: string;
      message_key: string;
      payload: unknown;
    }>('SELECT topic, type, message_key, payload FROM outbox ORDER BY id');
    const broker = system.broker();
    for (const row of outbox.rows) {
      await broker.publish(row.topic, [
        {
          id: randomUUID(),
          type: row.type,
          key: row.message_key,
          payload: row.payload,
          createdAt: new Date().toISOString(),
        },
      ]);
    }
    const changes = await system.lpDb.db.query<{
      message_id: string;
      topic: string;
      payload: unknown;
      message_key: string;
    }>('SELECT message_id, topic, payload, message_key FROM outbox');
    for (const row of changes.rows) {
      await broker.publish(row.topic, [
        {
          id: row.message_id,
          type: 'EventChanged',
          key: row.message_key,
          payload: row.payload,
          createdAt: new Date().toISOString(),
        },
      ]);
    }
    await new Promise((r) => setTimeout(r, 1500));
    const expectedSum = Array.from({ length: 20 }, (_, i) => (i % 5) + 1).reduce((a, b) => a + b, 0);
    expect(await system.aggregates(eventId)).toEqual({ score_count: 20, score_sum: expectedSum });
    expect(await system.invariants()).toEqual({
      pending: 0,
      eventMismatches: [],
      scoreMismatches: [],
      ledgerMismatches: [],
    });
  });

  it('when the event closes, then its scores become final', async () => {
    system = await SagaSystem.start(kind);
    const eventId = await system.createEvent();
    const { id } = await system.submit('fay', eventId, 4);
    await waitFor(async () => (await system!.score(id)).status === 'CONFIRMED', { what: 'confirmation' });
    await system.closeEvent(eventId);
    await waitFor(async () => (await system!.score(id)).final, { what: 'finality' });
    const res = await system.api.http.inject({
      method: 'POST',
      url: `/events/${eventId}/score`,
      headers: {
        authorization: `Bearer ${await (await import('./api-harness.js')).tokenFor('fay')}`,
        'content-type': 'application/json',
      },
      payload: { score: 1 },
    });
    expect(res.statusCode).toBe(409);
  });
});
