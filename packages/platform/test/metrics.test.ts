import { describe, expect, it } from 'vitest';
import { createMetrics, grpcHandlingSeconds, httpRequestDuration, observeOutbox } from '../src/index.js';
import { parsePrometheusText, promqlMetricNames } from '../src/testing/index.js';

describe('process metrics', () => {
  it('when components ask for the same metric, then they share it, and the text parses strictly', async () => {
    const metrics = createMetrics();
    const a = httpRequestDuration(metrics);
    const b = httpRequestDuration(metrics);
    expect(a).toBe(b);
    a.observe({ method: 'GET', route: '/x', status: 200 }, 0.003);
    b.observe({ method: 'GET', route: '/x', status: 200 }, 0.2);
    grpcHandlingSeconds(metrics, 'server').observe(
      { grpc_service: 's.v1.S', grpc_method: 'M', grpc_code: 'OK' },
      0.01,
    );
    const text = parsePrometheusText(await metrics.text());
    expect(text.value('http_request_duration_seconds_count', { route: '/x', status: '200' })).toBe(2);
    expect(text.value('http_request_duration_seconds_bucket', { route: '/x', le: '0.005' })).toBe(1);
    expect(text.value('grpc_server_handling_seconds_count', { grpc_code: 'OK' })).toBe(1);
    // prom-client's process metrics, the event-loop delay among them.
    expect(text.families.get('nodejs_eventloop_lag_p99_seconds')?.type).toBe('gauge');
  });

  it('when scrapes come faster than a source allows, then it is read once, and a failing read keeps the last values', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    let reads = 0;
    let fail = false;
    observeOutbox(
      metrics,
      'svc',
      async () => {
        reads++;
        if (fail) throw new Error('database down');
        return { unpublished: reads, oldestSeconds: 1.5 };
      },
      60_000,
    );
    await Promise.all([metrics.text(), metrics.text()]);
    const first = parsePrometheusText(await metrics.text());
    expect(reads).toBe(1);
    expect(first.value('scoreline_outbox_unpublished', { service: 'svc' })).toBe(1);
    expect(first.value('scoreline_outbox_oldest_unpublished_seconds', { service: 'svc' })).toBe(1.5);

    const every = createMetrics({ defaultMetrics: false });
    let n = 0;
    observeOutbox(
      every,
      'svc',
      async () => {
        n++;
        if (fail) throw new Error('database down');
        return { unpublished: n, oldestSeconds: 0 };
      },
      0,
    );
    await every.text();
    fail = true;
    const kept = parsePrometheusText(await every.text());
    expect(n).toBe(2);
    expect(kept.value('scoreline_outbox_unpublished', { service: 'svc' })).toBe(1);
  });
});

describe('the Prometheus text parser', () => {
  const valid = [
    '# HELP x_total Things.',
    '# TYPE x_total counter',
    'x_total{a="1",b="q\\"uote\\\\"} 3',
    '# TYPE h histogram',
    'h_bucket{le="0.1"} 1',
    'h_bucket{le="+Inf"} 2',
    'h_sum 0.5',
    'h_count 2',
    '',
  ].join('\n');

  it('when the text is well formed, then every sample is read with its labels', () => {
    const text = parsePrometheusText(valid);
    expect(text.value('x_total', { b: 'q"uote\\' })).toBe(3);
    expect(text.families.get('h')?.samples).toHaveLength(4);
  });

  it.each([
    ['a sample without TYPE', 'y 1\n'],
    ['a series twice', '# TYPE y gauge\ny 1\ny 2\n'],
    ['a bad value', '# TYPE y gauge\ny one\n'],
    ['an unquoted label', '# TYPE y gauge\ny{a=1} 1\n'],
    ['buckets not cumulative', '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_count 1\n'],
    ['+Inf differing from the count', '# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_count 3\n'],
    ['TYPE twice', '# TYPE y gauge\n# TYPE y counter\n'],
  ])('when the text has %s, then it is refused', (_what, text) => {
    expect(() => parsePrometheusText(text)).toThrow();
  });
});

describe('the metric names of a PromQL expression', () => {
  it('when an expression has functions, label matchers, ranges and groupings, then only metric names are left', () => {
    const expr =
      'histogram_quantile(0.95, sum by (le) (rate(scoreline_score_settlement_seconds_bucket{status="CONFIRMED"}[5m]))) ' +
      'or max without (instance) (up{job="line-provider"} offset 5m) > 1e3 and on (service) vector(0)';
    expect([...promqlMetricNames(expr)].sort()).toEqual(['scoreline_score_settlement_seconds_bucket', 'up']);
  });
});
