import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { QuickstartSettings } from './settings.js';

/** The embedded PostgreSQL both services share, a schema each, inside the data folder. */
export const embeddedFolder = (dataDir: string) => join(resolve(dataDir), 'pglite');
export const schemaOf = { lineProvider: 'line_provider', scoreMaker: 'score_maker' } as const;

/**
 * Earlier versions of the quick start kept one embedded database per service, in `line-provider/` and
 * `score-maker/` beside `secrets.json`. This version does not read them: it says so and how to go on,
 * rather than starting empty beside them. (`secrets.json` tells such a folder from the folders the
 * separate processes make with their own defaults, which must not be reported as old data to delete.)
 */
export function olderLayoutMessage(
  settings: QuickstartSettings,
  shown: string,
  envPrefix: string,
): string | undefined {
  const dir = resolve(settings.SCORELINE_DATA_DIR);
  const usesEmbedded = !settings.LINE_PROVIDER_DATABASE_URL || !settings.SCORE_MAKER_DATABASE_URL;
  const old = ['line-provider', 'score-maker'].filter((name) => existsSync(join(dir, name, 'PG_VERSION')));
  if (!usesEmbedded || old.length === 0) return undefined;
  if (!existsSync(join(dir, 'secrets.json')) || existsSync(embeddedFolder(dir))) return undefined;
  return [
    `${shown}/ holds data from an earlier version of the quick start, which kept a database per service`,
    `(${old.map((name) => `${shown}/${name}`).join(', ')}). This version keeps both services in one embedded`,
    'database, a schema each, and does not convert the old ones. Either start afresh:',
    '',
    `  ${envPrefix}npm run reset      # deletes ${shown}/: its events, scores and generated secrets`,
    `  ${envPrefix}npm start`,
    '',
    'or keep running on the old data, one embedded database per service as before:',
    '',
    `  ${envPrefix}LINE_PROVIDER_DATABASE_URL=pglite://${join(shown, 'line-provider')} \\`,
    `  SCORE_MAKER_DATABASE_URL=pglite://${join(shown, 'score-maker')} npm start`,
  ].join('\n');
}
