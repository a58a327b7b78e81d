import { loadMigrations, outboxMigration, type Migration } from '@scoreline/platform';

/** score-maker's schema: the platform's outbox, then this service's own files, in order. */
export const scoreMakerMigrations: Migration[] = [
  outboxMigration,
  ...loadMigrations('score-maker', new URL('./migrations/', import.meta.url)),
];
