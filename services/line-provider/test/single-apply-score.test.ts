import { randomUUID } from 'node:crypto';
import { v1 } from '@scoreline/contracts';
import type { Database } from '@scoreline/platform';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENT_CHANGED_TOPIC } from '../src/data-access/event-repository.js';
import { createScoreLedgerRepository } from '../src/data-access/score-ledger-repository.js';
import type { Rate } from '../src/domain/event.js';
import { createEvent, startHarness, type Harness } from './helpers.js';
import { createLedgerModel, type ModelAnswer, type ModelApply } from './score-ledger-model.js';

/*
 * apply_scores() of one item carries out the rules itself, in statements made for one item (migrations
 * 0004 and 0005); the batch form, now named apply_scores_many(), takes every other call. For every item
 * and every state of the ledger, the two must answer, write and announce the same.
 */

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ LINE_PROVIDER_DATABASE_POOL_SIZE: '12' });
});
afterAll(async () => {
  await h.dispose();
});

const ledger = createScoreLedgerRepository();

interface Item {
  scoreId: string;
  version: number;
  eventId: number;
  userId: string;
  rate: Rate;
}

/** One item through `fn`, as line-provider sends it: its answer row, or what the error says. */
async function applyOne(fn: 'apply_scores' | 'apply_scores_many', item: Item): Promise<unknown> {
  try {
    const { rows } = await h.db.query(
      `SELECT item, outcome, reason, applied_version, applied_rate, event_version
       FROM ${fn}($1::uuid[], $2::bigint[], $3::bigint[], $4::text[], $5::smallint[], $6)`,
      [[item.scoreId], [item.version], [item.eventId], [item.userId], [item.rate], EVENT_CHANGED_TOPIC],
    );
    return rows;
  } catch (error) {
    const e = error as { code?: string; detail?: string; message?: string };
    if (!e.code) throw error;
    return { code: e.code, detail: e.detail, message: e.message };
  }
}

/** A small deterministic generator, so that a failing seed can be replayed. */
function random(seed: number) {
  let state = seed;
  return (n: number) => {
    state = (Math.imul(state, 1_103_515_245) + 12_345) >>> 0;
    return (state >>> 8) % n;
  };
}

type Step =
  | { kind: 'apply'; score: number; version: number; event: number; user: number; rate: Rate }
  | { kind: 'revert'; score: number; version: number }
  | { kind: 'close'; event: number }
  | { kind: 'cancel'; event: number };

/**
 * Everything one world holds, its score ids and event ids replaced by their index in the world (the
 * position in `scoreIds`, `eventIds`), so that two worlds can be compared.
 */
async function snapshot(db: Database, scoreIds: string[], eventIds: number[]) {
  const ledgers = await db.query(
    `SELECT array_position($1::uuid[], score_id) AS score, array_position($2::bigint[], event_id) AS event,
       user_id, max_version, applied_version, applied_rate
     FROM score_ledger WHERE score_id = ANY($1::uuid[]) ORDER BY 1`,
    [scoreIds, eventIds],
  );
  const versions = await db.query(
    `SELECT array_position($1::uuid[], score_id) AS score, version, rate, apply_outcome, reject_reason,
       revert_outcome
     FROM score_versions WHERE score_id = ANY($1::uuid[]) ORDER BY 1, 2`,
    [scoreIds],
  );
  const events = await db.query(
    `SELECT array_position($1::bigint[], id) AS event, state, score_count, score_sum,
       rate_1, rate_2, rate_3, rate_4, rate_5, version
     FROM events WHERE id = ANY($1::bigint[]) ORDER BY 1`,
    [eventIds],
  );
  // The payload less what differs between worlds anyway: ids, title, times.
  const outbox = await db.query(
    `SELECT array_position($1::bigint[], message_key::bigint) AS event, topic, type,
       payload - 'occurredAt' - 'eventId' #- '{event,id}' #- '{event,title}' #- '{event,deadline}'
         #- '{event,createdAt}' #- '{event,updatedAt}' AS payload
     FROM outbox WHERE message_key = ANY($1::bigint[]::text[]) ORDER BY id`,
    [eventIds],
  );
  return { ledgers: ledgers.rows, versions: versions.rows, events: events.rows, outbox: outbox.rows };
}

/** A set of scores and events of its own, whose applies go through `fn`. */
async function world(fn: 'apply_scores' | 'apply_scores_many') {
  const events = [await createEvent(h), await createEvent(h), await createEvent(h)];
  // Events start alike (version 1), so each world's answers carry the same event versions. The last
  // id is of no event.
  const eventIds = [...events.map((e) => e.id), 900_000_000 + events[0]!.id];
  const scoreIds = Array.from({ length: 8 }, () => randomUUID());
  return {
    async run(step: Step): Promise<unknown> {
      switch (step.kind) {
        case 'apply':
          return applyOne(fn, {
            scoreId: scoreIds[step.score]!,
            version: step.version,
            eventId: eventIds[step.event]!,
            userId: `user-${step.user}`,
            rate: step.rate,
          });
        case 'revert':
          return ledger.revertScores(h.db, [{ scoreId: scoreIds[step.score]!, version: step.version }]);
        case 'close':
        case 'cancel':
          await h.db.query(`UPDATE events SET state = $2, version = version + 1 WHERE id = $1`, [
            eventIds[step.event],
            step.kind === 'close' ? 'CLOSED' : 'CANCELLED',
          ]);
          return step.kind;
      }
    },
    snapshot: () => snapshot(h.db, scoreIds, eventIds),
  };
}

describe('ApplyScore, one item, against the batch form', () => {
  it.each([1, 2, 3, 4])(
    'when the same random steps run through the single and the batch form (seed %i), then every answer and every row written match',
    async (seed) => {
      const next = random(seed);
      const single = await world('apply_scores');
      const batch = await world('apply_scores_many');
      const seen = new Set<string>();
      for (let i = 0; i < 150; i++) {
        const roll = next(100);
        const score = next(8);
        // Versions drift upwards, so that new ones keep coming while older ones repeat or come late.
        // Each score has an event (the fourth is missing) and a user; one apply in ten names another
        // event or user (a conflict, unless the score's ledger row has no owner yet).
        const other = next(10) === 0;
        const step: Step =
          i === 40
            ? { kind: 'close', event: 1 }
            : i === 90
              ? { kind: 'cancel', event: 2 }
              : roll < 70
                ? {
                    kind: 'apply',
                    score,
                    version: Math.floor(i / 10) + 1 + next(4),
                    event: other && next(2) ? (score + 1) % 4 : score % 4,
                    user: other ? 1 : 0,
                    rate: (1 + next(5)) as Rate,
                  }
                : { kind: 'revert', score, version: Math.floor(i / 10) + 1 + next(4) };
        const answer = await single.run(step);
        expect(answer, `step ${i}: ${JSON.stringify(step)}`).toEqual(await batch.run(step));
        if (step.kind === 'apply') {
          const a = answer as { code: string } | { outcome: string; reason: string | null }[];
          seen.add('code' in a ? a.code : `${a[0]!.outcome}${a[0]!.reason ? ` ${a[0]!.reason}` : ''}`);
        }
      }
      // Every kind of answer came up.
      expect([...seen].sort()).toEqual([
        'APPLIED',
        'REJECTED EVENT_CLOSED',
        'REJECTED EVENT_NOT_FOUND',
        'REJECTED REVERTED',
        'SL001',
        'SUPERSEDED',
      ]);
      expect(await single.snapshot()).toEqual(await batch.snapshot());
    },
  );

  it('when a score id already belongs to another user, then the same error and nothing is written', async () => {
    const event = await createEvent(h);
    const scoreId = randomUUID();
    const item = { scoreId, version: 1, eventId: event.id, userId: 'owner', rate: 3 as Rate };
    await applyOne('apply_scores', item);
    const other = { ...item, version: 2, userId: 'someone-else' };
    const refusal = {
      code: 'SL001',
      detail: '0',
      message: 'score_id already belongs to another event or user',
    };
    expect(await applyOne('apply_scores', other)).toEqual(refusal);
    expect(await applyOne('apply_scores_many', other)).toEqual(refusal);
    const { rows } = await h.db.query('SELECT version FROM score_versions WHERE score_id = $1', [scoreId]);
    expect(rows).toEqual([{ version: 1 }]);
  });

  it('when single calls and batches over the same scores race, then no deadlock and every event agrees with the model', async () => {
    const events = [await createEvent(h), await createEvent(h)];
    const next = random(5);
    const scores = Array.from({ length: 40 }, (_, k) => ({
      scoreId: randomUUID(),
      k,
      event: events[k % 2]!,
    }));
    // One rate per (score, version): any order of delivery leaves the newest version's rate in effect.
    const rateOf = (k: number, version: number) => (((k * 7 + version * 3) % 5) + 1) as Rate;
    const item = (): ModelApply => {
      const s = scores[next(scores.length)]!;
      const version = 1 + next(3);
      return {
        scoreId: s.scoreId,
        version,
        eventId: s.event.id,
        userId: `r${s.k}`,
        rate: rateOf(s.k, version),
      };
    };
    const singles = Array.from({ length: 300 }, item);
    const batches = Array.from({ length: 6 }, () => Array.from({ length: 30 }, item));
    const settled = await Promise.allSettled([
      ...singles.map((i) => h.call('applyScore', i, 'internal')),
      ...batches.map((items) => h.call('applyScores', { items }, 'internal')),
    ]);
    expect(settled.filter((s) => s.status === 'rejected')).toEqual([]);

    // Whatever the order, the newest version sent of each score is in effect.
    const model = createLedgerModel();
    for (const e of events) model.addEvent(e.id, e.version);
    const newest = new Map<string, ModelApply>();
    for (const i of [...singles, ...batches.flat()]) {
      if ((newest.get(i.scoreId)?.version ?? 0) < i.version) newest.set(i.scoreId, i);
    }
    model.applyBatch([...newest.values()]);
    for (const e of events) {
      const { event } = await h.call<{ eventId: number }, v1.GetEventResponse>('getEvent', { eventId: e.id });
      const expected = model.event(e.id)!;
      expect(event!.scores).toMatchObject({
        count: expected.count,
        sum: expected.sum,
        histogram: expected.histogram,
      });
    }
  });
});

describe('ApplyScore over gRPC, one item at a time, against the rules', () => {
  it('when random single applies and reverts run, then every answer matches the sequential rules', async () => {
    const next = random(9);
    const model = createLedgerModel();
    const events = [await createEvent(h), await createEvent(h)];
    for (const e of events) model.addEvent(e.id, e.version);
    const scores = Array.from({ length: 6 }, (_, k) => ({
      scoreId: randomUUID(),
      eventId: k === 5 ? 900_000_000 : events[k % 2]!.id,
      userId: `single-${k}`,
    }));
    const fromApply = (r: v1.ApplyScoreResponse): ModelAnswer => ({
      outcome: v1
        .applyScoreOutcomeToJSON(r.outcome)
        .replace('APPLY_SCORE_OUTCOME_', '') as ModelAnswer['outcome'],
      reason: r.reason
        ? (v1.scoreRejectReasonToJSON(r.reason).replace('SCORE_REJECT_REASON_', '') as never)
        : null,
      appliedVersion: r.appliedVersion,
      appliedRate: r.appliedRate === 0 ? null : (r.appliedRate as Rate),
      eventVersion: r.eventVersion,
    });
    for (let round = 0; round < 80; round++) {
      if (round === 30) {
        await h.call('closeEvent', { eventId: events[1]!.id }, 'admin');
        model.closeEvent(events[1]!.id);
      }
      const s = scores[next(scores.length)]!;
      const version = Math.floor(round / 8) + 1 + next(4);
      if (next(10) < 7) {
        const req = { ...s, version, rate: (1 + next(5)) as Rate };
        const res = await h.call<unknown, v1.ApplyScoreResponse>('applyScore', req, 'internal');
        expect(fromApply(res), `round ${round}`).toEqual(model.applyBatch([req])[0]);
      } else {
        await h.call('revertScore', { scoreId: s.scoreId, version }, 'internal');
        model.revertBatch([{ scoreId: s.scoreId, version }]);
      }
    }
  });
});
