import type { Redis } from 'ioredis';
import type { Database } from '@scoreline/platform';
import { ms, summarize } from './saga-stats.js';
import type { Tracked } from './saga-watch.js';

/**
 * Where a saga's time goes, read after a phase from the timestamps the system leaves behind (every one
 * from this machine's clock):
 *   outbox.created_at      T1 began (now() of the API's statement)                  score-maker DB
 *   202 received           the load generator's clock
 *   outbox.published_at    the relay's claim (now() of its claim-publish-mark transaction)
 *   job.timestamp          BullMQ job created in the relay, just before its MULTI     Redis (ms)
 *   job.processedOn        a worker took the job (moveToActive)                     Redis (ms)
 *   score_versions.created_at  T2 began in line-provider (now() of its transaction)   line-provider DB
 *   scores.updated_at      T3: the settling UPDATE began                            score-maker DB
 *   job.finishedOn         the worker marked the job completed (its slot frees)     Redis (ms)
 *   seen                   the live settle poller's first poll that saw it (with --poll-ms)
 * BullMQ keeps 10,000 finished jobs per queue (redis-broker.ts): read this soon after the phase.
 */
export async function stageBreakdown(deps: {
  sm: Database;
  lp: Database;
  redis: Redis;
  prefix: string;
  applyTopic: string;
  entries: readonly Tracked[];
}): Promise<string[]> {
  const settled = deps.entries.filter((e) => e.settledAt !== undefined);
  if (settled.length === 0) return ['stage breakdown: nothing settled'];
  const ids = [...new Set(settled.map((e) => e.id))];
  const key = (id: string, version: number) => `${id}:${version}`;

  const { rows: outbox } = await deps.sm.query<{
    id: string;
    version: number;
    message_id: string;
    created: number;
    published: number | null;
  }>(
    `SELECT message_key AS id, (payload->>'version')::bigint AS version, message_id::text AS message_id,
       (extract(epoch FROM created_at) * 1000)::float8 AS created,
       (extract(epoch FROM published_at) * 1000)::float8 AS published
     FROM outbox WHERE type = 'ApplyScore' AND message_key = ANY($1::text[])`,
    [ids],
  );
  const { rows: ledger } = await deps.lp.query<{ id: string; version: number; at: number }>(
    `SELECT score_id::text AS id, version, (extract(epoch FROM created_at) * 1000)::float8 AS at
     FROM score_versions WHERE score_id = ANY($1::uuid[]) AND apply_outcome IS NOT NULL`,
    [ids],
  );
  const outboxBy = new Map(outbox.map((r) => [key(r.id, r.version), r]));
  const ledgerBy = new Map(ledger.map((r) => [key(r.id, r.version), r.at]));

  // BullMQ job hashes, by message id (the job id), pipelined in chunks.
  const jobs = new Map<string, { added: number; picked: number; finished: number; attempts: number }>();
  const messageIds = settled
    .map((e) => outboxBy.get(key(e.id, e.version))?.message_id)
    .filter((m): m is string => m !== undefined);
  for (let i = 0; i < messageIds.length; i += 1000) {
    const chunk = messageIds.slice(i, i + 1000);
    const pipeline = deps.redis.pipeline();
    for (const m of chunk)
      pipeline.hmget(
        `${deps.prefix}:${deps.applyTopic}:${m}`,
        'timestamp',
        'processedOn',
        'finishedOn',
        'atm',
      );
    const answers = (await pipeline.exec()) ?? [];
    chunk.forEach((m, j) => {
      const values = answers[j]?.[1] as (string | null)[] | undefined;
      if (!values?.[0] || !values[1]) return;
      jobs.set(m, {
        added: Number(values[0]),
        picked: Number(values[1]),
        finished: Number(values[2] ?? Number.NaN),
        attempts: Number(values[3] ?? 1),
      });
    });
  }

  const stages: [string, number[]][] = [
    ['T1 began -> 202 received (API statement + reply)', []],
    ['T1 began -> relay claimed the outbox row', []],
    ['relay claimed -> job created for Redis', []],
    ['job created -> a worker took it (queue + pick-up)', []],
    ['worker took it -> line-provider T2 began (read + gRPC)', []],
    ['T2 began -> settled (T2 + reply + T3 UPDATE)', []],
    ['settled -> job finished (BullMQ completes it)', []],
    ['T1 began -> settled (the saga, all of it)', []],
    ['202 received -> settled (what a client waits)', []],
    ['settled -> seen by the settle poller (resolution)', []],
  ];
  let complete = 0;
  let retried = 0;
  for (const e of settled) {
    const o = outboxBy.get(key(e.id, e.version));
    const t2 = ledgerBy.get(key(e.id, e.version));
    const job = o ? jobs.get(o.message_id) : undefined;
    if (!o || o.published === null || t2 === undefined || !job) continue;
    complete++;
    if (job.attempts > 1) retried++;
    const values = [
      e.acceptedAt - o.created,
      o.published - o.created,
      job.added - o.published,
      job.picked - job.added,
      t2 - job.picked,
      e.settledAt! - t2,
      job.finished - e.settledAt!,
      e.settledAt! - o.created,
      Math.max(0, e.settledAt! - e.acceptedAt),
      e.observedAt === undefined ? Number.NaN : e.observedAt - e.settledAt!,
    ];
    values.forEach((v, i) => {
      if (!Number.isNaN(v)) stages[i]![1].push(v);
    });
  }
  const width = Math.max(...stages.map(([name]) => name.length));
  const lines = [
    `stage breakdown of the fixed-rate phase (${complete} of ${settled.length} settled sagas with every timestamp; ${retried} took more than one delivery):`,
    `  ${'stage'.padEnd(width)}  ${'p50'.padStart(9)} ${'p90'.padStart(9)} ${'p99'.padStart(9)} ${'max'.padStart(9)}`,
  ];
  for (const [name, values] of stages) {
    if (values.length === 0) continue;
    const s = summarize(values);
    lines.push(
      `  ${name.padEnd(width)}  ${ms(s.p50).padStart(9)} ${ms(s.p90).padStart(9)} ${ms(s.p99).padStart(9)} ${ms(s.max).padStart(9)}`,
    );
  }
  lines.push(
    '  (PostgreSQL timestamps in microseconds, BullMQ job timestamps in whole milliseconds: stages 3-5 and 7 are +-1 ms; "T1 began" is now() of the API statement, before its commit)',
  );
  return lines;
}
