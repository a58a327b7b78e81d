export { testServices, redisSkipReason, type TestServices } from './services.js';
export { createTestDatabase, type TestDatabase } from './test-database.js';
export { createTestRedis, type TestRedis } from './test-redis.js';
export { waitFor } from './wait-for.js';
export { appendToOutbox, type OutboxEntry } from './outbox-rows.js';
export { startPrivateRedis, redisServerAvailable, type PrivateRedis } from './private-redis.js';
export { startPrivatePostgres, privatePostgresAvailable, type PrivatePostgres } from './private-postgres.js';
export { freePort } from './free-port.js';
export { checkInvariants, type InvariantReport, type InvariantOptions } from './invariants.js';
export { makeTestCertificates, type TestCertificates } from './test-certificates.js';
export {
  parsePrometheusText,
  scrapeMetrics,
  promqlMetricNames,
  type Exposition,
  type MetricFamily,
  type Sample,
} from './prometheus-text.js';
