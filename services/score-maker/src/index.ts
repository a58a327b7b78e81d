export { buildScoreMakerApi, type ScoreMakerApi, type ScoreMakerApiDeps } from './api.js';
export { loadApiConfig, apiConfigSchema, type ApiConfig } from './config.js';
export { scoreMakerMigrations } from './data-access/migrations.js';
export { buildScoreMakerWorker, type ScoreMakerWorker, type ScoreMakerWorkerDeps } from './worker.js';
export { loadWorkerConfig, workerConfigSchema, type WorkerConfig } from './config.js';
export type { EventsCache } from './data-access/events-cache.js';
export { createMemoryEventsCache } from './data-access/events-cache-memory.js';
export { createRedisEventsCache } from './data-access/events-cache-redis.js';
export { createLineProviderClient, type LineProviderClient } from './data-access/line-provider-client.js';
