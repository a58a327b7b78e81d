import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresDatabase, isAppError, silentLogger, type Database } from '../src/index.js';
import {
  privatePostgresAvailable,
  startPrivatePostgres,
  waitFor,
  type PrivatePostgres,
} from '../src/testing/index.js';

const skip = !privatePostgresAvailable();

/**
 * The pg driver under a server restart: no connection error may reach an 'error' event without a
 * listener (that ends the process), failures surface as UNAVAILABLE, and the pool and LISTEN recover.
 */
describe.skipIf(skip)(
  `PostgreSQL connections across a server restart${skip ? ' [skipped: no initdb]' : ''}`,
  () => {
    let server: PrivatePostgres;
    let db: Database;
    const uncaught: unknown[] = [];
    const onUncaught = (error: unknown) => uncaught.push(error);

    beforeAll(async () => {
      server = await startPrivatePostgres();
      db = createPostgresDatabase({ url: server.url, logger: silentLogger(), maxConnections: 8 });
      process.on('uncaughtException', onUncaught);
    });
    afterAll(async () => {
      process.off('uncaughtException', onUncaught);
      await db?.close();
      await server?.dispose();
    });

    it('when the server restarts while a transaction holds a connection, then the transaction fails as UNAVAILABLE, nothing crashes, and the pool serves again', async () => {
      let inside!: () => void;
      const entered = new Promise<void>((resolve) => (inside = resolve));
      const held = db.transaction(async (tx) => {
        await tx.query('SELECT 1');
        inside();
        // Still inside the transaction when the server goes down.
        await tx.query('SELECT pg_sleep(5)');
      });
      const outcome = held.then(
        () => 'committed',
        (error: unknown) => error,
      );
      await entered;
      await server.restart();
      const error = await outcome;
      expect(isAppError(error, 'UNAVAILABLE'), String(error)).toBe(true);
      await waitFor(
        async () => (await db.query<{ one: number }>('SELECT $1::int AS one', [1])).rows[0]?.one === 1,
        {
          what: 'the pool to serve again',
          timeoutMs: 20_000,
        },
      );
      expect(uncaught).toEqual([]);
    });

    it('when the server is down, then queries and transactions fail fast as UNAVAILABLE; when it is back, they work', async () => {
      await server.stop();
      try {
        const failures = await Promise.all([
          db.query('SELECT 1').catch((e: unknown) => e),
          db.transaction((tx) => tx.query('SELECT 1')).catch((e: unknown) => e),
          db.ping().catch((e: unknown) => e),
        ]);
        for (const failure of failures)
          expect(isAppError(failure, 'UNAVAILABLE'), String(failure)).toBe(true);
      } finally {
        await server.start();
      }
      await waitFor(async () => (await db.transaction((tx) => tx.query('SELECT 1'))).rowCount === 1, {
        what: 'transactions to work again',
        timeoutMs: 20_000,
      });
      expect(uncaught).toEqual([]);
    });

    it('when the server stops and restarts under many concurrent queries and transactions, then no connection error goes unhandled', async () => {
      let running = true;
      const loops = Array.from({ length: 24 }, async (_, i) => {
        while (running) {
          try {
            if (i % 3 === 0) await db.query('SELECT pg_sleep(0.005)');
            else if (i % 3 === 1) {
              await db.transaction(async (tx) => {
                await tx.query('SELECT 1');
                await new Promise((resolve) => setTimeout(resolve, 2));
                await tx.query('SELECT 2');
              });
            } else await db.ping();
          } catch (error) {
            expect(isAppError(error, 'UNAVAILABLE'), String(error)).toBe(true);
            await new Promise((resolve) => setTimeout(resolve, 20));
          }
        }
      });
      try {
        for (let round = 0; round < 3; round++) {
          await new Promise((resolve) => setTimeout(resolve, 500));
          await server.stop();
          await new Promise((resolve) => setTimeout(resolve, 300));
          await server.start();
          await new Promise((resolve) => setTimeout(resolve, 500));
          await server.restart();
        }
      } finally {
        running = false;
        await Promise.all(loops);
      }
      expect(uncaught).toEqual([]);
    });

    it('when the server restarts, then a LISTEN connection reconnects by itself and receives notifications again', async () => {
      const received: string[] = [];
      const unlisten = await db.listen('restart_test', (payload) => received.push(payload));
      try {
        await db.query(`SELECT pg_notify('restart_test', $1)`, ['before']);
        await waitFor(() => received.includes('before'), { what: 'the first notification' });
        await server.restart();
        // The listener reconnects with backoff; keep notifying until one arrives.
        let n = 0;
        await waitFor(
          async () => {
            await db.query(`SELECT pg_notify('restart_test', $1)`, [`after-${n++}`]).catch(() => undefined);
            return received.some((p) => p.startsWith('after-'));
          },
          { what: 'a notification after the restart', timeoutMs: 30_000 },
        );
      } finally {
        await unlisten();
      }
      expect(uncaught).toEqual([]);
    });
  },
);
