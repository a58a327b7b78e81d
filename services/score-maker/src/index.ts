export { buildScoreMakerApi, type ScoreMakerApi, type ScoreMakerApiDeps } from './api.js';
export { loadApiConfig, apiConfigSchema, type ApiConfig } from './config.js';
export { scoreMakerMigrations } from './data-access/migrations.js';
