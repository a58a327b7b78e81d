/**
 * line-provider's ApplyScore (one score a call) and ApplyScores (a batch a call) against a plain grpc-js
 * echo, measured in one run from one client process; with --rounds N, N times, alternating.
 *
 *   npm run bench:line-provider -- [--seconds 10] [--concurrency 64] … (--help lists every option)
 *
 * Both servers run in child processes (line-provider over real PostgreSQL in its own database,
 * scoreline_bench_lp on BENCH_DATABASE_URL's server, dropped and recreated at start and dropped at end).
 * Not a test, and never run by `npm test`: it prints figures and ratios.
 *
 * To profile line-provider under this load, pass node options to its process in BENCH_LP_NODE_ARGS,
 * e.g. `BENCH_LP_NODE_ARGS="--cpu-prof --cpu-prof-dir /tmp/lp-prof"` (a profile is written when the
 * bench stops it) or `"--perf-basic-prof"` for `perf record -p <pid>`.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { v1 } from '@scoreline/contracts';
import { env, loadConfig, openDatabase, silentLogger, type Database } from '@scoreline/platform';
import { createApplyWorkload } from './lib/apply-workload.js';
import { freePort, spawnChild, stopAllChildren, waitUntilReady } from './lib/children.js';
import { describeCpu, sampleCpu } from './lib/cpu.js';
import { createEchoClient } from './lib/echo.js';
import { runLoad } from './lib/load.js';
import { BENCH_HELP, parseBenchOptions, type BenchOptions } from './lib/options.js';
import { report, type Round } from './lib/report.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DB_NAME = 'scoreline_bench_lp';
const ADMIN_TOKEN = 'bench-admin-token-0123456789';
const INTERNAL_TOKEN = 'bench-internal-token-0123456789';

let options: BenchOptions;
try {
  options = parseBenchOptions(process.argv.slice(2));
} catch (error) {
  console.error(`${(error as Error).message}\n\n${BENCH_HELP}`);
  process.exit(2);
}
if (options.help) {
  console.log(BENCH_HELP);
  process.exit(0);
}
const { seconds, warmup } = options;
const config = loadConfig({
  BENCH_DATABASE_URL: env.url(['postgres:', 'postgresql:'], 'postgres://postgres@127.0.0.1:5432/postgres'),
  /** Passed on to the children. */
  PATH: env.string('/usr/local/bin:/usr/bin:/bin'),
});

let adminDb: Database | undefined;
let benchDb: Database | undefined;
const closers: (() => void)[] = [];
let cleaning: Promise<void> | undefined;
let interrupted = false;

/** Stops whatever was started, in reverse; safe to call more than once (signal during cleanup). */
function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    for (const close of closers.reverse()) close();
    await stopAllChildren();
    // A pool interrupted mid-query may never finish closing: give it a moment, then drop the database
    // anyway (FORCE ends any connection left). The timer also keeps the process alive meanwhile.
    await Promise.race([benchDb?.close().catch(() => undefined), delay(2000)]);
    await adminDb
      ?.query(`DROP DATABASE IF EXISTS ${DB_NAME} WITH (FORCE)`)
      .catch((error: unknown) => console.error(`could not drop ${DB_NAME}: ${(error as Error).message}`));
    await Promise.race([adminDb?.close().catch(() => undefined), delay(2000)]);
  })();
  return cleaning;
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    interrupted = true;
    console.error(`\n${signal}: stopping the servers and dropping ${DB_NAME}`);
    void cleanup().finally(() => process.exit(130));
  });
}

/** PostgreSQL backends serving the bench database right now (line-provider's pool, its LISTEN). */
async function backendPids(): Promise<number[]> {
  if (!benchDb) return [];
  const { rows } = await benchDb.query<{ pid: number }>(
    'SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
    [DB_NAME],
  );
  return rows.map((r) => r.pid);
}

/** `itemsPerCall` > 1: CPU is reported per item rather than per call. */
async function phase(
  serverName: string,
  pid: number | undefined,
  concurrency: number,
  call: () => Promise<unknown>,
  itemsPerCall = 1,
) {
  if (warmup > 0) await runLoad({ seconds: warmup, concurrency, call });
  const before = sampleCpu(pid, await backendPids());
  const result = await runLoad({ seconds, concurrency, call });
  // Backends opened during the phase count too; pids are looked up before the CPU is read.
  const after = sampleCpu(pid, [...new Set([...before.postgres.keys(), ...(await backendPids())])]);
  const unit = itemsPerCall > 1 ? 'item' : 'call';
  return { result, cpu: describeCpu(before, after, serverName, result.calls * itemsPerCall, unit) };
}

async function main() {
  adminDb = await openDatabase({ url: config.BENCH_DATABASE_URL, logger: silentLogger(), maxConnections: 1 });
  await adminDb.query(`DROP DATABASE IF EXISTS ${DB_NAME} WITH (FORCE)`);
  await adminDb.query(`CREATE DATABASE ${DB_NAME}`);
  if (options.synchronousCommit) {
    await adminDb.query(`ALTER DATABASE ${DB_NAME} SET synchronous_commit = ${options.synchronousCommit}`);
  }
  const { rows } = await adminDb.query<{ server_version: string }>('SHOW server_version');
  const benchUrl = new URL(config.BENCH_DATABASE_URL);
  benchUrl.pathname = `/${DB_NAME}`;

  const [lpPort, echoPort] = [await freePort(), await freePort()];
  const echo = spawnChild(
    'echo server',
    ['--import', 'tsx', 'bench/echo-server.ts', String(echoPort)],
    { PATH: config.PATH },
    ROOT,
  );
  const lp = spawnChild(
    'line-provider',
    [
      ...(process.env.BENCH_LP_NODE_ARGS ?? '').split(' ').filter(Boolean),
      '--import',
      'tsx',
      'services/line-provider/src/main.ts',
    ],
    {
      PATH: config.PATH,
      LINE_PROVIDER_DATABASE_URL: benchUrl.href,
      REDIS_URL: 'memory://',
      LINE_PROVIDER_GRPC_HOST: '127.0.0.1',
      LINE_PROVIDER_GRPC_PORT: String(lpPort),
      LINE_PROVIDER_HTTP_PORT: '0',
      LINE_PROVIDER_ADMIN_TOKEN: ADMIN_TOKEN,
      LINE_PROVIDER_INTERNAL_TOKEN: INTERNAL_TOKEN,
      LOG_LEVEL: 'warn',
      ...(options.pool && { LINE_PROVIDER_DATABASE_POOL_SIZE: String(options.pool) }),
    },
    ROOT,
  );

  const echoClient = createEchoClient(`127.0.0.1:${echoPort}`);
  const lpClient = new v1.EventServiceClient(`127.0.0.1:${lpPort}`, grpc.credentials.createInsecure());
  closers.push(
    () => echoClient.close(),
    () => lpClient.close(),
  );
  const unary = <Res>(method: string, request: unknown, token?: string) =>
    new Promise<Res>((resolve, reject) => {
      const metadata = new grpc.Metadata();
      if (token) metadata.set('authorization', `Bearer ${token}`);
      const fn = (lpClient as unknown as Record<string, (...a: unknown[]) => void>)[method]!;
      fn.call(lpClient, request, metadata, { deadline: Date.now() + 5000 }, (e: Error | null, r: Res) =>
        e ? reject(e) : resolve(r),
      );
    });

  await waitUntilReady('echo server', echo, () => echoClient.echo(Buffer.from('ping'), 1000));
  await waitUntilReady('line-provider', lp, () => unary('listEvents', v1.ListEventsRequest.fromPartial({})));
  benchDb = await openDatabase({ url: benchUrl.href, logger: silentLogger(), maxConnections: 1 });
  if (options.noNotifyTrigger) await benchDb.query('ALTER TABLE outbox DISABLE TRIGGER outbox_notify');
  if (options.payloadVolatile) {
    await benchDb.query('ALTER FUNCTION event_changed_payload(events, text) VOLATILE');
  }

  const eventIds: number[] = [];
  for (let i = 0; i < options.events; i++) {
    const title = `Bench event ${i + 1}`;
    const deadline = new Date(Date.now() + 30 * 86_400_000);
    const res = await unary<v1.CreateEventResponse>(
      'createEvent',
      v1.CreateEventRequest.fromPartial({ title, deadline }),
      ADMIN_TOKEN,
    );
    eventIds.push(res.event!.id);
  }
  const workload = createApplyWorkload({ client: lpClient, internalToken: INTERNAL_TOKEN, eventIds });
  const payload = Buffer.alloc(workload.sampleRequestBytes(), 7);

  const rounds: Round[] = [];
  for (let i = 0; i < options.rounds; i++) {
    rounds.push({
      echo: await phase('echo server', echo.pid, options.concurrency, () => echoClient.echo(payload)),
      apply: await phase('line-provider', lp.pid, options.concurrency, () => workload.call()),
      batch: await phase(
        'line-provider',
        lp.pid,
        options.batchConcurrency,
        () => workload.callBatch(options.batch),
        options.batch,
      ),
    });
  }

  const { rows: sums } = await benchDb.query<{ count: number; sum: number }>(
    'SELECT coalesce(sum(score_count), 0)::int8 AS count, coalesce(sum(score_sum), 0)::int8 AS sum FROM events',
  );
  const { text, ok } = report({
    options,
    database: DB_NAME,
    serverVersion: rows[0]!.server_version.split(' ')[0]!,
    requestBytes: payload.length,
    rounds,
    answers: workload.counts,
    aggregates: sums[0]!,
    expected: workload.expected(),
  });
  console.log(text);
  if (!ok) process.exitCode = 1;
}

try {
  await main();
} catch (error) {
  if (!interrupted) console.error(`bench failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
} finally {
  await cleanup();
}
