import { randomUUID } from 'node:crypto';
import { EVENT_CHANGED_TOPIC, v1 } from '@scoreline/contracts';
import { silentLogger } from '@scoreline/platform';
import { waitFor } from '@scoreline/platform/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { createSagaRepository, type SagaRepository } from '../src/data-access/saga-repository.js';
import type { ApplyScoreCommand, RevertScoreCommand } from '../src/domain/score.js';
import { createEventChanges } from '../src/use-cases/event-changes.js';
import { createSaga, type Step } from '../src/use-cases/saga.js';
import { SagaSystem } from './saga-harness.js';

/*
 * The saga's use cases a batch at a time, against a real line-provider (gRPC on a port, its own
 * database) and score-maker's database, with no worker running: the test hands the batches over itself.
 */

let system: SagaSystem | undefined;
afterEach(async () => {
  await system?.dispose();
  system = undefined;
});

const invariantsHold = { pending: 0, eventMismatches: [], scoreMismatches: [], ledgerMismatches: [] };

function sagaOf(s: SagaSystem, sagas: SagaRepository = createSagaRepository(), timeoutMs = 60_000) {
  return createSaga({
    db: s.smDb.db,
    sagas,
    lineProvider: s.client(),
    broker: s.broker(),
    settings: { maxAttempts: 5, timeoutMs },
    logger: silentLogger(),
  });
}

async function command(s: SagaSystem, scoreId: string, version?: number): Promise<ApplyScoreCommand> {
  const { rows } = await s.smDb.db.query<{
    user_id: string;
    event_id: number;
    rate: number;
    version: number;
  }>('SELECT user_id, event_id, rate, version FROM scores WHERE id = $1', [scoreId]);
  const row = rows[0]!;
  return {
    scoreId,
    version: version ?? row.version,
    eventId: row.event_id,
    userId: row.user_id,
    rate: row.rate,
  };
}

const step = <C>(c: C, attempt = 1): Step<C> => ({ id: randomUUID(), attempt, command: c });

async function waitClosed(s: SagaSystem, eventId: number) {
  await s.closeEvent(eventId);
  await waitFor(
    async () =>
      (await s.lpDb.db.query(`SELECT 1 FROM events WHERE id = $1 AND state = 'CLOSED'`, [eventId]))
        .rowCount === 1,
    { what: 'the closer' },
  );
}

describe('the saga, a batch at a time', () => {
  it('when one batch mixes every case, then each step gets its own settlement and the aggregates are exact', async () => {
    system = await SagaSystem.start('memory', { workers: 0 });
    const s = system;
    const open = await s.createEvent('open');
    const closing = await s.createEvent('closing');
    const alice = await s.submit('alice', open, 4); // plain apply
    const bob = await s.submit('bob', closing, 5); // its event closes before the batch
    const carolV1 = await s.submit('carol', open, 2);
    const carolV2 = await s.submit('carol', open, 5); // v1 is superseded
    const dave = await s.submit('dave', open, 3); // delivered twice in the batch
    const erin = await s.submit('erin', open, 1); // given up and reverted before its apply arrives
    // A score whose event line-provider does not know (written as T1 would, past the API's own check).
    const { rows } = await s.smDb.db.query<{ id: string }>(
      `INSERT INTO scores (user_id, event_id, rate, saga_state, pending_since) VALUES ('fay', 987654, 2, 'APPLYING', now())
       RETURNING id`,
    );
    const fay = rows[0]!.id;
    await waitClosed(s, closing);

    const sagas = createSagaRepository();
    const saga = sagaOf(s, sagas);
    await sagas.beginRevert(s.smDb.db, [{ scoreId: erin.id, version: 1 }]);
    expect(await saga.revert([step<RevertScoreCommand>({ scoreId: erin.id, version: 1 })])).toEqual(
      new Map(),
    );

    const daveCommand = await command(s, dave.id);
    const retries = await saga.apply([
      step(await command(s, alice.id)),
      step(await command(s, bob.id)),
      step(await command(s, fay)),
      step(await command(s, carolV1.id, 1)),
      step(await command(s, carolV2.id, 2)),
      step(daveCommand),
      step(daveCommand),
      step(await command(s, erin.id)),
    ]);
    expect(retries).toEqual(new Map());

    expect(await s.score(alice.id)).toMatchObject({
      status: 'CONFIRMED',
      confirmed_rate: 4,
      saga_state: null,
    });
    expect(await s.score(bob.id)).toMatchObject({
      status: 'REJECTED',
      reason: 'EVENT_CLOSED',
      confirmed_rate: null,
    });
    expect(await s.score(fay)).toMatchObject({ status: 'REJECTED', reason: 'EVENT_NOT_FOUND' });
    expect(await s.score(carolV2.id)).toMatchObject({ status: 'CONFIRMED', version: 2, confirmed_rate: 5 });
    expect(await s.score(dave.id)).toMatchObject({ status: 'CONFIRMED', confirmed_rate: 3 });
    expect(await s.score(erin.id)).toMatchObject({
      status: 'REJECTED',
      reason: 'UNAVAILABLE',
      confirmed_rate: null,
    });
    expect(await s.aggregates(open)).toEqual({ score_count: 3, score_sum: 12 });
    expect(await s.aggregates(closing)).toEqual({ score_count: 0, score_sum: 0 });
    // Delivered again as a whole: line-provider answers the same, nothing moves twice.
    await saga.apply([step(await command(s, alice.id)), step(daveCommand)]);
    expect(await s.aggregates(open)).toEqual({ score_count: 3, score_sum: 12 });
    await s.smDb.db.query(`DELETE FROM scores WHERE id = $1`, [fay]); // line-provider never knew it
    expect(await s.invariants()).toEqual(invariantsHold);
  });

  it('when a batch is delivered again after line-provider committed it but before it settled, then the aggregates moved once', async () => {
    system = await SagaSystem.start('memory', { workers: 0 });
    const s = system;
    const eventId = await s.createEvent();
    const submitted = [];
    for (let i = 0; i < 30; i++) submitted.push(await s.submit(`u${i}`, eventId, (i % 5) + 1));
    const real = createSagaRepository();
    let failSettles = 1;
    const sagas: SagaRepository = {
      ...real,
      settle: async (db, stepName, items) => {
        if (failSettles-- > 0) throw new Error('connection lost before the settlement');
        return real.settle(db, stepName, items);
      },
    };
    const saga = sagaOf(s, sagas);
    const steps = await Promise.all(submitted.map(async (x) => step(await command(s, x.id))));
    await expect(saga.apply(steps)).rejects.toThrow('connection lost');
    // line-provider committed the batch; score-maker has not settled it.
    expect((await s.aggregates(eventId)).score_count).toBe(30);
    expect(await s.pending()).toBe(30);
    expect(await saga.apply(steps.map((x) => ({ ...x, attempt: 2 })))).toEqual(new Map());
    expect(await s.pending()).toBe(0);
    expect(await s.aggregates(eventId)).toEqual({
      score_count: 30,
      score_sum: submitted.reduce((sum, _x, i) => sum + (i % 5) + 1, 0),
    });
    expect(await s.invariants()).toEqual(invariantsHold);
  });

  it('when one item is malformed, then the batch is split and every other item settles', async () => {
    system = await SagaSystem.start('memory', { workers: 0 });
    const s = system;
    const eventId = await s.createEvent();
    const submitted = [];
    for (let i = 0; i < 9; i++) submitted.push(await s.submit(`m${i}`, eventId, 3));
    const saga = sagaOf(s);
    const steps = await Promise.all(submitted.map(async (x) => step(await command(s, x.id))));
    const bad = steps[4]!;
    bad.command = { ...bad.command, rate: 9 }; // line-provider refuses the whole call for it
    expect(await saga.apply(steps)).toEqual(new Map());
    expect((await s.aggregates(eventId)).score_count).toBe(8);
    // The malformed step cannot ever apply: it is compensated, never retried forever.
    expect(await s.score(submitted[4]!.id)).toMatchObject({ status: 'PENDING', saga_state: 'REVERTING' });
    for (const [i, x] of submitted.entries()) {
      if (i !== 4) expect(await s.score(x.id)).toMatchObject({ status: 'CONFIRMED', confirmed_rate: 3 });
    }
  });

  it('when line-provider is down, then young steps are retried and steps past the timeout compensate in bulk', async () => {
    system = await SagaSystem.start('memory', { workers: 0 });
    const s = system;
    const eventId = await s.createEvent();
    const submitted = [];
    for (let i = 0; i < 6; i++) submitted.push(await s.submit(`d${i}`, eventId, 4));
    // Half of them pending for a minute already.
    const old = submitted.slice(0, 3).map((x) => x.id);
    await s.smDb.db.query(
      `UPDATE scores SET pending_since = now() - interval '1 minute' WHERE id = ANY($1)`,
      [old],
    );
    const saga = sagaOf(s, createSagaRepository(), 30_000);
    // Second deliveries: age alone never compensates a first one.
    const steps = await Promise.all(submitted.map(async (x) => step(await command(s, x.id), 2)));
    await s.stopLineProvider();
    const retries = await saga.apply(steps);
    expect([...retries.keys()].sort()).toEqual(
      steps
        .slice(3)
        .map((x) => x.id)
        .sort(),
    );
    for (const id of old) expect((await s.score(id)).saga_state).toBe('REVERTING');
    const { rows } = await s.smDb.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM outbox WHERE type = 'RevertScore' AND message_key = ANY($1)`,
      [old],
    );
    expect(rows[0]!.n).toBe(3);
    const reverts = old.map((id) => step<RevertScoreCommand>({ scoreId: id, version: 1 }));
    expect((await saga.revert(reverts)).size).toBe(3); // still down: retried, never dropped
    await s.startLineProvider();
    // The client reconnects with a short backoff; until then the reverts keep coming back.
    await waitFor(async () => (await saga.revert(reverts)).size === 0, { what: 'line-provider back' });
    expect(await saga.apply(steps.slice(3))).toEqual(new Map());
    // A late copy of a given-up apply finds its saga settled and changes nothing.
    expect(await saga.apply(steps.slice(0, 3))).toEqual(new Map());
    for (const id of old)
      expect(await s.score(id)).toMatchObject({ status: 'REJECTED', reason: 'UNAVAILABLE' });
    expect(await s.aggregates(eventId)).toEqual({ score_count: 3, score_sum: 12 });
    expect(await s.invariants()).toEqual(invariantsHold);
  });

  it('when the sweeper re-drives a saga, then it publishes the very message T1 and the compensation wrote', async () => {
    system = await SagaSystem.start('memory', { workers: 0 });
    const s = system;
    const eventId = await s.createEvent();
    const applying = await s.submit('gil', eventId, 2);
    const reverting = await s.submit('hal', eventId, 5);
    const sagas = createSagaRepository();
    await sagas.beginRevert(s.smDb.db, [{ scoreId: reverting.id, version: 1 }]);
    const { rows: outbox } = await s.smDb.db.query<{
      message_id: string;
      topic: string;
      message_key: string;
      type: string;
      payload: unknown;
    }>(
      `SELECT message_id, topic, message_key, type, payload FROM outbox WHERE message_key = ANY($1) ORDER BY id`,
      [[applying.id, reverting.id]],
    );
    expect(outbox.map((r) => r.type)).toEqual(['ApplyScore', 'ApplyScore', 'RevertScore']);
    const stale = await sagas.staleCommands(s.smDb.db, 0, 10);
    const written = [outbox[0]!, outbox[2]!].map((r) => ({
      topic: r.topic,
      id: r.message_id,
      key: r.message_key,
      type: r.type,
      payload: r.payload,
    }));
    expect(
      stale.map(({ topic, message }) => ({
        topic,
        id: message.id,
        key: message.key,
        type: message.type,
        payload: message.payload,
      })),
    ).toEqual(expect.arrayContaining(written));
    expect(stale).toHaveLength(2);
    // The payloads are exactly the commands' fields.
    expect(outbox[0]!.payload).toEqual({ scoreId: applying.id, version: 1, eventId, userId: 'gil', rate: 2 });
    expect(outbox[2]!.payload).toEqual({ scoreId: reverting.id, version: 1 });
  });
});

describe('EventChanged, a batch at a time', () => {
  it('when a batch holds many changes of a few events, then each event is invalidated once at its newest version and a close is acted on once', async () => {
    system = await SagaSystem.start('memory', { workers: 0 });
    const s = system;
    const open = await s.createEvent('stays open');
    const closing = await s.createEvent('closes');
    await s.submit('ian', open, 3);
    const scoreOnClosing = await s.submit('jo', closing, 4);
    const invalidations: [number, number, string?][] = [];
    const handle = createEventChanges({
      db: s.smDb.db,
      sagas: createSagaRepository(),
      cache: {
        invalidate: async (id, version, event) =>
          void invalidations.push(event ? [id, version, event.title] : [id, version]),
      },
      logger: silentLogger(),
    });
    // Messages carry the whole event after the change (here at the message's version, or not at all).
    const event = (eventId: number, version: number) =>
      v1.Event.fromPartial({
        id: eventId,
        title: `event ${eventId} at ${version}`,
        version,
        deadline: new Date('2031-01-01T00:00:00Z'),
        state: v1.EventState.EVENT_STATE_OPEN,
        status: v1.EventStatus.EVENT_STATUS_PROCESSING,
        scores: { count: 0, sum: 0, average: 0, histogram: [0, 0, 0, 0, 0] },
        createdAt: new Date('2030-01-01T00:00:00Z'),
        updatedAt: new Date('2030-01-01T00:00:00Z'),
      });
    const change = (eventId: number, version: number, kind: v1.EventChangeKind, whole = false) => ({
      id: randomUUID(),
      payload: v1.EventChanged.toJSON(
        v1.EventChanged.fromPartial({
          messageId: randomUUID(),
          eventId,
          version,
          kind,
          ...(whole ? { event: event(eventId, version) } : {}),
        }),
      ),
    });
    const close = change(closing, 7, v1.EventChangeKind.EVENT_CHANGE_KIND_CLOSED);
    await handle([
      change(open, 3, v1.EventChangeKind.EVENT_CHANGE_KIND_SCORE_APPLIED, true),
      change(open, 5, v1.EventChangeKind.EVENT_CHANGE_KIND_SCORE_APPLIED, true),
      change(open, 4, v1.EventChangeKind.EVENT_CHANGE_KIND_UPDATED, true),
      change(closing, 6, v1.EventChangeKind.EVENT_CHANGE_KIND_SCORE_APPLIED, true),
      close,
      { id: randomUUID(), payload: { eventId: 'not a number' } },
    ]);
    // The newest version of each event, with the event it carried (the close carried none).
    expect(invalidations.sort()).toEqual(
      [
        [open, 5, `event ${open} at 5`],
        [closing, 7],
      ].sort(),
    );
    expect((await s.score(scoreOnClosing.id)).final).toBe(true);
    const inbox = await s.smDb.db.query<{ message_id: string; topic: string }>(
      'SELECT message_id, topic FROM inbox',
    );
    expect(inbox.rows).toEqual([{ message_id: close.id, topic: EVENT_CHANGED_TOPIC }]);
    // The same close again (a redelivery) is recognised by the inbox.
    await s.smDb.db.query('UPDATE scores SET final = false WHERE id = $1', [scoreOnClosing.id]);
    await handle([close]);
    expect((await s.score(scoreOnClosing.id)).final).toBe(false);
  });
});
