import { loadMigrations, outboxMigrations, type Migration } from '@scoreline/platform';

/** score-maker's schema: the platform's outbox, then this service's own files, in order. */
export const scoreMakerMigrations: Migration[] = [
  ...outboxMigrations,
  ...loadMigrations('score-maker', new URL('./migrations/', import.meta.url)),
];
