import {
  Counter,
  Gauge,
  Histogram,
  Registry,
  collectDefaultMetrics,
  type CounterConfiguration,
  type GaugeConfiguration,
  type HistogramConfiguration,
} from 'prom-client';

/*
 * Prometheus metrics of one process: one registry, shared by every component the process runs (the
 * quick start runs line-provider, the API and the worker on one), so a metric is created once and
 * found again by name. Hot paths only move counters and histograms; what has to be read from a
 * database or Redis (saga counts, outbox backlog, queue depth) is read when /metrics is scraped, each
 * source at most once per its interval however many scrapers there are.
 */

export interface MetricsOptions {
  /** Process metrics of prom-client (CPU, memory, event-loop delay, GC, handles); default true. */
  defaultMetrics?: boolean;
}

export interface ScrapeSourceOptions {
  /** A scrape within this long of the last reading reuses it (the gauges keep their values). */
  minIntervalMs?: number;
}

export interface Metrics {
  readonly registry: Registry;
  readonly contentType: string;
  counter<L extends string>(config: Omit<CounterConfiguration<L>, 'registers'>): Counter<L>;
  gauge<L extends string>(config: Omit<GaugeConfiguration<L>, 'registers'>): Gauge<L>;
  histogram<L extends string>(config: Omit<HistogramConfiguration<L>, 'registers'>): Histogram<L>;
  /**
   * Reads something when /metrics is scraped (sets gauges). A source that fails leaves its gauges as
   * they were and does not fail the scrape. Returns the function that removes it.
   */
  onScrape(read: () => Promise<void> | void, options?: ScrapeSourceOptions): () => void;
  /** The Prometheus text exposition: the scrape sources are read, then every metric rendered. */
  text(): Promise<string>;
}

interface Source {
  read: () => Promise<void> | void;
  minIntervalMs: number;
  last: number;
  running: Promise<void> | undefined;
}

/** Histogram buckets (seconds) for calls and requests: 1 ms to 10 s. */
export const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Histogram buckets (seconds) for a saga or a message crossing the system: 5 ms to 10 min. */
export const LATENCY_BUCKETS = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600,
];

export function createMetrics(options: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  const sources = new Set<Source>();

  function getOrCreate<M>(name: string, create: () => M): M {
    return (registry.getSingleMetric(name) as M | undefined) ?? create();
  }

  async function readSource(source: Source): Promise<void> {
    if (Date.now() - source.last < source.minIntervalMs) return;
    // Scrapes that overlap share one reading.
    source.running ??= (async () => {
      try {
        await source.read();
        source.last = Date.now();
      } catch {
        // The gauges keep their last values; the failure shows in readiness and the logs elsewhere.
      } finally {
        source.running = undefined;
      }
    })();
    await source.running;
  }

  return {
    registry,
    contentType: registry.contentType,
    counter: (config) => getOrCreate(config.name, () => new Counter({ ...config, registers: [registry] })),
    gauge: (config) => getOrCreate(config.name, () => new Gauge({ ...config, registers: [registry] })),
    histogram: (config) =>
      getOrCreate(config.name, () => new Histogram({ ...config, registers: [registry] })),
    onScrape(read, sourceOptions = {}) {
      const source: Source = {
        read,
        minIntervalMs: sourceOptions.minIntervalMs ?? 0,
        last: 0,
        running: undefined,
      };
      sources.add(source);
      return () => void sources.delete(source);
    },
    async text() {
      await Promise.all([...sources].map(readSource));
      return registry.metrics();
    },
  };
}

/** `http_request_duration_seconds`: every HTTP server of the process records into it. */
export function httpRequestDuration(metrics: Metrics): Histogram<'method' | 'route' | 'status'> {
  return metrics.histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP requests served, by method, route (the pattern, not the path) and status code',
    labelNames: ['method', 'route', 'status'],
    buckets: DURATION_BUCKETS,
  });
}

export type GrpcSide = 'server' | 'client';

/**
 * `grpc_server_handling_seconds` / `grpc_client_handling_seconds`: gRPC calls by service, method and
 * status code name (OK, UNAVAILABLE …), the names go-grpc-prometheus made usual.
 */
export function grpcHandlingSeconds(
  metrics: Metrics,
  side: GrpcSide,
): Histogram<'grpc_service' | 'grpc_method' | 'grpc_code'> {
  return metrics.histogram({
    name: `grpc_${side}_handling_seconds`,
    help:
      side === 'server'
        ? 'gRPC calls handled by this server, by service, method and status code'
        : 'gRPC calls made by this process, from start to status, by service, method and status code',
    labelNames: ['grpc_service', 'grpc_method', 'grpc_code'],
    buckets: DURATION_BUCKETS,
  });
}

/** `/package.Service/Method` → its service and method labels. */
export function grpcPathLabels(path: string): { grpc_service: string; grpc_method: string } {
  const [, service = 'unknown', method = 'unknown'] = path.split('/');
  return { grpc_service: service, grpc_method: method };
}

/** gRPC status code numbers → names (grpc-js's `status` enum, without importing grpc-js here). */
export const GRPC_CODE_NAMES = [
  'OK',
  'CANCELLED',
  'UNKNOWN',
  'INVALID_ARGUMENT',
  'DEADLINE_EXCEEDED',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED',
  'FAILED_PRECONDITION',
  'ABORTED',
  'OUT_OF_RANGE',
  'UNIMPLEMENTED',
  'INTERNAL',
  'UNAVAILABLE',
  'DATA_LOSS',
  'UNAUTHENTICATED',
] as const;

export const grpcCodeName = (code: number): string => GRPC_CODE_NAMES[code] ?? String(code);

/** What a connection pool has: open connections, those idle, and callers waiting for one. */
export interface PoolStats {
  total: number;
  idle: number;
  waiting: number;
}

/**
 * `scoreline_db_pool_connections{pool, state}` (total, idle) and `scoreline_db_pool_waiting{pool}`,
 * read from the pool on each scrape (no I/O).
 */
export function observePool(metrics: Metrics, pool: string, stats: () => PoolStats | undefined): () => void {
  const connections = metrics.gauge({
    name: 'scoreline_db_pool_connections',
    help: 'PostgreSQL pool connections by pool and state (total: open, idle: open and unused)',
    labelNames: ['pool', 'state'],
  });
  const waiting = metrics.gauge({
    name: 'scoreline_db_pool_waiting',
    help: 'Queries waiting for a PostgreSQL pool connection, by pool',
    labelNames: ['pool'],
  });
  return metrics.onScrape(() => {
    const s = stats();
    if (!s) return;
    connections.set({ pool, state: 'total' }, s.total);
    connections.set({ pool, state: 'idle' }, s.idle);
    waiting.set({ pool }, s.waiting);
  });
}

export interface OutboxBacklog {
  unpublished: number;
  /** Seconds since the oldest unpublished row was written; 0 when none waits. */
  oldestSeconds: number;
}

/**
 * `scoreline_outbox_unpublished{service}` and `scoreline_outbox_oldest_unpublished_seconds{service}`,
 * read on scrape (one query on the partial index of unpublished rows, at most every `minIntervalMs`).
 */
export function observeOutbox(
  metrics: Metrics,
  service: string,
  read: () => Promise<OutboxBacklog>,
  minIntervalMs = 1000,
): () => void {
  const unpublished = metrics.gauge({
    name: 'scoreline_outbox_unpublished',
    help: 'Outbox rows not yet published to the broker, by service',
    labelNames: ['service'],
  });
  const oldest = metrics.gauge({
    name: 'scoreline_outbox_oldest_unpublished_seconds',
    help: 'Age of the oldest unpublished outbox row (0 when none waits), by service',
    labelNames: ['service'],
  });
  return metrics.onScrape(
    async () => {
      const backlog = await read();
      unpublished.set({ service }, backlog.unpublished);
      oldest.set({ service }, backlog.oldestSeconds);
    },
    { minIntervalMs },
  );
}

/** `scoreline_queue_depth{topic}`: messages waiting or delayed on each topic, read on scrape. */
export function observeQueues(
  metrics: Metrics,
  topics: readonly string[],
  depth: (topic: string) => Promise<number>,
  minIntervalMs = 1000,
): () => void {
  const gauge = metrics.gauge({
    name: 'scoreline_queue_depth',
    help: 'Broker messages waiting or delayed (not in flight), by topic',
    labelNames: ['topic'],
  });
  return metrics.onScrape(
    async () => {
      const depths = await Promise.all(topics.map(depth));
      topics.forEach((topic, i) => gauge.set({ topic }, depths[i]!));
    },
    { minIntervalMs },
  );
}
