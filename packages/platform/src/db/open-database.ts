import type { Logger } from 'pino';
import type { Database } from './database.js';
import { createPgliteDatabase } from './pglite.js';
import { createPostgresDatabase } from './postgres.js';

export interface DatabaseSettings {
  /**
   * `postgres://…` for a server, `pglite://<folder>` for an embedded database kept in a folder,
   * `pglite://memory` for one that lives only as long as the process.
   */
  url: string;
  logger: Logger;
  maxConnections?: number;
  applicationName?: string;
}

export async function openDatabase(settings: DatabaseSettings): Promise<Database> {
  const url = settings.url;
  if (url.startsWith('pglite:')) {
    const location = url.slice('pglite:'.length).replace(/^\/\//, '');
    return createPgliteDatabase(location === 'memory' || location === '' ? {} : { dataDir: location });
  }
  return createPostgresDatabase({
    url,
    logger: settings.logger,
    maxConnections: settings.maxConnections,
    applicationName: settings.applicationName,
  });
}
