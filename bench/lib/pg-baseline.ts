import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { run } from './children.js';
import { config } from './setup.js';

/**
 * The shared physical-limit baseline of ../shared/bench (PG_BASELINE_SCRIPT names pg-baseline.sh; its
 * SQL files are beside it): the durable work of a score, driven by pgbench straight into PostgreSQL,
 * no HTTP, no Node.js. Each case does what the script's run() does, in `database` (created, then
 * dropped; host, port and user from BENCH_DATABASE_URL): schema.sql, CHECKPOINT, then
 * `pgbench -n -M prepared -f <case> -c <clients> -j 2 -T <seconds>`. Cases: write_one_statement.sql
 * (score upsert + outbox insert in one statement: the limit) and write_tx.sql (BEGIN, upsert, insert,
 * COMMIT: four round trips). Resolves to tps by case, or why it could not run.
 */
export async function pgBaseline(database: string, clients: number, seconds: number, cases: string[]) {
  const files = ['schema.sql', ...cases].map((f) => join(dirname(config.PG_BASELINE_SCRIPT), f));
  for (const file of files) if (!existsSync(file)) return `not run: ${file} not found`;
  const server = new URL(config.BENCH_DATABASE_URL);
  const env = {
    PATH: config.PATH,
    PGHOST: server.hostname,
    PGPORT: server.port || '5432',
    PGUSER: decodeURIComponent(server.username) || 'postgres',
    ...(server.password && { PGPASSWORD: decodeURIComponent(server.password) }),
  };
  const psql = (...args: string[]) => run('psql', ['-q', '-X', '-v', 'ON_ERROR_STOP=1', ...args], env);
  const drop = `DROP DATABASE IF EXISTS ${database} WITH (FORCE)`;
  const tps: Record<string, number> = {};
  try {
    for (const [i, name] of cases.entries()) {
      await psql('-d', 'postgres', '-c', drop, '-c', `CREATE DATABASE ${database}`);
      await psql(
        '-d',
        database,
        '-c',
        'SET client_min_messages = warning',
        '-f',
        files[0]!,
        '-c',
        'CHECKPOINT',
      );
      const args = ['-n', '-M', 'prepared', '-f', files[i + 1]!, '-c', String(clients), '-j', '2'];
      const out = await run('pgbench', ['-d', database, ...args, '-T', String(seconds)], env);
      tps[name] = Number(/^tps = ([\d.]+)/m.exec(out)?.[1] ?? Number.NaN);
    }
    return tps;
  } catch (error) {
    return `failed: ${(error as Error).message}`;
  } finally {
    await psql('-d', 'postgres', '-c', drop).catch(() => undefined);
  }
}
