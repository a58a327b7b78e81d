/** A closed-loop load driver: `concurrency` callers, each starting its next call when the last ends. */

export interface LoadResult {
  calls: number;
  errors: number;
  firstError: string | undefined;
  elapsedMs: number;
  /** Latency of each successful call in ms, sorted ascending. */
  latenciesMs: Float64Array;
}

export async function runLoad(options: {
  seconds: number;
  concurrency: number;
  call: () => Promise<unknown>;
}): Promise<LoadResult> {
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  const start = process.hrtime.bigint();
  const stopAt = start + BigInt(Math.round(options.seconds * 1e9));

  const caller = async () => {
    while (process.hrtime.bigint() < stopAt) {
      const t0 = process.hrtime.bigint();
      try {
        await options.call();
        latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
      } catch (error) {
        errors++;
        firstError ??= error instanceof Error ? error.message : String(error);
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, caller));
  // Calls started before the stop time finish after it: count the time they took, too.
  const elapsedMs = Number(process.hrtime.bigint() - start) / 1e6;
  const sorted = Float64Array.from(latencies).sort();
  return { calls: latencies.length, errors, firstError, elapsedMs, latenciesMs: sorted };
}

/** The value at or below which a fraction `q` of the sorted samples fall (nearest rank). */
export function percentile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

export function summarize(result: LoadResult) {
  return {
    rate: (result.calls / result.elapsedMs) * 1000,
    p50: percentile(result.latenciesMs, 0.5),
    p99: percentile(result.latenciesMs, 0.99),
  };
}
