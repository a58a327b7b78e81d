/**
 * `npm run chaos`: a bounded soak of the full topology under faults, ending with the invariant check.
 *
 * 1. Starts everything of its own: two private PostgreSQL servers (score-maker's database on one,
 *    line-provider's on the other, so each can be restarted alone), a redis-server on a free port, and
 *    2 × line-provider (each with its relay and deadline closer), 2 × score-maker API and 2 × worker
 *    (each with its relay), as child processes of the production entry points. Each API and worker
 *    talks to both line-providers (`ipv4:` target, the other one when its first is gone).
 * 2. Creates events through line-provider's admin gRPC API: some close midway (the admin CloseEvent, or
 *    a deadline the closer acts on), the rest stay open. Signs a token per user with the API's secret.
 * 3. Load: `--submissions` POST /events/{id}/score spread over `--duration` seconds, random users,
 *    events and scores, a share of them changes of a score the user already gave.
 * 4. Meanwhile, a fault plan drawn from `--seed`: kill -9 of every kind of process (then restarted),
 *    processes restarted with a named crash point armed (SCORELINE_CRASH_AT: they die there, and are
 *    restarted again), Redis FLUSHALL, Redis killed and started empty, `pg_ctl restart` of each
 *    database server, and every line-provider paused (SIGSTOP) past the saga timeout, then resumed.
 *    Each fault starts when it is due, so they may overlap.
 * 5. Waits for quiet (no PENDING score, both outboxes drained; at most `--quiet-timeout`), then prints
 *    the load, the faults with their error windows, and the invariant check. Exits 1 unless nothing was
 *    lost, nothing applied twice, no aggregate differs, no process exited by itself, no 5xx other than
 *    503 (with Retry-After) was answered, and quiet was reached.
 *
 * Not part of npm test: it takes minutes. docs/testing.md says how to read its output.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { v1 } from '@scoreline/contracts';
import { LEGACY_USER } from '@scoreline/line-provider';
import { openDatabase, silentLogger, type Database } from '@scoreline/platform';
import {
  freePort,
  privatePostgresAvailable,
  redisServerAvailable,
  startPrivatePostgres,
  startPrivateRedis,
  type PrivatePostgres,
  type PrivateRedis,
} from '@scoreline/platform/testing';
import { userTokens } from '../../bench/lib/user-tokens.js';
import { planFaults, runFaults } from './faults.js';
import { runLoad, type LoadResult } from './load.js';
import { ManagedProcess, type ProcessKind, type UnexpectedExit } from './processes.js';
import { seededRandom } from './random.js';
import { printReport, verdict, waitForQuiet, type Quiet, type Verdict } from './report.js';

const HELP = `npm run chaos -- [options]

A bounded soak: the full topology (2 × line-provider, 2 × API, 2 × worker) on private PostgreSQL and
Redis servers, a load of score submissions and changes, and faults meanwhile (kill -9 of every kind of
process, processes dying at named crash points, Redis flushed and restarted, each PostgreSQL server
restarted, line-provider paused past the saga timeout); then the invariant check once the system is
quiet. Exits 1 if anything is lost, applied twice or disagrees, a process exits by itself, a 5xx other
than 503 is answered, or quiet is not reached.

  --submissions N       submissions (and changes) to send            (default 12000)
  --duration S          seconds to spread them over                  (default 150)
                        (a load that falls behind stops at 3 × that, or that + 300 s)
  --seed N              the fault plan's and load's random seed      (default: random, printed)
  --users N             users (a signed token each)                  (default submissions / 6)
  --events N            events (about a fifth of them close midway)  (default 40)
  --kills N             kill -9 of each process kind                 (default 3)
  --crashes N           processes restarted with a crash point armed (default 4)
  --saga-timeout S      the workers' SAGA_TIMEOUT; line-provider is paused this + 3 s  (default 5)
  --concurrency N       requests in flight at most                   (default 48)
  --quiet-timeout S     how long to wait for quiet after the load    (default 240)
  --keep-logs           keep the processes' logs after a passing run (a failing run keeps them)
  --help                this text
`;

const { values: args } = parseArgs({
  options: {
    submissions: { type: 'string', default: '12000' },
    duration: { type: 'string', default: '150' },
    seed: { type: 'string' },
    users: { type: 'string' },
    events: { type: 'string', default: '40' },
    kills: { type: 'string', default: '3' },
    crashes: { type: 'string', default: '4' },
    'saga-timeout': { type: 'string', default: '5' },
    concurrency: { type: 'string', default: '48' },
    'quiet-timeout': { type: 'string', default: '240' },
    'keep-logs': { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (args.help) {
  process.stdout.write(HELP);
  process.exit(0);
}
const positive = (name: keyof typeof args, min = 1) => {
  const value = Number(args[name]);
  if (!Number.isInteger(value) || value < min) {
    process.stderr.write(`--${name} takes a whole number of at least ${min}, not ${String(args[name])}\n`);
    process.exit(2);
  }
  return value;
};
const submissions = positive('submissions');
const durationS = positive('duration');
const seed = args.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : positive('seed', 0);
const users = args.users === undefined ? Math.max(20, Math.round(submissions / 6)) : positive('users');
const eventCount = positive('events', 2);
const kills = positive('kills', 0);
const crashes = positive('crashes', 0);
const sagaTimeoutS = positive('saga-timeout');
const concurrency = positive('concurrency');
const quietTimeoutS = positive('quiet-timeout');

if (!privatePostgresAvailable() || !redisServerAvailable()) {
  process.stderr.write(
    'npm run chaos needs Debian PostgreSQL server binaries (/usr/lib/postgresql/*/bin) and redis-server\n',
  );
  process.exit(2);
}

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const ADMIN_TOKEN = 'chaos-admin-token-0123456789';
const INTERNAL_TOKEN = 'chaos-internal-token-0123456789';
const JWT_SECRET = 'chaos-jwt-secret-0123456789-0123456789-0123';
const REDIS_PREFIX = 'chaos';
const began = Date.now();
const since = () => `${((Date.now() - began) / 1000).toFixed(1)} s`;
const say = (text: string) => process.stderr.write(`[chaos ${since().padStart(7)}] ${text}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const random = seededRandom(seed);
const logDir = mkdtempSync(path.join(tmpdir(), 'scoreline-chaos-'));
let smPg: PrivatePostgres | undefined;
let lpPg: PrivatePostgres | undefined;
let redis: PrivateRedis | undefined;
let lpDb: Database | undefined;
let smDb: Database | undefined;
let admin: v1.EventServiceClient | undefined;
const all: ManagedProcess[] = [];
const unexpectedExits: UnexpectedExit[] = [];
let shuttingDown = false;

async function cleanUp() {
  shuttingDown = true;
  admin?.close();
  await Promise.all(all.map((p) => p.stop()));
  await Promise.all(all.map((p) => p.closeLog()));
  await lpDb?.close().catch(() => undefined);
  await smDb?.close().catch(() => undefined);
  await redis?.dispose().catch(() => undefined);
  await smPg?.dispose().catch(() => undefined);
  await lpPg?.dispose().catch(() => undefined);
}

let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    interrupted = true;
    say(`${signal}: stopping everything`);
    void cleanUp().finally(() => process.exit(130));
  });
}

/** Admin gRPC calls, retried while line-provider is down, paused or restarting (at most `forMs`). */
async function adminCall<Res>(
  what: string,
  call: (
    client: v1.EventServiceClient,
    metadata: grpc.Metadata,
    options: Partial<grpc.CallOptions>,
    done: (error: grpc.ServiceError | null, res: Res) => void,
  ) => void,
  forMs = 60_000,
): Promise<Res> {
  const giveUp = Date.now() + forMs;
  for (;;) {
    try {
      return await new Promise<Res>((resolve, reject) => {
        const metadata = new grpc.Metadata();
        metadata.set('authorization', `Bearer ${ADMIN_TOKEN}`);
        call(admin!, metadata, { deadline: Date.now() + 3000 }, (error, res) =>
          error ? reject(error) : resolve(res),
        );
      });
    } catch (error) {
      const code = (error as grpc.ServiceError).code;
      const transient = [grpc.status.UNAVAILABLE, grpc.status.DEADLINE_EXCEEDED, grpc.status.INTERNAL];
      if (!transient.includes(code) || Date.now() > giveUp) {
        throw new Error(`${what}: ${(error as Error).message}`);
      }
      await sleep(500);
    }
  }
}

async function main(): Promise<boolean> {
  say(`seed ${seed}; logs in ${logDir}`);
  [smPg, lpPg, redis] = await Promise.all([
    startPrivatePostgres(),
    startPrivatePostgres(),
    startPrivateRedis(),
  ]);
  await smPg.createDatabase('score_maker');
  await lpPg.createDatabase('line_provider');
  say(`PostgreSQL for score-maker at ${smPg.url}, for line-provider at ${lpPg.url}; Redis at ${redis.url}`);

  const lpPorts = [await freePort(), await freePort()];
  const apiPorts = [await freePort(), await freePort()];
  const lpTargets = lpPorts.map((p) => `127.0.0.1:${p}`);
  /** Replica i prefers line-provider i and falls back on the other. */
  const lpAddress = (i: number) => `ipv4:${[lpTargets[i % 2], lpTargets[(i + 1) % 2]].join(',')}`;
  const shared = {
    LOG_LEVEL: 'info',
    REDIS_URL: redis.url,
    REDIS_PREFIX,
    SHUTDOWN_TIMEOUT: '5s',
    OUTBOX_POLL_INTERVAL: '500ms',
  };
  const env: Record<ProcessKind, (i: number) => Record<string, string>> = {
    'line-provider': (i) => ({
      ...shared,
      LINE_PROVIDER_DATABASE_URL: lpPg!.urlFor('line_provider'),
      LINE_PROVIDER_GRPC_HOST: '127.0.0.1',
      LINE_PROVIDER_GRPC_PORT: String(lpPorts[i]),
      LINE_PROVIDER_HTTP_PORT: '0',
      LINE_PROVIDER_ADMIN_TOKEN: ADMIN_TOKEN,
      LINE_PROVIDER_INTERNAL_TOKEN: INTERNAL_TOKEN,
      DEADLINE_CHECK_INTERVAL: '1s',
    }),
    api: (i) => ({
      ...shared,
      SCORE_MAKER_DATABASE_URL: smPg!.urlFor('score_maker'),
      LINE_PROVIDER_ADDRESS: lpAddress(i),
      SCORE_MAKER_HTTP_HOST: '127.0.0.1',
      SCORE_MAKER_HTTP_PORT: String(apiPorts[i]),
      JWT_SECRET,
      RATE_LIMIT_SCORES_PER_MINUTE: '1000000',
      RATE_LIMIT_READS_PER_MINUTE: '1000000',
    }),
    worker: (i) => ({
      ...shared,
      SCORE_MAKER_DATABASE_URL: smPg!.urlFor('score_maker'),
      LINE_PROVIDER_ADDRESS: lpAddress(i),
      LINE_PROVIDER_INTERNAL_TOKEN: INTERNAL_TOKEN,
      WORKER_HTTP_HOST: '127.0.0.1',
      WORKER_HTTP_PORT: '0',
      SAGA_TIMEOUT: `${sagaTimeoutS}s`,
      SAGA_SWEEP_AFTER: '3s',
      SAGA_SWEEP_INTERVAL: '1s',
      RECONCILE_INTERVAL: '5s',
      BROKER_LOCK_DURATION: '5s',
      BROKER_STALLED_INTERVAL: '2s',
    }),
  };
  const onUnexpectedExit = (proc: ManagedProcess, exit: UnexpectedExit) => {
    if (shuttingDown) return;
    unexpectedExits.push(exit);
    say(`${proc.name} exited by itself (${exit.code ?? exit.signal}): restarting it; see ${proc.logFile}`);
    void sleep(1000)
      .then(() => proc.start())
      .catch((error: Error) => say(error.message));
  };
  const processes = {} as Record<ProcessKind, ManagedProcess[]>;
  for (const kind of ['line-provider', 'api', 'worker'] as const) {
    processes[kind] = [0, 1].map(
      (i) =>
        new ManagedProcess(`${kind}-${i + 1}`, kind, env[kind](i), {
          root: ROOT,
          logDir,
          began,
          onUnexpectedExit,
        }),
    );
    all.push(...processes[kind]);
  }
  // line-provider first (it migrates its database), then one API (score-maker's), then the rest.
  await Promise.all(processes['line-provider'].map((p) => p.start()));
  await processes.api[0]!.start();
  await Promise.all([processes.api[1]!.start(), ...processes.worker.map((p) => p.start())]);
  say('2 × line-provider, 2 × API and 2 × worker ready');

  const logger = silentLogger();
  lpDb = await openDatabase({ url: lpPg.urlFor('line_provider'), logger, maxConnections: 2 });
  smDb = await openDatabase({ url: smPg.urlFor('score_maker'), logger, maxConnections: 2 });
  admin = new v1.EventServiceClient(`ipv4:${lpTargets.join(',')}`, grpc.credentials.createInsecure());

  // Events: a fifth close midway, half of those by CloseEvent and half by their deadline.
  const loadMs = durationS * 1000;
  const setupSlackMs = 5000;
  const closing = Math.max(2, Math.round(eventCount / 5));
  const byAdmin = Math.ceil(closing / 2);
  const eventIds: number[] = [];
  const closes: { eventId: number; at: number }[] = [];
  for (let i = 0; i < eventCount; i++) {
    const share = 0.3 + (0.45 * (i % closing)) / Math.max(1, closing - 1);
    const byDeadline = i >= byAdmin && i < closing;
    const deadline = byDeadline ? Date.now() + setupSlackMs + share * loadMs : Date.now() + 86_400_000;
    const res = await adminCall<v1.CreateEventResponse>('CreateEvent', (c, m, o, d) =>
      c.createEvent(
        v1.CreateEventRequest.fromPartial({ title: `Chaos event ${i + 1}`, deadline: new Date(deadline) }),
        m,
        o,
        d,
      ),
    );
    const id = Number(res.event!.id);
    eventIds.push(id);
    if (i < byAdmin) closes.push({ eventId: id, at: share * loadMs });
  }
  const tokens = await userTokens(JWT_SECRET, users, 'chaos-user-');
  say(
    `${eventCount} events (${byAdmin} to be closed by CloseEvent, ${closing - byAdmin} by their deadline), ${users} users`,
  );

  const plan = planFaults(random, loadMs, kills, crashes);
  say(`load: ${submissions} submissions over ${durationS} s; ${plan.length} faults planned`);
  const loadStart = Date.now();
  let loadOver = false;
  const loadDone: Promise<LoadResult> = runLoad({
    apis: apiPorts.map((p) => `http://127.0.0.1:${p}`),
    tokens,
    eventIds,
    submissions,
    durationMs: loadMs,
    // On a busy machine the load falls behind; it may take this long before the run stops it.
    hardStopMs: Math.max(loadMs * 3, loadMs + 300_000),
    concurrency,
    changeShare: 0.4,
    random: seededRandom(seed + 1),
    began,
  }).finally(() => (loadOver = true));
  const faultsDone = runFaults(
    plan,
    {
      processes,
      redis,
      scoreMakerPostgres: smPg,
      lineProviderPostgres: lpPg,
      pauseMs: sagaTimeoutS * 1000 + 3000,
      began,
    },
    loadStart,
    () => loadOver || interrupted,
    say,
  );
  const closesDone = (async () => {
    for (const close of closes) {
      while (Date.now() < loadStart + close.at) await sleep(250);
      try {
        await adminCall('CloseEvent', (c, m, o, d) =>
          c.closeEvent(v1.CloseEventRequest.fromPartial({ eventId: close.eventId }), m, o, d),
        );
        say(`event ${close.eventId} closed by CloseEvent`);
      } catch (error) {
        // A retry after a call that closed it but whose answer was lost (line-provider paused or killed).
        const already = (error as Error).message.includes('FAILED_PRECONDITION');
        say(
          `event ${close.eventId} ${already ? 'closed (found closed on a retry)' : `not closed: ${(error as Error).message}`}`,
        );
      }
    }
  })();
  const progress = setInterval(() => {
    void (async () => {
      const pending = await smDb!
        .query<{ n: number }>(`SELECT count(*)::int AS n FROM scores WHERE status = 'PENDING'`)
        .then((r) => r.rows[0]!.n)
        .catch(() => '?');
      say(`scores pending now: ${pending}`);
    })();
  }, 15_000);
  const load = await loadDone;
  say(`load over: ${load.submitted} submissions, ${load.accepted.size} scores accepted`);
  const faults = await faultsDone;
  await closesDone;
  clearInterval(progress);
  say('every fault over; waiting for quiet');

  // Anything still paused or down is back before the quiet wait.
  for (const proc of all) proc.resume();
  const quiet: Quiet = await waitForQuiet(
    lpDb,
    smDb,
    { url: redis.url, prefix: REDIS_PREFIX },
    quietTimeoutS * 1000,
  );
  say(quiet.reached ? 'quiet' : 'quiet not reached; checking all the same');
  let result: Verdict | undefined;
  try {
    result = await verdict(lpDb, smDb, load, LEGACY_USER, logDir);
  } catch (error) {
    say(`invariant check failed to run: ${(error as Error).message}`);
  }
  return printReport({
    seed,
    settings: `${submissions} submissions over ${durationS} s, ${users} users, ${eventCount} events, saga timeout ${sagaTimeoutS} s`,
    load,
    faults: faults.records,
    faultsNotRun: faults.notRun,
    unexpectedExits,
    quiet,
    verdict: result,
    runMs: Date.now() - began,
    logDir,
  });
}

let ok = false;
try {
  ok = await main();
} catch (error) {
  say(`run failed: ${(error as Error).stack ?? String(error)}`);
} finally {
  await cleanUp();
}
if (ok && !args['keep-logs']) rmSync(logDir, { recursive: true, force: true });
else say(`logs kept in ${logDir}`);
process.exit(ok ? 0 : 1);
