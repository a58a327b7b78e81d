import type { runOpenLoop } from '../lib/load.js';
import { counts, describe, int, mean, ms, slope, summarize } from '../lib/stats.js';
import type { Sample, Tracked } from './watch.js';

/** A backlog that grows by more than this share of the offered rate each second is "growing". */
export const GROWTH_THRESHOLD = 0.05;

export interface PhaseLoad extends Awaited<ReturnType<typeof runOpenLoop>> {
  accepted: number;
  /** Non-202 answers and transport errors, by status or error code. */
  refused: Map<string, number>;
  /** Due time → 202 arrival (ms), per 202: the API's latency as an open-loop client sees it. */
  acceptLatency: number[];
}

/** The figures of one open-loop phase, from its load, the tracked scores and the samples. */
export function figures(
  name: string,
  load: PhaseLoad,
  all: readonly Tracked[],
  samples: readonly Sample[],
  drained: boolean,
  cpu: string,
) {
  const entries = all.filter((e) => e.phase === name);
  const settled = entries.filter((e) => e.settledAt !== undefined);
  const replaced = entries.filter((e) => e.replaced).length;
  const confirmed = settled.filter((e) => e.status === 'CONFIRMED').length;
  const latency = summarize(settled.map((e) => Math.max(0, e.settledAt! - e.acceptedAt)));
  const settledEarly = settled.filter((e) => e.settledAt! < e.acceptedAt).length;

  // Settles (of any phase) per second of the sending window, by the database's settle time.
  const buckets = new Array<number>(Math.ceil(load.seconds)).fill(0);
  for (const e of all) {
    const i = Math.floor((e.settledAt! - load.startedAt) / 1000);
    if (i >= 0 && i < buckets.length) buckets[i]!++;
  }
  const confirmedPerSecond = mean(buckets.length > 2 ? buckets.slice(1) : buckets);

  const during = samples.filter((s) => s.phase === name);
  const series = (pick: (s: Sample) => number) => during.map(pick);
  const trendOf = (pick: (s: Sample) => number) =>
    slope(during.slice(1).map((s) => ({ x: (s.at - load.startedAt) / 1000, y: pick(s) })));
  const pending = series((s) => s.pending);
  const trend = trendOf((s) => s.pending);
  const growing = trend > Math.max(10, GROWTH_THRESHOLD * load.rate);
  const eventChanged = series((s) => s.eventChangedWaiting);
  const ecTrend = trendOf((s) => s.eventChangedWaiting);
  const ecGrowing = ecTrend > Math.max(10, GROWTH_THRESHOLD * load.rate);
  const lag = (outbox: (s: Sample) => { rows: number; ageMs: number }) => {
    const [rows, ages] = [series((s) => outbox(s).rows), series((s) => outbox(s).ageMs)];
    const text = `unpublished rows max ${int(Math.max(...rows))} avg ${mean(rows).toFixed(1)}; oldest unpublished max ${ms(Math.max(...ages))} avg ${ms(mean(ages))}`;
    return { text, maxMs: Math.max(...ages) };
  };
  const [smLag, lpLag] = [lag((s) => s.smOutbox), lag((s) => s.lpOutbox)];
  const signed = (n: number, digits = 1) => `${n >= 0 ? '+' : ''}${n.toFixed(digits)}/s`;
  const last = (list: number[]) => int(list[list.length - 1] ?? Number.NaN);
  const lines = [
    `  submissions sent ${load.sent} (${(load.sent / load.seconds).toFixed(1)}/s; the generator fell at most ${ms(load.maxBehindMs)} behind its schedule, event-loop delay p99 ${ms(load.loopDelayP99Ms)}), 202s ${load.accepted}, non-202 by status: ${counts(load.refused)}`,
    `  settled ${settled.length}: CONFIRMED ${confirmed}, REJECTED ${settled.length - confirmed}; left out because the same user scored that event again before the settle time was read ${replaced}; unsettled ${entries.length - settled.length - replaced}${drained ? '' : ' (drain timed out)'}`,
    `  202 -> settled (database clock):       ${describe(latency)}${settledEarly ? `; ${settledEarly} settled before their 202 arrived, counted as 0` : ''}`,
    `  due -> 202 (the API, open loop):        ${describe(summarize(load.acceptLatency))}`,
    `  settled/s over the window (first second left out): ${confirmedPerSecond.toFixed(1)}; by second: ${buckets.join(' ')}`,
    `  PENDING sagas, sampled each second: ${pending.join(' ') || 'n/a'}; max ${int(Math.max(...pending))}, last ${last(pending)}, trend ${signed(trend)}: ${growing ? 'GROWING' : 'not growing'}`,
    `  outbox lag, score-maker:   ${smLag.text}`,
    `  outbox lag, line-provider: ${lpLag.text}`,
    `  queues (waiting or delayed, not in flight): ApplyScore max ${int(Math.max(...series((s) => s.applyWaiting)))}; EventChanged (score-maker's cache invalidations) max ${int(Math.max(...eventChanged))}, last ${last(eventChanged)}, trend ${signed(ecTrend)}: ${ecGrowing ? 'GROWING' : 'not growing'}`,
    `  CPU (% of one core, from the first request until the last saga settled): ${cpu}`,
  ];
  // Whether the phase was sustained: neither the sagas in flight nor the EventChanged queue grew, 95% of
  // the rate settled, the generator kept to its schedule.
  const r = load.rate;
  const generatorKept = load.sent / load.seconds >= 0.98 * r && load.maxBehindMs < 100;
  const sustained =
    generatorKept &&
    !growing &&
    !ecGrowing &&
    confirmedPerSecond >= 0.95 * r &&
    load.accepted >= 0.99 * load.sent;
  const verdict = !generatorKept
    ? `generator could not keep up (${ms(load.maxBehindMs)} behind)`
    : sustained
      ? 'sustained'
      : growing
        ? 'backlog GROWING'
        : ecGrowing
          ? 'EventChanged backlog GROWING'
          : 'NOT sustained (settled under 95% of the rate, or refusals)';
  const row = [
    String(r).padStart(6),
    (load.sent / load.seconds).toFixed(0).padStart(7),
    (load.accepted / load.seconds).toFixed(0).padStart(7),
    confirmedPerSecond.toFixed(0).padStart(9),
    ms(latency.p50).padStart(9),
    ms(latency.p99).padStart(9),
    ` ${`${int(pending[0] ?? Number.NaN)}/${int(Math.max(...pending))}/${last(pending)}, ${signed(trend, 0)}`.padEnd(34)}`,
    `${ms(smLag.maxMs)}/${ms(lpLag.maxMs)}`.padEnd(22),
    verdict,
  ].join(' ');
  return { lines, row, confirmedPerSecond, p99: latency.p99, generatorKept, sustained, verdict };
}
