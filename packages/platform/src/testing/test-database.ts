import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Database } from '../db/database.js';
import { advisoryKey } from '../db/database.js';
import { migrate, migrationsChecksum, type Migration } from '../db/migrate.js';
import { createPgliteDatabase } from '../db/pglite.js';
import { createPostgresDatabase } from '../db/postgres.js';
import { silentLogger } from '../logger.js';
import { testServices } from './services.js';

export interface TestDatabase {
  db: Database;
  /** Connection URL of this test database (postgres only), for child processes. */
  url: string | null;
  /** Opens another independent connection pool to the same database (postgres only). */
  connect(options?: { maxConnections?: number }): Database;
  /** Closes every pool opened here and drops the database. */
  dispose(): Promise<void>;
}

/**
 * A fresh database for one test file, already migrated. On PostgreSQL it is cloned from a template
 * database built once per distinct set of migrations (the template's name carries their checksum, so
 * a changed migration builds a new one), which costs tens of milliseconds instead of a migration run.
 * Without a server it is an in-memory PGlite database.
 */
export async function createTestDatabase(migrations: readonly Migration[]): Promise<TestDatabase> {
  const { postgresUrl } = testServices();
  if (!postgresUrl) {
    const db = await createPgliteDatabase();
    await migrate(db, migrations);
    return {
      db,
      url: null,
      connect: () => {
        throw new Error('a second connection needs PostgreSQL; PGlite is one process-local database');
      },
      dispose: () => db.close(),
    };
  }

  const template = `scoreline_tpl_${migrationsChecksum(migrations).slice(0, 16)}`;
  const name = `scoreline_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: postgresUrl });
  await admin.connect();
  try {
    await ensureTemplate(admin, postgresUrl, template, migrations);
    await admin.query(`CREATE DATABASE ${name} TEMPLATE ${template}`);
  } finally {
    await admin.end();
  }

  const url = withDatabase(postgresUrl, name);
  const pools: Database[] = [];
  const connect = (options: { maxConnections?: number } = {}) => {
    const db = createPostgresDatabase({
      url,
      logger: silentLogger(),
      maxConnections: options.maxConnections ?? 10,
    });
    pools.push(db);
    return db;
  };
  const db = connect();
  return {
    db,
    url,
    connect,
    async dispose() {
      await Promise.all(pools.map((p) => p.close()));
      const cleanup = new pg.Client({ connectionString: postgresUrl });
      await cleanup.connect();
      try {
        await cleanup.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await cleanup.end();
      }
    },
  };
}

async function ensureTemplate(
  admin: pg.Client,
  serverUrl: string,
  template: string,
  migrations: readonly Migration[],
) {
  // Test files start in parallel; one builds the template while the others wait on this lock.
  await admin.query('SELECT pg_advisory_lock($1)', [advisoryKey(template)]);
  try {
    const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [template]);
    if (rowCount) return;
    // Build under a scratch name and rename when done, so a crash never leaves a half-built template.
    const scratch = `${template}_build`;
    await admin.query(`DROP DATABASE IF EXISTS ${scratch} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${scratch}`);
    const db = createPostgresDatabase({
      url: withDatabase(serverUrl, scratch),
      logger: silentLogger(),
      maxConnections: 1,
    });
    try {
      await migrate(db, migrations);
    } finally {
      await db.close();
    }
    await admin.query(`ALTER DATABASE ${scratch} RENAME TO ${template}`);
  } finally {
    await admin.query('SELECT pg_advisory_unlock($1)', [advisoryKey(template)]);
  }
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}
