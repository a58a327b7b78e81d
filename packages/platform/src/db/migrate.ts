import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { advisoryKey, type Database } from './database.js';

export interface Migration {
  /** Unique and stable, e.g. `line-provider/0001_events`; applied migrations are remembered by id. */
  id: string;
  sql: string;
}

/**
 * Reads `NNNN_name.sql` files from a folder, in numeric order, ids prefixed by `namespace/`.
 * Each file is applied in one transaction, so a file is all-or-nothing.
 */
export function loadMigrations(namespace: string, folder: string | URL): Migration[] {
  const dir = folder instanceof URL ? fileURLToPath(folder) : folder;
  return readdirSync(dir)
    .filter((name) => /^\d{4}_[\w-]+\.sql$/.test(name))
    .sort()
    .map((name) => ({ id: `${namespace}/${name.slice(0, -4)}`, sql: readFileSync(join(dir, name), 'utf8') }));
}

export function migrationsChecksum(migrations: readonly Migration[]): string {
  const hash = createHash('sha256');
  for (const m of migrations) hash.update(m.id).update('\0').update(m.sql).update('\0');
  return hash.digest('hex');
}

const LOCK = advisoryKey('scoreline:migrations');

/**
 * Applies what has not been applied yet, in order, each migration in its own transaction.
 *
 * Safe when several processes start at once: every transaction first takes one transaction-scoped
 * advisory lock, then reads the ledger. A second process waits on the lock, then finds the migration
 * recorded and skips it. (drizzle-kit's migrator reads its ledger before locking anything, so two
 * replicas can both run the same DDL: drizzle-orm issue 874. That is why this is written out.)
 *
 * A migration that was changed after it was applied is reported, not re-run: fix forward instead.
 */
export async function migrate(
  db: Database,
  migrations: readonly Migration[],
  logger?: Logger,
): Promise<number> {
  let applied = 0;
  for (const migration of migrations) {
    const checksum = createHash('sha256').update(migration.sql).digest('hex');
    const ran = await db.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [LOCK]);
      await tx.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
        id text PRIMARY KEY,
        checksum text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`);
      const { rows } = await tx.query<{ checksum: string }>(
        'SELECT checksum FROM schema_migrations WHERE id = $1',
        [migration.id],
      );
      const existing = rows[0];
      if (existing) {
        if (existing.checksum !== checksum) {
          logger?.warn({ migration: migration.id }, 'migration changed after it was applied; not re-run');
        }
        return false;
      }
      await tx.exec(migration.sql);
      await tx.query('INSERT INTO schema_migrations (id, checksum) VALUES ($1, $2)', [
        migration.id,
        checksum,
      ]);
      return true;
    });
    if (ran) {
      applied++;
      logger?.info({ migration: migration.id }, 'migration applied');
    }
  }
  return applied;
}
