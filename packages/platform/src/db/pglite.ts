import { PGlite, types as pgliteTypes } from '@electric-sql/pglite';
import type { Database, QueryResult, Queryable, Row } from './database.js';

export interface PgliteOptions {
  /** A folder to keep the data in; omitted, the database lives in memory and dies with the process. */
  dataDir?: string;
}

/**
 * PGlite runs one statement at a time in this process. That is fine for the quick start and for tests
 * of logic; concurrency (SKIP LOCKED, races) is tested on real PostgreSQL only.
 */
export async function createPgliteDatabase(options: PgliteOptions = {}): Promise<Database> {
  const db = await PGlite.create(options.dataDir, {
    parsers: { [pgliteTypes.INT8]: (value: string) => Number(value) },
  });

  const toResult = <R = Row>(result: { rows: R[]; affectedRows?: number }): QueryResult<R> => ({
    rows: result.rows,
    rowCount: result.affectedRows || result.rows.length,
  });

  return {
    driver: 'pglite',
    async query<R = Row>(text: string, params?: readonly unknown[]) {
      return toResult(await db.query<R>(text, params as unknown[] | undefined));
    },
    async exec(script) {
      await db.exec(script);
    },
    async transaction(work, txOptions = {}) {
      return db.transaction(async (inner) => {
        if (txOptions.isolation) await inner.query(`SET TRANSACTION ISOLATION LEVEL ${txOptions.isolation}`);
        const tx: Queryable = {
          async query<R = Row>(text: string, params?: readonly unknown[]) {
            return toResult(await inner.query<R>(text, params as unknown[] | undefined));
          },
          async exec(script: string) {
            await inner.exec(script);
          },
        };
        return work(tx);
      });
    },
    async listen(channel, onNotify) {
      const unlisten = await db.listen(channel, onNotify);
      return async () => {
        await unlisten();
      };
    },
    async ping() {
      await db.query('SELECT 1');
    },
    async close() {
      if (!db.closed) await db.close();
    },
  };
}
