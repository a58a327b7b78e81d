import { PGlite, types as pgliteTypes } from '@electric-sql/pglite';
import {
  transactionSettingsSql,
  type Database,
  type QueryResult,
  type Queryable,
  type Row,
} from './database.js';
import { prepareDataFolder } from './pglite-disk.js';

export interface PgliteOptions {
  /** A folder to keep the data in; omitted, the database lives in memory and dies with the process. */
  dataDir?: string;
}

/**
 * One embedded PostgreSQL (PGlite) that several services can share, each confined to a schema of its
 * own. One instance instead of one per service halves the memory (each instance is a WebAssembly
 * PostgreSQL of a few hundred MB) and the first start's initdb.
 */
export interface PgliteInstance {
  /**
   * A database handle whose SQL runs with `search_path` set to `schema` alone (created if missing):
   * its unqualified names, migrations and their ledger included, resolve in that schema only, so one
   * service's tables are not visible to another's queries unless named with their schema.
   */
  database(schema: string): Promise<Database>;
  /** Closes the instance; handles still open fail from then on. */
  close(): Promise<void>;
}

/**
 * PGlite runs one statement at a time in this process. That is fine for the quick start and for tests
 * of logic; concurrency (SKIP LOCKED, races) is tested on real PostgreSQL only.
 */
export async function createPgliteDatabase(options: PgliteOptions = {}): Promise<Database> {
  const pg = await startPglite(options);
  return handle(
    pg,
    async (work) => work(),
    () => closePglite(pg),
  );
}

export async function openPglite(options: PgliteOptions = {}): Promise<PgliteInstance> {
  const pg = await startPglite(options);
  // search_path is a setting of PGlite's one session. Every operation of every handle takes this
  // lock, sets the path if the previous one belonged to another schema, and holds the lock until it
  // is done (a transaction: until COMMIT), so no statement ever runs under another schema's path.
  let tail: Promise<unknown> = Promise.resolve();
  let current: string | undefined;
  const open = new Set<Database>();
  return {
    async database(schema) {
      if (!/^[a-z_][a-z0-9_]*$/.test(schema)) throw new Error(`invalid schema name: ${schema}`);
      const scoped = <T>(work: () => Promise<T>): Promise<T> => {
        const run = tail.then(async () => {
          if (current !== schema) {
            current = undefined; // unknown until the SET below has succeeded
            await pg.exec(`SET search_path TO ${schema}`);
            current = schema;
          }
          return work();
        });
        tail = run.catch(() => undefined);
        return run;
      };
      await scoped(() => pg.exec(`CREATE SCHEMA IF NOT EXISTS ${schema}`));
      const db = handle(pg, scoped, async () => {
        open.delete(db);
        if (open.size === 0) await closePglite(pg);
      });
      open.add(db);
      return db;
    },
    async close() {
      open.clear();
      await closePglite(pg);
    },
  };
}

/**
 * PostgreSQL's default 128MB of shared buffers is what PGlite allocates and zeroes in its WebAssembly
 * memory, in initdb and again in every start: measured here, 16MB takes a third off the peak memory
 * of a first start and almost half off every later one. The data PGlite holds here (the quick start's,
 * tests') is far smaller than that. Set for initdb (it writes postgresql.conf) and for every start,
 * so that folders created before this setting get it too.
 */
const SETTINGS = ['-c', 'shared_buffers=16MB'];

async function startPglite(options: PgliteOptions): Promise<PGlite> {
  const settings = {
    parsers: { [pgliteTypes.INT8]: (value: string) => Number(value) },
    initDbStartParams: SETTINGS,
    startParams: [...PGlite.defaultStartParams, ...SETTINGS],
  };
  if (!options.dataDir) return PGlite.create(settings);
  const folder = prepareDataFolder(options.dataDir);
  const pg = await PGlite.create({ fs: folder.fs, ...settings });
  folder.opened();
  return pg;
}

async function closePglite(pg: PGlite) {
  if (!pg.closed) await pg.close();
}

type Exclusive = <T>(work: () => Promise<T>) => Promise<T>;

function handle(pg: PGlite, exclusive: Exclusive, close: () => Promise<void>): Database {
  const toResult = <R = Row>(result: { rows: R[]; affectedRows?: number }): QueryResult<R> => ({
    rows: result.rows,
    rowCount: result.affectedRows || result.rows.length,
  });
  let closed = false;
  const guard: Exclusive = (work) =>
    closed ? Promise.reject(new Error('the database handle is closed')) : exclusive(work);

  return {
    driver: 'pglite',
    async query<R = Row>(text: string, params?: readonly unknown[]) {
      return toResult(await guard(() => pg.query<R>(text, params as unknown[] | undefined)));
    },
    async exec(script) {
      await guard(() => pg.exec(script));
    },
    async transaction(work, txOptions = {}) {
      return guard(() =>
        pg.transaction(async (inner) => {
          if (txOptions.isolation)
            await inner.query(`SET TRANSACTION ISOLATION LEVEL ${txOptions.isolation}`);
          const settings = transactionSettingsSql(txOptions.settings);
          if (settings) await inner.query(settings);
          const tx: Queryable = {
            async query<R = Row>(text: string, params?: readonly unknown[]) {
              return toResult(await inner.query<R>(text, params as unknown[] | undefined));
            },
            async exec(script: string) {
              await inner.exec(script);
            },
          };
          return work(tx);
        }),
      );
    },
    async listen(channel, onNotify) {
      // Channels are database-wide: handles of a shared instance that listen on one channel each get
      // every notification on it (a spurious wake-up for a relay, which then finds nothing to do).
      const unlisten = await pg.listen(channel, onNotify);
      return async () => {
        if (!pg.closed) await unlisten();
      };
    },
    async ping() {
      await guard(() => pg.query('SELECT 1'));
    },
    async close() {
      if (closed) return;
      closed = true;
      // Whatever is queued on the instance finishes first.
      await exclusive(async () => undefined);
      await close();
    },
  };
}
