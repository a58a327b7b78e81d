import { createLogger, createMemoryBroker, traceIdOf } from '@scoreline/platform';
import { createTestDatabase, type TestDatabase } from '@scoreline/platform/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createLineProviderClient,
  type LineProviderClient,
} from '../src/data-access/line-provider-client.js';
import { scoreMakerMigrations } from '../src/data-access/migrations.js';
import { createSagaRepository } from '../src/data-access/saga-repository.js';
import { createScoreRepository } from '../src/data-access/score-repository.js';
import type { ApplyScoreCommand } from '../src/domain/score.js';
import { createSaga } from '../src/use-cases/saga.js';

const TRACEPARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

/** A saga's steps against a line-provider that is not there (nothing listens on port 1). */
describe('log lines of saga steps', () => {
  let tdb: TestDatabase;
  let lineProvider: LineProviderClient;
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger(
    { name: 'saga-logs', level: 'info' },
    { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) },
  );

  beforeAll(async () => {
    tdb = await createTestDatabase(scoreMakerMigrations);
    lineProvider = createLineProviderClient({
      address: '127.0.0.1:1',
      internalToken: 'saga-logs-internal-token-0123456789',
      logger,
      callTimeoutMs: 500,
    });
  });
  afterAll(async () => {
    lineProvider.close();
    await tdb.dispose();
  });

  it('when a traced step gives up, is compensated and its revert fails, then every line names its score, version and trace', async () => {
    const score = (await createScoreRepository().submit(tdb.db, { userId: 'ann', eventId: 7, rate: 3 }))!;
    // The request that submitted it was traced (tracing.test.ts shows the API storing this for real).
    await tdb.db.query('UPDATE scores SET traceparent = $2 WHERE id = $1', [score.id, TRACEPARENT]);
    const command: ApplyScoreCommand = { scoreId: score.id, version: 1, eventId: 7, userId: 'ann', rate: 3 };
    const saga = createSaga({
      db: tdb.db,
      sagas: createSagaRepository(),
      lineProvider,
      broker: createMemoryBroker(),
      logger,
      settings: { maxAttempts: 1, timeoutMs: 60_000 },
    });

    // Its only attempt fails: the step gives up and the compensation goes into the outbox.
    await saga.apply([{ id: 'm1', attempt: 1, command, traceparent: TRACEPARENT }]);
    const { rows } = await tdb.db.query<{ type: string; traceparent: string | null }>(
      `SELECT type, traceparent FROM outbox WHERE message_key = $1 ORDER BY id`,
      [score.id],
    );
    // The RevertScore copies the score's context, so the compensation lands in the same trace.
    expect(rows).toEqual([
      { type: 'ApplyScore', traceparent: null },
      { type: 'RevertScore', traceparent: TRACEPARENT },
    ]);
    const retries = await saga.revert([{ id: 'm2', attempt: 1, command, traceparent: TRACEPARENT }]);
    expect(retries.has('m2')).toBe(true);
    await saga.giveUp({ id: 'm1', attempt: 2, command, traceparent: TRACEPARENT }, new Error('exhausted'));

    const steps = lines.filter((l) => String(l.msg).match(/ApplyScore|RevertScore/));
    expect(steps.map((l) => l.msg)).toEqual([
      'ApplyScore gave up; compensating with RevertScore',
      'RevertScore failed; retrying',
      'ApplyScore exhausted its attempts',
    ]);
    for (const line of steps) {
      expect(line).toMatchObject({ scoreId: score.id, version: 1, traceId: traceIdOf(TRACEPARENT) });
    }
  });
});
