/**
 * One-shot schema migration of both services' databases, then exit: compose.yaml's `migrate` service
 * (and a Kubernetes Job) runs it before line-provider and score-maker start.
 *
 *   LINE_PROVIDER_DATABASE_URL=postgres://…/line_provider SCORE_MAKER_DATABASE_URL=postgres://…/score_maker \
 *     node --import tsx deploy/migrate.ts
 *
 * Either URL may be left unset to migrate only the other database (one Job per service), not both.
 * Running it again, or several copies at once, is safe: `migrate()` takes a transaction-scoped advisory
 * lock per database and skips what `schema_migrations` already records. The services still migrate at
 * start (the same code, so they find nothing left to do); running it first keeps DDL and its locks out
 * of the replicas' start-up and makes a broken migration fail one visible job instead of every replica.
 *
 * While the server is not accepting connections yet (a database container still starting) it retries
 * for MIGRATE_CONNECT_TIMEOUT (default 60s). Exit codes: 0 migrated; 1 a database could not be reached
 * or a migration failed; 2 bad configuration.
 */
import { lineProviderMigrations } from '@scoreline/line-provider';
import {
  ConfigError,
  createLogger,
  env,
  loadConfig,
  migrate,
  openDatabase,
  type Logger,
  type Migration,
} from '@scoreline/platform';
import { scoreMakerMigrations } from '@scoreline/score-maker';

const serverUrl = () => env.url(['postgres:', 'postgresql:']).optional();

const migrateConfigSchema = {
  LOG_LEVEL: env.logLevel(),
  /** line-provider's database to migrate; unset, it is left alone. */
  LINE_PROVIDER_DATABASE_URL: serverUrl(),
  /** score-maker's database to migrate; unset, it is left alone. */
  SCORE_MAKER_DATABASE_URL: serverUrl(),
  /** How long to keep retrying while a database server does not accept connections yet. */
  MIGRATE_CONNECT_TIMEOUT: env.duration('60s'),
};

interface Target {
  name: string;
  url: string;
  migrations: readonly Migration[];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function migrateOne(target: Target, connectTimeoutMs: number, logger: Logger): Promise<number> {
  const log = logger.child({ database: target.name });
  const db = await openDatabase({
    url: target.url,
    logger: log,
    maxConnections: 1,
    applicationName: 'migrate',
  });
  try {
    const deadline = Date.now() + connectTimeoutMs;
    for (let delay = 250; ; delay = Math.min(delay * 2, 5000)) {
      try {
        await db.ping();
        break;
      } catch (error) {
        if (Date.now() + delay > deadline) throw error;
        const reason = error instanceof Error ? error.message : String(error);
        log.info({ reason, retryInMs: delay }, 'database not reachable yet');
        await sleep(delay);
      }
    }
    const applied = await migrate(db, target.migrations, log);
    log.info({ applied, known: target.migrations.length }, 'database migrated');
    return applied;
  } finally {
    await db.close();
  }
}

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig(migrateConfigSchema);
    if (!config.LINE_PROVIDER_DATABASE_URL && !config.SCORE_MAKER_DATABASE_URL) {
      throw new ConfigError([
        'LINE_PROVIDER_DATABASE_URL, SCORE_MAKER_DATABASE_URL: set at least one postgres:// URL (neither is set)',
      ]);
    }
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`migrate: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const logger = createLogger({ name: 'migrate', level: config.LOG_LEVEL });
  const targets: Target[] = [];
  if (config.LINE_PROVIDER_DATABASE_URL) {
    targets.push({
      name: 'line-provider',
      url: config.LINE_PROVIDER_DATABASE_URL,
      migrations: lineProviderMigrations,
    });
  }
  if (config.SCORE_MAKER_DATABASE_URL) {
    targets.push({
      name: 'score-maker',
      url: config.SCORE_MAKER_DATABASE_URL,
      migrations: scoreMakerMigrations,
    });
  }
  // One after the other: the logs read in order, and the first failure stops the job.
  for (const target of targets) await migrateOne(target, config.MIGRATE_CONNECT_TIMEOUT, logger);
}

main().catch((error: unknown) => {
  process.stderr.write(`migrate failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
