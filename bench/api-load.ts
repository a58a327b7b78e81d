import autocannon from 'autocannon';

/** autocannon, programmatically, one run at a time; `stopLoad()` ends the run in progress (Ctrl-C). */

let running: autocannon.Instance | undefined;

export function runLoad(options: autocannon.Options): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    running = autocannon(options, (error, result) => {
      running = undefined;
      if (error) reject(error);
      else resolve(result);
    });
  });
}

export function stopLoad(): void {
  running?.stop();
}

/** Mean req/s: autocannon's mean of its per-second samples (its "Req/Sec Avg"). */
export function rate(result: autocannon.Result): number {
  return result.requests.mean;
}

/** Counts by status code, e.g. "202: 10512, 429: 3"; "" when there were none. */
export function statusCounts(result: autocannon.Result): string {
  return Object.entries(result.statusCodeStats)
    .map(([code, { count }]) => `${code}: ${count}`)
    .join(', ');
}

export function count(result: autocannon.Result, status: number): number {
  return Number(result.statusCodeStats[String(status)]?.count ?? 0);
}

/** "p50 4 ms  p99 12 ms" (autocannon records whole milliseconds). */
export function latency(result: autocannon.Result): { p50: string; p99: string } {
  const ms = (value: number) => `${Number.isInteger(value) ? value : value.toFixed(1)} ms`;
  return { p50: ms(result.latency.p50), p99: ms(result.latency.p99) };
}
