import type { Database } from '@scoreline/platform';
import { ms, summarize } from './saga-stats.js';
import type { Tracked } from './saga-watch.js';

/**
 * Where a saga's time goes, read after a phase from the timestamps the system leaves behind (every one
 * from this machine's clock):
 *   outbox.created_at      T1 began (now() of the API's statement)                  score-maker DB
 *   202 received           the load generator's clock
 *   outbox.published_at    the relay's claim (now() of its claim-publish-mark transaction)
 *   score_versions.created_at  T2 began in line-provider (now() of its transaction)   line-provider DB
 *   scores.updated_at      T3: the settling statement began                         score-maker DB
 *   seen                   the live settle poller's first poll that saw it (with --poll-ms)
 * The queue keeps nothing of a message once it is done, so the time between the relay's claim and T2
 * (publish, queue, a worker's pick-up, its load of the batch, the gRPC call) is one stage.
 */
export async function stageBreakdown(deps: {
  sm: Database;
  lp: Database;
  entries: readonly Tracked[];
}): Promise<string[]> {
  const settled = deps.entries.filter((e) => e.settledAt !== undefined);
  if (settled.length === 0) return ['stage breakdown: nothing settled'];
  const ids = [...new Set(settled.map((e) => e.id))];
  const key = (id: string, version: number) => `${id}:${version}`;

  const { rows: outbox } = await deps.sm.query<{
    id: string;
    version: number;
    created: number;
    published: number | null;
  }>(
    `SELECT message_key AS id, (payload->>'version')::bigint AS version,
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

  const stages: [string, number[]][] = [
    ['T1 began -> 202 received (API statement + reply)', []],
    ['T1 began -> relay claimed the outbox row', []],
    ['relay claimed -> line-provider T2 began (publish, queue, pick-up, load, gRPC)', []],
    ['T2 began -> settled (T2 + reply + T3 statement)', []],
    ['T1 began -> settled (the saga, all of it)', []],
    ['202 received -> settled (what a client waits)', []],
    ['settled -> seen by the settle poller (resolution)', []],
  ];
  let complete = 0;
  for (const e of settled) {
    const o = outboxBy.get(key(e.id, e.version));
    const t2 = ledgerBy.get(key(e.id, e.version));
    if (!o || o.published === null || t2 === undefined) continue;
    complete++;
    const values = [
      e.acceptedAt - o.created,
      o.published - o.created,
      t2 - o.published,
      e.settledAt! - t2,
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
    `stage breakdown of the fixed-rate phase (${complete} of ${settled.length} settled sagas with every timestamp):`,
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
    '  (PostgreSQL timestamps in microseconds; "T1 began" is now() of the API statement, before its commit)',
  );
  return lines;
}
