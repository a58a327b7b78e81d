import type { Logger } from 'pino';
import type { Database } from './database.js';
import { createPgliteDatabase, openPglite } from './pglite.js';
import { createPostgresDatabase } from './postgres.js';

export interface DatabaseSettings {
  /**
   * `postgres://…` for a server, `pglite://<folder>` for an embedded database kept in a folder,
   * `pglite://memory` for one that lives only as long as the process. `?schema=<name>` after a
   * pglite URL confines the handle to that schema (see `openPglite`).
   */
  url: string;
  logger: Logger;
  maxConnections?: number;
  applicationName?: string;
  /** A server's connections plan each statement on every call (see PostgresOptions.planEveryCall). */
  planEveryCall?: boolean;
}

export async function openDatabase(settings: DatabaseSettings): Promise<Database> {
  const url = settings.url;
  if (url.startsWith('pglite:')) {
    const [path = '', query = ''] = url.slice('pglite:'.length).replace(/^\/\//, '').split('?');
    const options = path === 'memory' || path === '' ? {} : { dataDir: path };
    const schema = new URLSearchParams(query).get('schema');
    if (!schema) return createPgliteDatabase(options);
    // The handle owns its instance: closing it closes the instance.
    return (await openPglite(options)).database(schema);
  }
  return createPostgresDatabase({
    url,
    logger: settings.logger,
    maxConnections: settings.maxConnections,
    applicationName: settings.applicationName,
    planEveryCall: settings.planEveryCall,
  });
}
