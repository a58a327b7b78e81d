import { createMemoryBroker, silentLogger } from '@scoreline/platform';
import { createTestDatabase, testServices, waitFor, type TestDatabase } from '@scoreline/platform/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildLineProvider, lineProviderMigrations } from '../src/index.js';
import { testConfig } from './helpers.js';

describe.skipIf(!testServices().postgresUrl)(
  `deadline closer${testServices().postgresUrl ? '' : ' [skipped: two closers at once need PostgreSQL]'}`,
  () => {
    let tdb: TestDatabase;
    beforeAll(async () => {
      tdb = await createTestDatabase(lineProviderMigrations);
    });
    afterAll(async () => {
      await tdb.dispose();
    });

    it('when deadlines pass with two replicas running, then each event is closed once with one CLOSED message', async () => {
      // Two full line-provider replicas, each with its own pool and its own closer, on one database.
      const config = testConfig({ DEADLINE_CHECK_INTERVAL: '20ms' });
      const replicas = await Promise.all(
        [0, 1].map(() =>
          buildLineProvider(config, {
            logger: silentLogger(),
            db: tdb.connect(),
            broker: createMemoryBroker(),
          }),
        ),
      );
      await Promise.all(replicas.map((r) => r.start()));
      try {
        await tdb.db.exec(`
          INSERT INTO events (title, deadline) SELECT 'due ' || g, now() + interval '300 milliseconds' FROM generate_series(1, 150) g;
          INSERT INTO events (title, deadline) SELECT 'later ' || g, now() + interval '1 day' FROM generate_series(1, 5) g;`);
        await waitFor(
          async () =>
            (await tdb.db.query(`SELECT 1 FROM events WHERE title LIKE 'due %' AND state = 'OPEN'`))
              .rowCount === 0,
          { what: 'every due event closed', timeoutMs: 15_000 },
        );
        const { rows } = await tdb.db.query<{ message_key: string; n: number }>(
          `SELECT message_key, count(*)::int AS n FROM outbox WHERE payload->>'kind' = 'EVENT_CHANGE_KIND_CLOSED' GROUP BY 1`,
        );
        expect(rows).toHaveLength(150);
        expect(rows.every((r) => r.n === 1)).toBe(true);
        const versions = await tdb.db.query<{ version: number }>(
          `SELECT DISTINCT version FROM events WHERE title LIKE 'due %'`,
        );
        expect(versions.rows).toEqual([{ version: 2 }]);
        const open = await tdb.db.query(`SELECT 1 FROM events WHERE title LIKE 'later %' AND state = 'OPEN'`);
        expect(open.rowCount).toBe(5);
      } finally {
        await Promise.all(replicas.map((r) => r.stop()));
      }
    });
  },
);
