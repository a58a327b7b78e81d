import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createPostgresDatabase,
  openPglite,
  silentLogger,
  type Database,
  type Queryable,
} from '../src/index.js';
import { createTestDatabase, testServices, type TestDatabase } from '../src/testing/index.js';

const skip = !testServices().postgresUrl;

/**
 * Pools opened with planEveryCall plan each prepared statement per call (see PLAN_EVERY_CALL): every
 * connection they hand out has plan_cache_mode = force_custom_plan before its first statement, and
 * other pools leave the server's default. Every pool's connections have JIT off (see NO_JIT).
 */
describe.skipIf(skip)(`plan_cache_mode by pool${skip ? ' [skipped: needs PostgreSQL]' : ''}`, () => {
  let tdb: TestDatabase;
  const pools: Database[] = [];
  beforeAll(async () => {
    tdb = await createTestDatabase([]);
  });
  afterAll(async () => {
    await Promise.all(pools.map((pool) => pool.close()));
    await tdb?.dispose();
  });

  const open = (planEveryCall: boolean) => {
    const pool = createPostgresDatabase({
      url: tdb.url!,
      logger: silentLogger(),
      maxConnections: 4,
      planEveryCall,
    });
    pools.push(pool);
    return pool;
  };
  // Through the pool (prepared, with a parameter) and inside a transaction, on several connections at once.
  const modes = async (db: Database, setting = 'plan_cache_mode') => {
    const read = () =>
      db.query<{ mode: string }>('SELECT current_setting($1) AS mode, pg_sleep(0.05)', [setting]);
    const inTransaction = db.transaction((tx) =>
      tx.query<{ mode: string }>('SELECT current_setting($1) AS mode', [setting]),
    );
    const results = await Promise.all([read(), read(), read(), inTransaction]);
    return new Set(results.map((r) => r.rows[0]!.mode));
  };

  it('when a pool plans every call, then each of its connections has force_custom_plan; a default pool keeps auto', async () => {
    expect(await modes(open(true))).toEqual(new Set(['force_custom_plan']));
    expect(await modes(open(false))).toEqual(new Set(['auto']));
  });

  it('when any pool hands out a connection, then JIT is off on it, though the server has it on', async () => {
    const server = await open(false).query<{ jit: string }>(
      'SELECT reset_val AS jit FROM pg_settings WHERE name = $1',
      ['jit'],
    );
    expect(server.rows[0]!.jit).toBe('on');
    expect(await modes(open(true), 'jit')).toEqual(new Set(['off']));
    expect(await modes(open(false), 'jit')).toEqual(new Set(['off']));
  });
});

/*
 * A transaction's own settings (TransactionOptions.settings, which the outbox relay uses for its
 * commit without WAL flush): in effect inside it, gone after it, on both drivers; a setting that is not
 * a plain word is refused before anything is sent.
 */
describe('transaction settings', () => {
  const drivers: [string, () => Promise<{ db: Database; dispose: () => Promise<unknown> }>][] = [
    [
      'PGlite',
      async () => {
        const instance = await openPglite();
        return { db: await instance.database('settings'), dispose: () => instance.close() };
      },
    ],
  ];
  if (!skip) {
    drivers.push([
      'PostgreSQL',
      async () => {
        const tdb = await createTestDatabase([]);
        const db = createPostgresDatabase({ url: tdb.url!, logger: silentLogger(), maxConnections: 1 });
        return { db, dispose: async () => (await db.close(), await tdb.dispose()) };
      },
    ]);
  }

  it.each(drivers)(
    'when a transaction names settings on %s, then they hold inside it only',
    async (_, open) => {
      const { db, dispose } = await open();
      try {
        const read = (q: Queryable) =>
          q.query<{ sync: string; mode: string }>(
            `SELECT current_setting('synchronous_commit') AS sync, current_setting('plan_cache_mode') AS mode`,
          );
        const inside = await db.transaction((tx) => read(tx), {
          settings: { synchronous_commit: 'off', plan_cache_mode: 'force_custom_plan' },
        });
        expect(inside.rows[0]).toEqual({ sync: 'off', mode: 'force_custom_plan' });
        expect((await read(db)).rows[0]).toEqual({ sync: 'on', mode: 'auto' });
        await expect(
          db.transaction((tx) => read(tx), { settings: { synchronous_commit: "off'); DROP TABLE x; --" } }),
        ).rejects.toThrow(/invalid transaction setting/);
      } finally {
        await dispose();
      }
    },
  );
});
