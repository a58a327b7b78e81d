import { randomUUID } from 'node:crypto';
import { createTestDatabase, type TestDatabase } from '@scoreline/platform/testing';
import { lineProviderMigrations } from '@scoreline/line-provider';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scoreMakerMigrations } from '../src/index.js';
import { checkInvariants } from './invariants.js';

describe('checkInvariants', () => {
  let lp: TestDatabase;
  let sm: TestDatabase;
  beforeAll(async () => {
    lp = await createTestDatabase(lineProviderMigrations);
    sm = await createTestDatabase(scoreMakerMigrations);
  });
  afterAll(async () => {
    await lp.dispose();
    await sm.dispose();
  });

  it('when both databases agree, then it reports nothing; when they drift, then it names what drifted', async () => {
    const { rows } = await lp.db.query<{ id: number }>(
      `INSERT INTO events (title, deadline, score_count, score_sum, rate_4) VALUES ('e', now() + interval '1 day', 1, 4, 1) RETURNING id`,
    );
    const eventId = rows[0]!.id;
    const scoreId = randomUUID();
    await lp.db.query(
      `INSERT INTO score_ledger (score_id, event_id, user_id, max_version, applied_version, applied_rate) VALUES ($1, $2, 'u', 1, 1, 4)`,
      [scoreId, eventId],
    );
    await sm.db.query(
      `INSERT INTO scores (id, user_id, event_id, rate, status, confirmed_rate, confirmed_version) VALUES ($1, 'u', $2, 4, 'CONFIRMED', 4, 1)`,
      [scoreId, eventId],
    );
    expect(await checkInvariants(lp.db, sm.db)).toEqual({
      pending: 0,
      eventMismatches: [],
      scoreMismatches: [],
      ledgerMismatches: [],
    });

    // An aggregate moved twice, a score-maker value that line-provider does not hold, a pending score.
    await lp.db.query('UPDATE events SET score_count = 2, score_sum = 8, rate_4 = 2 WHERE id = $1', [
      eventId,
    ]);
    await sm.db.query('UPDATE scores SET confirmed_rate = 5 WHERE id = $1', [scoreId]);
    await sm.db.query(`INSERT INTO scores (user_id, event_id, rate) VALUES ('v', $1, 3)`, [eventId]);
    const report = await checkInvariants(lp.db, sm.db);
    expect(report.pending).toBe(1);
    expect(report.ledgerMismatches).toEqual([eventId]);
    expect(report.scoreMismatches).toEqual([{ scoreId, lineProvider: 4, scoreMaker: 5 }]);
    expect(report.eventMismatches).toEqual([
      {
        eventId,
        lineProvider: { count: 2, sum: 8, histogram: [0, 0, 0, 2, 0] },
        scoreMaker: { count: 1, sum: 5, histogram: [0, 0, 0, 0, 1] },
      },
    ]);
  });
});
