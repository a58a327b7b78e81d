/**
 * One interface over node-postgres (a pool, for real PostgreSQL) and PGlite (WASM PostgreSQL in the
 * process, for the quick start and for tests without a server). Code above this line writes SQL once.
 *
 * Both drivers are set up to return the same JavaScript types: int8/bigint columns as `number` (ids
 * and counters here stay far below 2^53), timestamptz as `Date`, json/jsonb parsed, numeric as string.
 */
export type Row = Record<string, unknown>;

export interface QueryResult<R = Row> {
  rows: R[];
  rowCount: number;
}

/** Anything SQL can run on: the database itself or an open transaction. */
export interface Queryable {
  query<R = Row>(text: string, params?: readonly unknown[]): Promise<QueryResult<R>>;
  /** Runs a script of several statements with no parameters (migrations, test fixtures). */
  exec(script: string): Promise<void>;
}

export type IsolationLevel = 'read committed' | 'repeatable read' | 'serializable';

export interface TransactionOptions {
  isolation?: IsolationLevel;
  /**
   * Settings for this transaction only (as SET LOCAL), such as `{ synchronous_commit: 'off' }`. With
   * PostgreSQL they go with the BEGIN, in the same round trip. Names and values are the code's own,
   * never user input: both must be plain words (letters, digits, `_`, `.`, `-`).
   */
  settings?: Readonly<Record<string, string>>;
}

/** `SELECT set_config(…, true), …` for a transaction's settings; undefined when there are none. */
export function transactionSettingsSql(settings: TransactionOptions['settings']): string | undefined {
  const entries = Object.entries(settings ?? {});
  if (entries.length === 0) return undefined;
  const word = /^[A-Za-z0-9_.-]+$/;
  for (const [name, value] of entries) {
    if (!word.test(name) || !word.test(value))
      throw new Error(`invalid transaction setting ${name}=${value}`);
  }
  return `SELECT ${entries.map(([name, value]) => `set_config('${name}', '${value}', true)`).join(', ')}`;
}

export type Unlisten = () => Promise<void>;

export interface Database extends Queryable {
  readonly driver: 'postgres' | 'pglite';
  /**
   * Runs `work` in one transaction: COMMIT when it resolves, ROLLBACK when it throws (the error is
   * rethrown). Repositories take an optional `Queryable`, so a use-case passes `tx` to each of them.
   */
  transaction<T>(work: (tx: Queryable) => Promise<T>, options?: TransactionOptions): Promise<T>;
  /**
   * LISTEN on a channel. The callback gets each NOTIFY payload. On PostgreSQL the listener holds a
   * dedicated connection and reconnects by itself; notifications sent while it was away are lost,
   * which is why every listener here also polls.
   */
  listen(channel: string, onNotify: (payload: string) => void): Promise<Unlisten>;
  /** Resolves when the database answers a trivial query; used by health checks. */
  ping(): Promise<void>;
  /** The connection pool's use, for metrics (PostgreSQL only: PGlite has no pool). */
  poolStats?(): { total: number; idle: number; waiting: number };
  close(): Promise<void>;
}

/** A transaction-scoped advisory lock key from a name; stable across processes and restarts. */
export function advisoryKey(name: string): number {
  // FNV-1a, folded to a signed 32-bit integer, which pg_advisory_xact_lock(int) accepts.
  let hash = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    hash ^= name.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash | 0;
}
