import { parseArgs } from 'node:util';
import {
  ConfigError,
  env,
  lineProviderClientTls,
  loadConfig,
  openDatabase,
  silentLogger,
  type Env,
  type LoadConfigOptions,
} from '@scoreline/platform';
import { listSagas, lookUpSaga } from '../../use-cases/saga-report.js';
import { renderReport, reportJson } from './saga-show.js';

const usage = `usage: npm run sagas -- [list | stuck] [--limit N] [--json]
       npm run sagas -- show <score id> [--json]
  list   sagas in flight (PENDING scores), oldest first
  stuck  compensations (RevertScore) still failing after SAGA_STUCK_AFTER (default 2m)
  show   one score's saga beside line-provider's ledger of it, and whether they agree
reads SCORE_MAKER_DATABASE_URL (under npm start, whose embedded database only its own process may
open, the operations console at /console shows the same); show also asks line-provider at
LINE_PROVIDER_ADDRESS with LINE_PROVIDER_ADMIN_TOKEN (and the LINE_PROVIDER_TLS* settings).
exit code: 0 done; 1 unknown score or failure; 2 usage or settings; 3 (show) line-provider not read`;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** What `show` reads besides the database: how to reach line-provider, as the API and the worker do. */
const showSchema = {
  /** host:port of line-provider's gRPC server. */
  LINE_PROVIDER_ADDRESS: env.string('127.0.0.1:50051'),
  /**
   * line-provider's admin token, with which `show` reads line-provider's ledger of the score; unset,
   * `show` prints score-maker's side only.
   */
  LINE_PROVIDER_ADMIN_TOKEN: env.secret(16).optional(),
  /** The deadline of the call to line-provider. */
  LINE_PROVIDER_CALL_TIMEOUT: env.duration('5s'),
  /**
   * Call line-provider over TLS, checking its certificate against the default public roots; on by
   * itself when the CA file, the server name or the client certificate below is set.
   */
  LINE_PROVIDER_TLS: env.boolean(false),
  /** PEM CA certificates line-provider's server certificate must chain to (turns TLS on). */
  LINE_PROVIDER_TLS_CA_FILE: env.file().optional(),
  /**
   * The name line-provider's certificate is checked for, when it differs from the host in
   * LINE_PROVIDER_ADDRESS (turns TLS on).
   */
  LINE_PROVIDER_TLS_SERVER_NAME: env.string().optional(),
  /**
   * PEM client certificate presented to line-provider, for mutual TLS (with
   * LINE_PROVIDER_CLIENT_KEY_FILE; turns TLS on).
   */
  LINE_PROVIDER_CLIENT_CERT_FILE: env.file().optional(),
  /** PEM private key of LINE_PROVIDER_CLIENT_CERT_FILE. */
  LINE_PROVIDER_CLIENT_KEY_FILE: env.file().optional(),
};

/**
 * `npm run sagas -- stuck | list | show <id>`: what the saga is working on, straight from the database.
 * `err` takes what is not the command's output (errors); it defaults to `out`.
 */
export async function runSagasCli(
  argv: string[],
  io: { out: (s: string) => void; err?: (s: string) => void; env?: Env; now?: () => Date },
): Promise<number> {
  const err = io.err ?? io.out;
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        limit: { type: 'string', default: '50' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean' },
      },
      allowPositionals: true,
    });
  } catch (error) {
    err(`${(error as Error).message}\n${usage}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const command = positionals[0] ?? 'stuck';
  const limit = Number(values.limit);
  const scoreId = positionals[1];
  const usable =
    command === 'show'
      ? positionals.length === 2 && scoreId !== undefined && UUID.test(scoreId)
      : ['list', 'stuck'].includes(command) &&
        positionals.length <= 1 &&
        Number.isInteger(limit) &&
        limit >= 1;
  if (values.help || !usable) {
    if (values.help) io.out(usage);
    else if (command === 'show' && scoreId !== undefined && positionals.length === 2) {
      err(`"${scoreId}" is not a score id (a UUID, as in GET /scores/{score_id})\n${usage}`);
    } else err(usage);
    return values.help ? 0 : 2;
  }
  const options: LoadConfigOptions = io.env ? { env: io.env, envFile: false } : {};
  let config, lineProvider;
  try {
    config = loadConfig(
      {
        SCORE_MAKER_DATABASE_URL: env.url(
          ['postgres:', 'postgresql:', 'pglite:'],
          'pglite://.data/score-maker',
        ),
        SAGA_STUCK_AFTER: env.duration('2m'),
      },
      options,
    );
    if (command === 'show') {
      const settings = loadConfig(showSchema, options);
      lineProvider = {
        address: settings.LINE_PROVIDER_ADDRESS,
        adminToken: settings.LINE_PROVIDER_ADMIN_TOKEN,
        timeoutMs: settings.LINE_PROVIDER_CALL_TIMEOUT,
        tls: lineProviderClientTls(settings),
      };
    }
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    err(error.message);
    return 2;
  }
  const db = await openDatabase({
    url: config.SCORE_MAKER_DATABASE_URL,
    logger: silentLogger(),
    maxConnections: 1,
  });
  try {
    if (lineProvider && scoreId) {
      const report = await lookUpSaga(db, scoreId.toLowerCase(), lineProvider);
      if (!report) {
        err(`no score ${scoreId} in score-maker's database (SCORE_MAKER_DATABASE_URL)`);
        return 1;
      }
      const now = io.now?.() ?? new Date();
      if (values.json) io.out(reportJson(report, now));
      else for (const line of renderReport(report, now)) io.out(line);
      return report.lineProvider === null ? 3 : 0;
    }
    const { counts, rows } = await listSagas(db, {
      stuckOnly: command === 'stuck',
      stuckAfterMs: config.SAGA_STUCK_AFTER,
      limit,
    });
    if (values.json) {
      io.out(JSON.stringify({ counts, sagas: rows }, null, 2));
      return 0;
    }
    io.out(`in flight: ${counts.applying} applying, ${counts.reverting} compensating, ${counts.stuck} stuck`);
    for (const s of rows) {
      const age = Math.round((Date.now() - s.pendingSince.getTime()) / 1000);
      io.out(
        `${s.id}  v${s.version}  event ${s.eventId}  user ${s.userId}  ${s.sagaState.toLowerCase()}  ${age}s` +
          (s.lastError ? `  last error: ${s.lastError}` : ''),
      );
    }
    return 0;
  } finally {
    await db.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  runSagasCli(process.argv.slice(2), {
    out: (s) => process.stdout.write(`${s}\n`),
    err: (s) => process.stderr.write(`${s}\n`),
  }).then(
    (code) => (process.exitCode = code),
    (error: unknown) => {
      process.stderr.write(
        `sagas: ${error instanceof ConfigError || error instanceof TypeError ? error.message : String(error)}\n`,
      );
      process.exitCode = 1;
    },
  );
}
