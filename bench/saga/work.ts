import type { Redis } from 'ioredis';
import type { Database } from '@scoreline/platform';

/**
 * The work a phase of bench/saga caused, from PostgreSQL's and Redis's own counters: transactions
 * committed and rows written in each database, scans of line-provider's `events` table (ApplyScore
 * reads its event twice, LOCK_SQL and the aggregate UPDATE; GetEvent, which fills score-maker's events
 * cache after an invalidation, once more; the deadline closer once a second), and Redis commands
 * (server-wide, so other users of the same Redis count too). The bench's own sampling adds about a
 * dozen autocommit queries a second. PostgreSQL flushes its statistics at most once a second: take
 * the second snapshot a little over a second after the work stopped.
 */
const DB_SQL = `SELECT xact_commit::float8 AS commits, tup_inserted::float8 AS inserted,
  tup_updated::float8 AS updated, tup_deleted::float8 AS deleted,
  (SELECT coalesce(sum(seq_scan + coalesce(idx_scan, 0)), 0)::float8 FROM pg_stat_user_tables WHERE relname = 'events') AS "eventScans"
  FROM pg_stat_database WHERE datname = current_database()`;
type DbCounters = Record<'commits' | 'inserted' | 'updated' | 'deleted' | 'eventScans', number>;

export async function snapshotWork(sm: Database, lp: Database, redis: Redis) {
  const [smRows, lpRows, stats, commandStats] = await Promise.all([
    sm.query<DbCounters>(DB_SQL),
    lp.query<DbCounters>(DB_SQL),
    redis.info('stats'),
    redis.info('commandstats'),
  ]);
  // Calls by command (INFO commandstats; commands run inside Lua scripts included).
  const redisCalls = new Map<string, number>();
  for (const [, command, calls] of commandStats.matchAll(/cmdstat_([^:]+):calls=(\d+)/g))
    redisCalls.set(command!, Number(calls));
  const commands = Number(/total_commands_processed:(\d+)/.exec(stats)?.[1] ?? Number.NaN);
  return { sm: smRows.rows[0]!, lp: lpRows.rows[0]!, commands, redisCalls };
}
type WorkSnapshot = Awaited<ReturnType<typeof snapshotWork>>;

/** "score-maker DB 4.10 commits, …; line-provider DB …; Redis 31 commands (server-wide …)" per score. */
export function describeWork(before: WorkSnapshot, after: WorkSnapshot, scores: number): string {
  const per = (a: number, b: number) => ((a - b) / Math.max(1, scores)).toFixed(2);
  const top = [...after.redisCalls]
    .map(([command, calls]) => [command, calls - (before.redisCalls.get(command) ?? 0)] as const)
    .filter(([, calls]) => calls > 0)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 6)
    .map(([command, calls]) => `${command} ${per(calls, 0)}`)
    .join(', ');
  const db = (a: DbCounters, b: DbCounters) =>
    `${per(a.commits, b.commits)} commits, ${per(a.inserted, b.inserted)} rows inserted, ${per(a.updated, b.updated)} updated, ${per(a.deleted, b.deleted)} deleted`;
  return [
    `score-maker DB ${db(after.sm, before.sm)}`,
    `line-provider DB ${db(after.lp, before.lp)}, events table scans (sequential + index) ${per(after.lp.eventScans, before.lp.eventScans)}`,
    `Redis ${per(after.commands, before.commands)} commands (server-wide; most called: ${top})`,
  ].join('; ');
}
