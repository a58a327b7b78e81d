import type { Database } from '@scoreline/platform';
import { ms, summarize } from '../lib/stats.js';
import type { Tracked } from './watch.js';

/**
 * Where a saga's time goes, read after a phase from the timestamps the system leaves behind (every one
 * from this machine's clock):
 *   outbox.created_at          T1 began (now() of the API's statement)            score-maker DB
 *   202 received               the load generator's clock
 *   outbox.published_at        the relay's claim (now() of its claim-publish-mark transaction)
 *   score_versions.created_at  T2 began in line-provider (now() of its transaction)  line-provider DB
 *   scores.updated_at          T3: the settling statement began                   score-maker DB
 * The queue keeps nothing of a message once it is done, so the time between the relay's claim and T2
 * (publish, queue, a worker's pick-up, its load of the batch, the gRPC call) is one stage.
 */
export async function stageBreakdown(
  sm: Database,
  lp: Database,
  entries: readonly Tracked[],
): Promise<string[]> {
  const settled = entries.filter((e) => e.settledAt !== undefined);
  if (settled.length === 0) return ['stage breakdown: nothing settled'];
  const ids = [...new Set(settled.map((e) => e.id))];
  const { rows: outbox } = await sm.query<{ key: string; created: number; published: number | null }>(
    `SELECT message_key || ':' || (payload->>'version') AS key,
       (extract(epoch FROM created_at) * 1000)::float8 AS created,
       (extract(epoch FROM published_at) * 1000)::float8 AS published
     FROM outbox WHERE type = 'ApplyScore' AND message_key = ANY($1::text[])`,
    [ids],
  );
  const { rows: ledger } = await lp.query<{ key: string; at: number }>(
    `SELECT score_id::text || ':' || version AS key, (extract(epoch FROM created_at) * 1000)::float8 AS at
     FROM score_versions WHERE score_id = ANY($1::uuid[]) AND apply_outcome IS NOT NULL`,
    [ids],
  );
  const outboxBy = new Map(outbox.map((r) => [r.key, r]));
  const ledgerBy = new Map(ledger.map((r) => [r.key, r.at]));
  const stages: [string, number[]][] = [
    ['T1 began -> 202 received (API statement + reply)', []],
    ['T1 began -> relay claimed the outbox row', []],
    ['relay claimed -> line-provider T2 began (publish, queue, pick-up, load, gRPC)', []],
    ['T2 began -> settled (T2 + reply + T3 statement)', []],
    ['T1 began -> settled (the saga, all of it)', []],
    ['202 received -> settled (what a client waits)', []],
  ];
  let complete = 0;
  for (const e of settled) {
    const o = outboxBy.get(`${e.id}:${e.version}`);
    const t2 = ledgerBy.get(`${e.id}:${e.version}`);
    if (!o || o.published === null || t2 === undefined) continue;
    complete++;
    const at = e.settledAt!;
    const values = [
      e.acceptedAt - o.created,
      o.published - o.created,
      t2 - o.published,
      at - t2,
      at - o.created,
    ];
    [...values, Math.max(0, at - e.acceptedAt)].forEach((v, i) => stages[i]![1].push(v));
  }
  const width = Math.max(...stages.map(([name]) => name.length));
  const cells = (values: string[]) => values.map((v) => v.padStart(9)).join(' ');
  return [
    `stage breakdown of the fixed-rate phase (${complete} of ${settled.length} settled sagas with every timestamp):`,
    `  ${'stage'.padEnd(width)}  ${cells(['p50', 'p90', 'p99', 'max'])}`,
    ...stages
      .filter(([, values]) => values.length > 0)
      .map(([name, values]) => {
        const s = summarize(values);
        return `  ${name.padEnd(width)}  ${cells([s.p50, s.p90, s.p99, s.max].map(ms))}`;
      }),
    '  (PostgreSQL timestamps in microseconds; "T1 began" is now() of the API statement, before its commit)',
  ];
}
