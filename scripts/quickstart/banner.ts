import { isAbsolute, relative, resolve } from 'node:path';
import { embeddedFolder, schemaOf } from './data-folder.js';
import { secretsFile, type LoadedSettings, type Setting, type Source } from './settings.js';

export interface BannerInput {
  loaded: LoadedSettings;
  seconds: number;
  apiUrl: string;
  lineProviderAddress: string;
  adminToken: string;
  demoToken: string;
  eventId: number;
  /** Whether the web app is built (web/dist), and so served at the API's root. */
  webApp: boolean;
}

const label: Record<Source, string> = {
  environment: 'from the environment',
  '.env': 'from .env',
  default: 'default',
};

/** A path as short as it can be said from here. */
export function shownPath(path: string): string {
  const rel = relative(process.cwd(), resolve(path));
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : resolve(path);
}

/** URLs lose their passwords before they are printed. */
function masked(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return url;
  }
}

/**
 * `SCORELINE_DATA_DIR=… ` when the data folder was given in the environment: another terminal would
 * not have it, and `npm run token` or `npm run reset` would look in the default folder instead.
 */
export function dataDirPrefix({ settings, sourceOf }: LoadedSettings): string {
  return sourceOf('SCORELINE_DATA_DIR') === 'environment'
    ? `SCORELINE_DATA_DIR=${resolve(settings.SCORELINE_DATA_DIR)} `
    : '';
}

/** What the quick start prints once ready: where to go, where each part comes from, what to paste. */
export function renderBanner(input: BannerInput): string {
  const { settings, sourceOf } = input.loaded;
  const from = (name: Setting) => `[${label[sourceOf(name)]}]`;
  const dataDir = shownPath(settings.SCORELINE_DATA_DIR);
  const generated = `[generated, kept in ${shownPath(secretsFile(settings.SCORELINE_DATA_DIR))}]`;
  const database = (name: Setting, url: string | undefined, schema: string) =>
    url === undefined
      ? `embedded PostgreSQL in ${shownPath(embeddedFolder(settings.SCORELINE_DATA_DIR))}/, schema ${schema} [default]`
      : url.startsWith('pglite:')
        ? `embedded PostgreSQL in ${url.slice('pglite://'.length)} ${from(name)}`
        : `${masked(url)} ${from(name)}`;
  const secretNames = ['JWT_SECRET', 'LINE_PROVIDER_ADMIN_TOKEN', 'LINE_PROVIDER_INTERNAL_TOKEN'] as const;
  const secretSource = (name: Setting) => (sourceOf(name) === 'default' ? generated : from(name));
  const secrets = [...new Set(secretNames.map(secretSource))]
    .map((where) => `${secretNames.filter((name) => secretSource(name) === where).join(', ')} ${where}`)
    .join('; ');
  // Whether anything lives in the data folder: the embedded database or a generated secret.
  const usesDataDir =
    !settings.LINE_PROVIDER_DATABASE_URL ||
    !settings.SCORE_MAKER_DATABASE_URL ||
    secretNames.some((name) => sourceOf(name) === 'default');
  const redis = !settings.REDIS_URL.startsWith('memory:');

  const jwtSource = sourceOf('JWT_SECRET');
  const tokenCommand = `export TOKEN=$(${jwtSource === 'default' ? dataDirPrefix(input.loaded) : ''}npm run -s token -- --user alice)`;
  const api = input.apiUrl;
  const adminSource = sourceOf('LINE_PROVIDER_ADMIN_TOKEN');
  const cliExports = [
    adminSource === 'default' ? `LINE_PROVIDER_ADMIN_TOKEN=${input.adminToken}` : '',
    settings.LINE_PROVIDER_GRPC_PORT === 50051 ? '' : `LINE_PROVIDER_ADDRESS=${input.lineProviderAddress}`,
  ].filter(Boolean);
  const cli = [
    cliExports.length ? `The admin CLI here needs: export ${cliExports.join(' ')}` : '',
    adminSource === '.env'
      ? 'The admin CLI reads LINE_PROVIDER_ADMIN_TOKEN from .env, as npm start did.'
      : '',
    adminSource === 'environment'
      ? 'The admin CLI needs LINE_PROVIDER_ADMIN_TOKEN set as it is for npm start.'
      : '',
  ].filter(Boolean);
  return `
Scoreline is ready (${input.seconds.toFixed(1)} s).

  API            ${api}   (GET /events, POST /events/{event_id}/score)
  API docs       ${api}/docs
${input.webApp ? `  web app        ${api}/   (operations console: ${api}/console, with a token from npm run token -- --user ops --admin)\n` : ''}  line-provider  ${input.lineProviderAddress} (gRPC; admin CLI: npm run cli -- events list)

Where each part comes from (the environment wins over .env in ${resolve('.')}, which wins over the default):

  line-provider data  ${database('LINE_PROVIDER_DATABASE_URL', settings.LINE_PROVIDER_DATABASE_URL, schemaOf.lineProvider)}
  score-maker data    ${database('SCORE_MAKER_DATABASE_URL', settings.SCORE_MAKER_DATABASE_URL, schemaOf.scoreMaker)}
  queue and cache     ${redis ? `Redis at ${masked(settings.REDIS_URL)}, key prefix ${settings.REDIS_PREFIX} ${from('REDIS_URL')}` : `in-process, no Redis ${from('REDIS_URL')}`}
  ports               HTTP ${settings.SCORE_MAKER_HTTP_PORT} ${from('SCORE_MAKER_HTTP_PORT')}, gRPC ${settings.LINE_PROVIDER_GRPC_PORT} ${from('LINE_PROVIDER_GRPC_PORT')}
  secrets             ${secrets}
${usesDataDir ? `\nTo start afresh: ${dataDirPrefix(input.loaded)}npm run reset (deletes ${dataDir}/: the embedded data and generated secrets)\n` : ''}
A bearer token for user "demo" (valid 30 days):

  export TOKEN=${input.demoToken}

A token for any other user, signed with the same secret${jwtSource === 'environment' ? ' (run it where JWT_SECRET is set as it is here)' : ''}:

  ${tokenCommand}

Score an event, then read the score back (it goes PENDING → CONFIRMED):

  curl -s -X POST ${api}/events/${input.eventId}/score -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' -d '{"score": 4}'
  curl -s ${api}/me/scores -H "authorization: Bearer $TOKEN"

${cli.join('\n')}
Press Ctrl-C to stop.`;
}
