/** Small statistics for the benches: percentiles, medians, trends and their formatting. */

/** The q-quantile (0..1) of ascending `sorted` by the nearest-rank method; NaN for an empty list. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length))) - 1]!;
}

export interface Summary {
  n: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export function summarize(values: readonly number[]): Summary {
  const sorted = [...values].sort((a, b) => a - b);
  const q = (x: number) => quantile(sorted, x);
  return { n: sorted.length, p50: q(0.5), p90: q(0.9), p99: q(0.99), max: q(1) };
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export const mean = (values: readonly number[]) =>
  values.length ? values.reduce((a, b) => a + b, 0) / values.length : Number.NaN;

/** Milliseconds with a sensible precision: "0.84 ms", "12.3 ms", "1234 ms"; "n/a" for NaN. */
export function ms(value: number): string {
  if (!Number.isFinite(value)) return 'n/a';
  const abs = Math.abs(value);
  return `${abs < 10 ? value.toFixed(2) : abs < 100 ? value.toFixed(1) : value.toFixed(0)} ms`;
}

export const describe = (s: Summary) =>
  `p50 ${ms(s.p50)}  p90 ${ms(s.p90)}  p99 ${ms(s.p99)}  max ${ms(s.max)}  (n=${s.n})`;

/** Least-squares slope of y over x (per unit of x); 0 with fewer than two points. */
export function slope(points: readonly { x: number; y: number }[]): number {
  if (points.length < 2) return 0;
  const mx = mean(points.map((p) => p.x));
  const my = mean(points.map((p) => p.y));
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.x - mx) * (p.y - my);
    den += (p.x - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

export const int = (n: number) => (Number.isFinite(n) ? Math.round(n).toString() : 'n/a');

/** "202: 10512, 429: 3"; "none" for an empty map. */
export const counts = (map: ReadonlyMap<string, number>) =>
  [...map].map(([k, v]) => `${k}: ${v}`).join(', ') || 'none';
