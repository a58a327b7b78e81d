import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * The explicit-transaction case of the shared physical-limit baseline (pg-baseline.sh), alone and
 * briefly, for bench/saga.ts's drains: pg-baseline.sh always runs both of its cases for the same
 * duration, so this does what its run() does for write_tx.sql (the files beside the script): load
 * schema.sql into a database of its own, CHECKPOINT, then
 * `pgbench -n -M prepared -f write_tx.sql -c <clients> -j 2 -T <seconds>` (BEGIN, score upsert, outbox
 * insert, COMMIT: four round trips). The database is dropped afterwards.
 */

let running: ChildProcess | undefined;

/** Ends a pgbench or psql in progress (Ctrl-C); each runs in a process group of its own. */
export function stopBaseline(): void {
  if (running?.pid === undefined || running.exitCode !== null) return;
  try {
    process.kill(-running.pid, 'SIGTERM');
  } catch {
    // already gone
  }
}

async function run(command: string, args: string[], env: Record<string, string>): Promise<string> {
  const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  running = child;
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
  const [code] = (await once(child, 'exit')) as [number | null];
  running = undefined;
  if (code !== 0) throw new Error(`${command} exited ${code}: ${err.trim() || out.trim() || 'no output'}`);
  return out;
}

export interface BaselineResult {
  tps: number;
  clients: number;
  seconds: number;
}

/**
 * pgbench's tps for write_tx.sql, or why it could not run. `serverUrl` gives host, port and user;
 * `database` is created, used and dropped.
 */
export async function explicitTransactionBaseline(options: {
  script: string;
  serverUrl: string;
  database: string;
  clients: number;
  seconds: number;
  path: string;
}): Promise<BaselineResult | string> {
  const here = dirname(options.script);
  const schema = join(here, 'schema.sql');
  const tx = join(here, 'write_tx.sql');
  for (const file of [schema, tx]) if (!existsSync(file)) return `not run: ${file} not found`;
  const server = new URL(options.serverUrl);
  const env = {
    PATH: options.path,
    PGHOST: server.hostname,
    PGPORT: server.port || '5432',
    PGUSER: decodeURIComponent(server.username) || 'postgres',
    ...(server.password && { PGPASSWORD: decodeURIComponent(server.password) }),
  };
  const psql = (db: string, ...args: string[]) =>
    run('psql', ['-q', '-X', '-v', 'ON_ERROR_STOP=1', '-d', db, ...args], env);
  try {
    await psql('postgres', '-c', `DROP DATABASE IF EXISTS ${options.database} WITH (FORCE)`);
    await psql('postgres', '-c', `CREATE DATABASE ${options.database}`);
    await psql(options.database, '-c', 'SET client_min_messages = warning', '-f', schema);
    await psql(options.database, '-c', 'CHECKPOINT');
    const out = await run(
      'pgbench',
      [
        '-d',
        options.database,
        '-n',
        '-M',
        'prepared',
        '-f',
        tx,
        '-c',
        String(options.clients),
        '-j',
        '2',
        '-T',
        String(options.seconds),
      ],
      env,
    );
    const tps = /^tps = ([\d.]+)/m.exec(out)?.[1];
    if (!tps) return `failed: no tps line in pgbench's output: ${out.trim()}`;
    return { tps: Number(tps), clients: options.clients, seconds: options.seconds };
  } catch (error) {
    return `failed: ${(error as Error).message}`;
  } finally {
    await psql('postgres', '-c', `DROP DATABASE IF EXISTS ${options.database} WITH (FORCE)`).catch(
      () => undefined,
    );
  }
}
