import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate, openDatabase, openPglite, silentLogger, type Migration } from '../src/index.js';
import type { Database, PgliteInstance } from '../src/index.js';

const thingsMigrations = (service: string): Migration[] => [
  { id: `${service}/0001_things`, sql: `CREATE TABLE things (id int PRIMARY KEY, owner text NOT NULL)` },
  {
    id: `${service}/0002_outbox`,
    sql: `CREATE TABLE ${service}_outbox (id serial PRIMARY KEY);
          CREATE FUNCTION ${service}_notify() RETURNS trigger LANGUAGE plpgsql AS
            $$ BEGIN PERFORM pg_notify('shared_channel', '${service}'); RETURN NULL; END $$;
          CREATE TRIGGER ${service}_notify AFTER INSERT ON ${service}_outbox
            FOR EACH STATEMENT EXECUTE FUNCTION ${service}_notify();`,
  },
];

describe('one PGlite instance shared by two services, a schema each', () => {
  let instance: PgliteInstance;
  let alpha: Database;
  let beta: Database;
  beforeAll(async () => {
    instance = await openPglite();
    alpha = await instance.database('alpha');
    beta = await instance.database('beta');
  });
  afterAll(async () => {
    await instance.close();
  });

  it('when each migrates, then each has its own tables and ledger and sees none of the other', async () => {
    expect(await migrate(alpha, thingsMigrations('alpha'))).toBe(2);
    expect(await migrate(beta, thingsMigrations('beta'))).toBe(2);
    expect(await migrate(alpha, thingsMigrations('alpha'))).toBe(0);
    const ledger = await alpha.query<{ id: string }>('SELECT id FROM schema_migrations ORDER BY id');
    expect(ledger.rows.map((r) => r.id)).toEqual(['alpha/0001_things', 'alpha/0002_outbox']);

    await expect(alpha.query('SELECT * FROM beta_outbox')).rejects.toThrow(/does not exist/);
    await expect(beta.query('SELECT * FROM alpha_outbox')).rejects.toThrow(/does not exist/);
    const tables = await beta.query<{ table_schema: string }>(
      `SELECT DISTINCT table_schema FROM information_schema.tables WHERE table_name = 'things' ORDER BY 1`,
    );
    // Both exist; only a name qualified with its schema reaches the other one.
    expect(tables.rows.map((r) => r.table_schema)).toEqual(['alpha', 'beta']);
  });

  it('when both write at once, in and out of transactions, then every statement lands in its own schema', async () => {
    const writes = Array.from({ length: 40 }, (_, i) => {
      const [db, owner] = i % 2 === 0 ? [alpha, 'alpha'] : [beta, 'beta'];
      return i % 4 < 2
        ? db.query('INSERT INTO things VALUES ($1, $2)', [i, owner])
        : db.transaction(async (tx) => {
            await tx.query('INSERT INTO things VALUES ($1, $2)', [i, owner]);
            await new Promise((resolve) => setTimeout(resolve, 1)); // let the other handle queue up
            await tx.query('UPDATE things SET owner = owner WHERE id = $1', [i]);
          });
    });
    await Promise.all(writes);
    for (const [db, owner] of [
      [alpha, 'alpha'],
      [beta, 'beta'],
    ] as const) {
      const { rows } = await db.query<{ owner: string; n: number }>(
        'SELECT owner, count(*)::int AS n FROM things GROUP BY owner',
      );
      expect(rows).toEqual([{ owner, n: 20 }]);
    }
  });

  it('when a transaction fails, then it rolls back and the next statement still runs in the right schema', async () => {
    await expect(
      alpha.transaction(async (tx) => {
        await tx.query('INSERT INTO things VALUES (1000, $1)', ['alpha']);
        await tx.query('SELECT no_such_column FROM things');
      }),
    ).rejects.toThrow(/no_such_column/);
    expect((await alpha.query('SELECT 1 FROM things WHERE id = 1000')).rowCount).toBe(0);
    expect((await beta.query(`SELECT current_schema() AS s`)).rows).toEqual([{ s: 'beta' }]);
  });

  it('when an outbox trigger notifies, then listeners get it whichever schema wrote it', async () => {
    const heard: string[] = [];
    const unlisten = await alpha.listen('shared_channel', (payload) => heard.push(payload));
    await beta.query('INSERT INTO beta_outbox DEFAULT VALUES');
    await alpha.query('INSERT INTO alpha_outbox DEFAULT VALUES');
    await unlisten();
    expect(heard).toEqual(['beta', 'alpha']);
  });

  it('when given a schema name that is not a plain identifier, then it refuses', async () => {
    await expect(instance.database('x; DROP SCHEMA alpha')).rejects.toThrow(/invalid schema name/);
  });
});

describe('a PGlite data folder on disk', () => {
  const root = mkdtempSync(join(tmpdir(), 'scoreline-pglite-'));
  const folder = join(root, 'db');
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('when creating it was interrupted, then the next open starts it over and later opens keep the data', async () => {
    // What an initdb stopped half-way leaves: some files and the marker beside the folder.
    mkdirSync(folder);
    writeFileSync(join(folder, 'PG_VERSION_half_written'), '');
    writeFileSync(`${folder}.initdb-incomplete`, '');
    const url = `pglite://${folder}?schema=alpha`;
    const first = await openDatabase({ url, logger: silentLogger() });
    await migrate(first, thingsMigrations('alpha'));
    await first.query(`INSERT INTO things VALUES (1, 'kept')`);
    await first.close();
    expect(existsSync(`${folder}.initdb-incomplete`)).toBe(false);
    expect(readdirSync(folder)).toContain('PG_VERSION');
    expect(readdirSync(folder)).not.toContain('PG_VERSION_half_written');

    const again = await openDatabase({ url, logger: silentLogger() });
    expect((await again.query('SELECT owner FROM things')).rows).toEqual([{ owner: 'kept' }]);
    await again.close();
  });

  it('when the folder holds other files and no database, then opening it fails and leaves them alone', async () => {
    const other = join(root, 'photos');
    mkdirSync(other);
    writeFileSync(join(other, 'cat.jpg'), 'meow');
    await expect(openDatabase({ url: `pglite://${other}`, logger: silentLogger() })).rejects.toThrow(
      /holds files but no PostgreSQL database/,
    );
    expect(readdirSync(other)).toEqual(['cat.jpg']);
  });
});
