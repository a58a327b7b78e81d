import { loadMigrations, outboxMigration, type Migration } from '@scoreline/platform';

/** line-provider's schema: the platform's outbox, then this service's own files, in order. */
export const lineProviderMigrations: Migration[] = [
  outboxMigration,
  ...loadMigrations('line-provider', new URL('./migrations/', import.meta.url)),
];
