import { loadMigrations, outboxMigrations, type Migration } from '@scoreline/platform';

/** line-provider's schema: the platform's outbox, then this service's own files, in order. */
export const lineProviderMigrations: Migration[] = [
  ...outboxMigrations,
  ...loadMigrations('line-provider', new URL('./migrations/', import.meta.url)),
];
