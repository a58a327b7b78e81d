import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate, type Migration } from '../src/index.js';
import { createTestDatabase, testServices, type TestDatabase } from '../src/testing/index.js';

// A slow first migration widens the window in which two starting processes would both run it.
const migrations: Migration[] = [
  { id: 'test/0001_things', sql: 'SELECT pg_sleep(0.3); CREATE TABLE things (id int PRIMARY KEY);' },
  {
    id: 'test/0002_more',
    sql: 'ALTER TABLE things ADD COLUMN name text; INSERT INTO things VALUES (1, $$one$$);',
  },
];

describe('migrate', () => {
  let tdb: TestDatabase;
  beforeAll(async () => {
    tdb = await createTestDatabase([]);
  });
  afterAll(async () => {
    await tdb.dispose();
  });

  it('when migrations run, then each is applied once and recorded, and a second run applies nothing', async () => {
    expect(await migrate(tdb.db, migrations)).toBe(2);
    expect(await migrate(tdb.db, migrations)).toBe(0);
    const { rows } = await tdb.db.query<{ id: string }>('SELECT id FROM schema_migrations ORDER BY id');
    expect(rows.map((r) => r.id)).toEqual(['test/0001_things', 'test/0002_more']);
    expect((await tdb.db.query('SELECT * FROM things')).rows).toEqual([{ id: 1, name: 'one' }]);
  });

  it('when a migration fails, then none of it is applied and it is not recorded', async () => {
    const broken: Migration = {
      id: 'test/0003_broken',
      sql: 'CREATE TABLE halfway (id int); SELECT no_such_function();',
    };
    await expect(migrate(tdb.db, [...migrations, broken])).rejects.toThrow(/no_such_function/);
    expect((await tdb.db.query(`SELECT to_regclass('halfway') AS t`)).rows[0]).toEqual({ t: null });
    expect(
      (await tdb.db.query(`SELECT 1 FROM schema_migrations WHERE id = 'test/0003_broken'`)).rowCount,
    ).toBe(0);
  });
});

describe.skipIf(!testServices().postgresUrl)(
  `migrate from processes starting at once${testServices().postgresUrl ? '' : ' [skipped: needs PostgreSQL; PGlite is one process]'}`,
  () => {
    let tdb: TestDatabase;
    beforeAll(async () => {
      tdb = await createTestDatabase([]);
    });
    afterAll(async () => {
      await tdb.dispose();
    });

    it('when four pools migrate the same database at once, then every migration runs exactly once', async () => {
      const pools = Array.from({ length: 4 }, () => tdb.connect({ maxConnections: 1 }));
      const applied = await Promise.all(pools.map((db) => migrate(db, migrations)));
      expect(applied.reduce((a, b) => a + b, 0)).toBe(2);
      expect((await tdb.db.query('SELECT * FROM things')).rows).toEqual([{ id: 1, name: 'one' }]);
    });
  },
);
