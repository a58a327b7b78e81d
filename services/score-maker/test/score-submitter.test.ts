import { createTestDatabase, type TestDatabase } from '@scoreline/platform/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createScoreRepository, type Submission } from '../src/data-access/score-repository.js';
import { createScoreSubmitter } from '../src/data-access/score-submitter.js';
import { scoreMakerMigrations } from '../src/index.js';

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase(scoreMakerMigrations);
});
afterAll(async () => {
  await t.dispose();
});

const scores = createScoreRepository();

/** The repository, counting the statements the submitter sends and how many submissions each holds. */
function counted() {
  const statements: number[] = [];
  return {
    statements,
    submitMany: (tx: Parameters<typeof scores.submitMany>[0], items: readonly Submission[]) => {
      statements.push(items.length);
      return scores.submitMany(tx, items);
    },
  };
}

const submission = (userId: string, eventId: number, rate: number): Submission => ({
  userId,
  eventId,
  rate,
  traceparent: null,
});

async function rowsOf(userPrefix: string) {
  const { rows } = await t.db.query<{ user_id: string; event_id: number; version: number; rate: number }>(
    `SELECT user_id, event_id, version, rate FROM scores WHERE user_id LIKE $1 || '%' ORDER BY user_id, event_id`,
    [userPrefix],
  );
  return rows;
}

async function outboxOf(userPrefix: string) {
  const { rows } = await t.db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM outbox o JOIN scores s ON o.message_key = s.id::text
     WHERE s.user_id LIKE $1 || '%'`,
    [userPrefix],
  );
  return rows[0]!.n;
}

describe('T1 in groups (the API writes many submissions in one statement under load)', () => {
  it('when one submission comes alone, then it is written at once in a statement of its own', async () => {
    const repo = counted();
    const submitter = createScoreSubmitter(t.db, repo, { maxInFlight: 2, maxBatch: 100 });
    const score = await submitter.submit(submission('alone-1', 1, 3));
    expect(score).toMatchObject({ userId: 'alone-1', eventId: 1, rate: 3, version: 1, status: 'PENDING' });
    expect(repo.statements).toEqual([1]);
  });

  it('when 600 submissions arrive at once, then each gets its own score, in far fewer statements, with one command each', async () => {
    const repo = counted();
    const submitter = createScoreSubmitter(t.db, repo, { maxInFlight: 2, maxBatch: 100 });
    const items = Array.from({ length: 600 }, (_, i) =>
      submission(`many-${i % 300}`, 1 + (i % 7), 1 + (i % 5)),
    );
    const written = await Promise.all(items.map((item) => submitter.submit(item)));

    written.forEach((score, i) => {
      expect(score).toMatchObject({
        userId: items[i]!.userId,
        eventId: items[i]!.eventId,
        rate: items[i]!.rate,
      });
    });
    expect(repo.statements.reduce((a, b) => a + b, 0)).toBe(600);
    expect(repo.statements.length).toBeLessThanOrEqual(12);
    expect(Math.max(...repo.statements)).toBeLessThanOrEqual(100);
    expect(await outboxOf('many-')).toBe(600);
    expect(submitter.stats()).toEqual({ waiting: 0, inFlight: 0 });
  });

  it('when one user scores one event several times at once, then the versions follow the order received, a statement holding one of them each', async () => {
    const repo = counted();
    const submitter = createScoreSubmitter(t.db, repo, { maxInFlight: 1, maxBatch: 100 });
    const others = Array.from({ length: 20 }, (_, i) => submission(`order-other-${i}`, 2, 1));
    const mine = [1, 2, 3, 4, 5].map((rate) => submission('order-me', 2, rate));
    const written = await Promise.all([...others, ...mine].map((item) => submitter.submit(item)));

    expect(written.slice(20).map((s) => [s!.version, s!.rate])).toEqual([
      [1, 1],
      [2, 2],
      [3, 3],
      [4, 4],
      [5, 5],
    ]);
    expect(await rowsOf('order-me')).toEqual([{ user_id: 'order-me', event_id: 2, version: 5, rate: 5 }]);
    expect(repo.statements.length).toBeGreaterThanOrEqual(5);
  });

  it('when a score in a group is final, then only that submission gets nothing and the rest are written', async () => {
    await scores.submitMany(t.db, [submission('final-1', 3, 2)]);
    await t.db.query(`UPDATE scores SET final = true WHERE user_id = 'final-1'`);
    const submitter = createScoreSubmitter(t.db, counted(), { maxInFlight: 1, maxBatch: 100 });
    const written = await Promise.all([
      submitter.submit(submission('final-0', 3, 4)),
      submitter.submit(submission('final-1', 3, 5)),
      submitter.submit(submission('final-2', 3, 1)),
    ]);
    expect(written.map((s) => s?.rate)).toEqual([4, undefined, 1]);
    expect(await rowsOf('final-1')).toEqual([{ user_id: 'final-1', event_id: 3, version: 1, rate: 2 }]);
    expect(await outboxOf('final-')).toBe(3);
  });

  it('when a group holds a submission the database refuses, then that one fails alone and the others are written', async () => {
    const repo = counted();
    const submitter = createScoreSubmitter(t.db, repo, { maxInFlight: 1, maxBatch: 100 });
    const results = await Promise.allSettled([
      submitter.submit(submission('refused-0', 4, 3)),
      submitter.submit(submission('refused-1', 4, 2)),
      // The scores table's CHECK refuses a rate of 9 (the API never sends one: its schema stops it first).
      submitter.submit(submission('refused-2', 4, 9)),
      submitter.submit(submission('refused-3', 4, 5)),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    expect((await rowsOf('refused-')).map((r) => r.user_id)).toEqual(['refused-0', 'refused-1', 'refused-3']);
    expect(await outboxOf('refused-')).toBe(3);
  });
});
