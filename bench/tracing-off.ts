/**
 * What the tracing code costs when tracing is off (no OTEL_* exporter set, so no SDK): the calls the
 * hot paths make for every request, relay batch and worker batch, timed in this process.
 *
 *   node --import tsx bench/tracing-off.ts [--iterations 1000000]
 *
 * - activeTraceparent(): T1 stores the request's context with the score (once per POST).
 * - inBatchSpan() around an empty async function, over 200 messages without a context: a relay batch
 *   or a worker batch (once per batch).
 * - the same with itemSpans() inside, each ended: a worker batch with its per-step spans.
 * Not a test: it prints nanoseconds per call, beside an empty async call for scale.
 */
import { parseArgs } from 'node:util';
import { activeTraceparent, inBatchSpan, itemSpans } from '@scoreline/platform';

const { values } = parseArgs({ options: { iterations: { type: 'string', default: '1000000' } } });
const n = Number(values.iterations);
const batch = Array.from({ length: 200 }, () => ({ traceparent: undefined as string | undefined }));
const noop = async () => undefined;

async function time(label: string, per: number, fn: () => unknown): Promise<void> {
  for (let i = 0; i < Math.min(n, 10_000); i++) await fn(); // warm-up
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await fn();
  const ns = Number(process.hrtime.bigint() - start) / n;
  console.log(
    `${label.padEnd(58)} ${ns.toFixed(0).padStart(7)} ns per call${per > 1 ? `, ${(ns / per).toFixed(1)} ns per message` : ''}`,
  );
}

await time('empty async call (scale)', 1, noop);
await time('activeTraceparent() (per POST)', 1, () => activeTraceparent());
await time('inBatchSpan(200 messages, no context) (per batch)', 200, () =>
  inBatchSpan(
    'bench',
    batch.map((m) => m.traceparent),
    {},
    noop,
  ),
);
await time('inBatchSpan + itemSpans(200), each ended (per worker batch)', 200, () =>
  inBatchSpan(
    'bench',
    batch.map((m) => m.traceparent),
    {},
    async (span) => {
      const steps = itemSpans('bench step', span, batch);
      for (let i = 0; i < batch.length; i++) steps.end(i);
    },
  ),
);
