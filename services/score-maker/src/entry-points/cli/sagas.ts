import { parseArgs } from 'node:util';
import { ConfigError, env, loadConfig, openDatabase, silentLogger, type Env } from '@scoreline/platform';
import { createSagaRepository } from '../../data-access/saga-repository.js';

const usage = `usage: npm run sagas -- [list | stuck] [--limit N] [--json]
  list   sagas in flight (PENDING scores), oldest first
  stuck  compensations (RevertScore) still failing after SAGA_STUCK_AFTER (default 2m)
reads SCORE_MAKER_DATABASE_URL (under npm start, whose embedded database only its own process may
open, the operations console at /console shows the same)`;

/** `npm run sagas -- stuck`: what the saga is still working on, straight from the database. */
export async function runSagasCli(
  argv: string[],
  io: { out: (s: string) => void; env?: Env },
): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      limit: { type: 'string', default: '50' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean' },
    },
    allowPositionals: true,
  });
  const command = positionals[0] ?? 'stuck';
  const limit = Number(values.limit);
  if (values.help || !['list', 'stuck'].includes(command) || !Number.isInteger(limit) || limit < 1) {
    io.out(usage);
    return values.help ? 0 : 2;
  }
  const config = loadConfig(
    {
      SCORE_MAKER_DATABASE_URL: env.url(
        ['postgres:', 'postgresql:', 'pglite:'],
        'pglite://.data/score-maker',
      ),
      SAGA_STUCK_AFTER: env.duration('2m'),
    },
    io.env ? { env: io.env, envFile: false } : {},
  );
  const db = await openDatabase({
    url: config.SCORE_MAKER_DATABASE_URL,
    logger: silentLogger(),
    maxConnections: 1,
  });
  try {
    const sagas = createSagaRepository();
    const counts = await sagas.counts(db, config.SAGA_STUCK_AFTER);
    const rows = await sagas.list(db, {
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
  runSagasCli(process.argv.slice(2), { out: (s) => process.stdout.write(`${s}\n`) }).then(
    (code) => (process.exitCode = code),
    (error: unknown) => {
      process.stderr.write(
        `sagas: ${error instanceof ConfigError || error instanceof TypeError ? error.message : String(error)}\n`,
      );
      process.exitCode = 1;
    },
  );
}
