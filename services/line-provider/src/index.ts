export { buildLineProvider, type LineProvider, type LineProviderDeps } from './app.js';
export { loadLineProviderConfig, lineProviderConfigSchema, type LineProviderConfig } from './config.js';
export { lineProviderMigrations } from './data-access/migrations.js';
export { EVENT_CHANGED_TOPIC } from './data-access/event-repository.js';
export { LEGACY_USER } from './entry-points/grpc/legacy-service.js';
