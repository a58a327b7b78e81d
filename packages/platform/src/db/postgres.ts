import { createHash } from 'node:crypto';
import pg from 'pg';
import type { Logger } from 'pino';
import { AppError } from '../errors.js';
import {
  transactionSettingsSql,
  type Database,
  type QueryResult,
  type Queryable,
  type Row,
  type TransactionOptions,
} from './database.js';

const INT8_OID = 20;

export interface PostgresOptions {
  url: string;
  logger: Logger;
  /** Pool size; PostgreSQL on 2 cores saturates around 2–4 × cores busy connections. */
  maxConnections?: number;
  applicationName?: string;
  /** Abort statements running longer than this (ms); 0 leaves the server default. */
  statementTimeoutMs?: number;
  /**
   * Plan prepared statements on every call (plan_cache_mode = force_custom_plan) instead of letting
   * PostgreSQL settle on one generic plan per connection: see PLAN_EVERY_CALL.
   */
  planEveryCall?: boolean;
}

const parseInt8 = (value: string) => Number(value);

/*
 * Every parameterised statement runs as a named prepared statement, named by its text. PostgreSQL then
 * parses it once per connection instead of on every call. Statements are few and fixed, so the
 * per-connection cache stays small; scripts without parameters (migrations) run unprepared.
 *
 * After five calls PostgreSQL may switch a prepared statement to one generic plan and keep it for the
 * connection's life, or until the table is analyzed again. A generic plan made while a table was
 * nearly empty (a service started on a new database, autovacuum off or not yet run) scans the table
 * where an index would do, and goes on scanning it as the table grows: at 500 scores/s score-maker's
 * statements on `scores` read about a million rows a second that way. `planEveryCall` pools plan each
 * call instead, which costs about what those scans did in CPU and removes the scans and their
 * latency. line-provider's statements are its batch functions, whose plans are kept on purpose
 * (planning them on each call doubles their CPU) and guarded against such scans by migration 0006.
 */
export const PLAN_EVERY_CALL = 'SET plan_cache_mode = force_custom_plan';

/*
 * No JIT compilation on the services' connections. PostgreSQL compiles a statement with LLVM when its
 * plan's estimated cost passes jit_above_cost (100,000 by default), and it decides that from the
 * estimate, once per plan: a cached plan whose estimate is high compiles on every execution. The
 * services' statements are short and read by key, so JIT never pays for itself here, and estimates can
 * be far off: inside line-provider's batch functions (enable_seqscan = off, migration 0006) a
 * statement with no index to use is costed at 10^10, and a plan cached there (the outbox's NOTIFY
 * trigger's, reading a one-row table) then compiled, optimised and inlined on each call. Measured with
 * bench:line-provider: after its first batch phase, LLVM took 42 % of the machine's CPU and
 * PostgreSQL's CPU per ApplyScore went from 0.10 to 0.76 ms.
 */
export const NO_JIT = 'SET jit = off';

const statementNames = new Map<string, string>();
function prepared(text: string, params: readonly unknown[] | undefined): pg.QueryConfig {
  if (!params) return { text };
  let name = statementNames.get(text);
  if (!name) {
    name = `s${createHash('sha1').update(text).digest('hex').slice(0, 20)}`;
    statementNames.set(text, name);
  }
  return { name, text, values: params as unknown[] };
}
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID
      ? parseInt8
      : (pg.types.getTypeParser(oid, format) as unknown)) as typeof pg.types.getTypeParser,
};

/*
 * Errors that say the server cannot be reached right now (down, restarting, refusing connections), as
 * opposed to errors of the statement itself. They become AppError UNAVAILABLE, so that callers retry
 * and the HTTP edge answers 503 with Retry-After instead of 500. SQLSTATE class 08 is "connection
 * exception"; 57P01–57P03 are an administrator's shutdown, a crash shutdown and "cannot connect now"
 * (starting up); 53300 is too many connections.
 */
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  '57P01',
  '57P02',
  '57P03',
  '53300',
]);
const UNREACHABLE_MESSAGES =
  /Connection terminated|timeout exceeded when trying to connect|connection error|not queryable/i;

export function isConnectionError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && (UNREACHABLE_CODES.has(code) || code.startsWith('08'))) return true;
  return UNREACHABLE_MESSAGES.test(error.message);
}

function unavailable(error: unknown): unknown {
  return isConnectionError(error)
    ? new AppError('UNAVAILABLE', `PostgreSQL is unreachable: ${(error as Error).message}`, { cause: error })
    : error;
}

export function createPostgresDatabase(options: PostgresOptions): Database {
  const { logger } = options;
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.maxConnections ?? 10,
    application_name: options.applicationName,
    statement_timeout: options.statementTimeoutMs || undefined,
    connectionTimeoutMillis: 10_000,
    idleTimeoutMillis: 30_000,
    types,
    // pg-pool awaits what onConnect returns before it hands the connection out (its types say void).
    // One simple-protocol round trip per new connection.
    // eslint-disable-next-line @typescript-eslint/no-misused-promises
    onConnect: async (client: pg.ClientBase) => {
      await client.query(options.planEveryCall ? `${NO_JIT}; ${PLAN_EVERY_CALL}` : NO_JIT);
    },
  });
  // An idle client whose server connection drops is re-emitted here; without a handler it would crash
  // the process. The client's own listener below has logged it already; the pool replaces it on next use.
  pool.on('error', (error) =>
    logger.debug({ err: error }, 'idle PostgreSQL connection dropped from the pool'),
  );
  // A client has moments with no 'error' listener at all: pg-pool takes its idle listener off when it
  // hands the client out, before the new holder can add one. When the server shuts down, one socket
  // read can carry a query's last reply (which releases the client and hands it to the next waiter at
  // once) and the FATAL notice right behind it, emitted in that gap. So every client gets a listener of
  // its own for life; a client that failed is not queryable, and pg-pool discards it on release.
  pool.on('connect', (client) => {
    client.on('error', (error) => logger.warn({ err: error }, 'PostgreSQL connection failed'));
  });
  const listeners = new Set<ListenerConnection>();

  const query = async <R = Row>(text: string, params?: readonly unknown[]) => {
    try {
      const result = await pool.query(prepared(text, params));
      return { rows: result.rows as R[], rowCount: result.rowCount ?? 0 };
    } catch (error) {
      throw unavailable(error);
    }
  };

  return {
    driver: 'postgres',
    query,
    async exec(script) {
      await pool.query(script).catch((error: unknown) => {
        throw unavailable(error);
      });
    },
    async transaction<T>(work: (tx: Queryable) => Promise<T>, txOptions: TransactionOptions = {}) {
      const client = await pool.connect().catch((error: unknown) => {
        throw unavailable(error);
      });
      // A connection failure while we hold the client rejects the pending query; the client's own
      // lifelong listener (above) takes the 'error' event, and a client that failed is not queryable,
      // so pg-pool discards it on release instead of returning it to the pool.
      let broken: Error | undefined;
      try {
        const begin = txOptions.isolation ? `BEGIN ISOLATION LEVEL ${txOptions.isolation}` : 'BEGIN';
        const settings = transactionSettingsSql(txOptions.settings);
        // Several statements in one simple query: one round trip.
        await client.query(settings ? `${begin}; ${settings}` : begin);
        const tx: Queryable = {
          async query<R = Row>(text: string, params?: readonly unknown[]): Promise<QueryResult<R>> {
            const result = await client.query(prepared(text, params));
            return { rows: result.rows as R[], rowCount: result.rowCount ?? 0 };
          },
          async exec(script: string) {
            await client.query(script);
          },
        };
        const value = await work(tx);
        await client.query('COMMIT');
        return value;
      } catch (error) {
        try {
          await client.query('ROLLBACK');
        } catch (rollbackError) {
          // The connection is gone (server restart, terminated backend): drop it from the pool.
          broken = rollbackError as Error;
        }
        throw unavailable(error);
      } finally {
        client.release(broken);
      }
    },
    async listen(channel, onNotify) {
      const listener = new ListenerConnection(options, channel, onNotify);
      listeners.add(listener);
      await listener.start();
      return async () => {
        listeners.delete(listener);
        await listener.stop();
      };
    },
    async ping() {
      await query('SELECT 1');
    },
    poolStats: () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }),
    async close() {
      // Idempotent: a pool may be closed by its owner and again by a harness that tracks it.
      if (pool.ended) return;
      await Promise.all([...listeners].map((l) => l.stop()));
      listeners.clear();
      await pool.end();
    },
  };
}

/** A dedicated connection for LISTEN that reconnects with backoff when the server goes away. */
class ListenerConnection {
  private client: pg.Client | undefined;
  private stopped = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private failures = 0;

  constructor(
    private readonly options: PostgresOptions,
    private readonly channel: string,
    private readonly onNotify: (payload: string) => void,
  ) {}

  async start(): Promise<void> {
    await this.connect();
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.options.url, types });
    client.on('notification', (message) => {
      if (message.channel === this.channel) this.onNotify(message.payload ?? '');
    });
    client.on('error', (error) => {
      this.options.logger.warn({ err: error, channel: this.channel }, 'LISTEN connection failed');
      this.scheduleReconnect(client);
    });
    client.on('end', () => this.scheduleReconnect(client));
    await client.connect();
    await client.query(`LISTEN ${pg.escapeIdentifier(this.channel)}`);
    this.client = client;
    this.failures = 0;
  }

  private scheduleReconnect(client: pg.Client): void {
    if (this.stopped || this.client !== client || this.retryTimer) return;
    this.client = undefined;
    client.removeAllListeners('end');
    void client.end().catch(() => undefined);
    const delay = Math.min(30_000, 250 * 2 ** this.failures++);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.connect().catch((error: unknown) => {
        this.options.logger.warn({ err: error, channel: this.channel }, 'LISTEN reconnect failed');
        this.client = client; // let scheduleReconnect run again for this generation
        this.scheduleReconnect(client);
      });
    }, delay);
    this.retryTimer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    const client = this.client;
    this.client = undefined;
    if (client) {
      client.removeAllListeners('end');
      await client.end().catch(() => undefined);
    }
  }
}
