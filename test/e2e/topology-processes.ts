import { openDatabase, type Database } from '@scoreline/platform';
import {
  createTestDatabase,
  createTestRedis,
  freePort,
  waitFor,
  type TestDatabase,
  type TestRedis,
} from '@scoreline/platform/testing';
import { SignJWT } from 'jose';
import pino from 'pino';
import { run, type Proc } from './walkthrough.js';

/**
 * The production entry points as separate processes, as compose runs them: line-provider, the score-maker
 * API and its worker on empty databases of their own (each migrates its own at start) and a Redis prefix
 * of their own, on free loopback ports. `env` holds the settings every process gets; `start` runs one
 * entry point and waits for its ready line; `dispose` stops them in reverse order and drops the rest.
 */
export interface Topology {
  secrets: { LINE_PROVIDER_ADMIN_TOKEN: string; LINE_PROVIDER_INTERNAL_TOKEN: string; JWT_SECRET: string };
  env: Record<string, string> & { LINE_PROVIDER_ADDRESS: string; REDIS_URL: string; REDIS_PREFIX: string };
  /** What the admin CLI needs: line-provider's address and the admin token. */
  cliEnv: { LINE_PROVIDER_ADDRESS: string; LINE_PROVIDER_ADMIN_TOKEN: string };
  /** The API's base URL. */
  api: string;
  /** Connection pools on line-provider's and score-maker's databases, to read what the processes wrote. */
  lp: Database;
  sm: Database;
  /** The processes started, oldest first. */
  procs: Proc[];
  /** Runs one entry point with `env` (and `extraEnv` over it) until its ready line; throws if it exits first. */
  start: (script: string, ready: string, extraEnv?: Record<string, string>) => Promise<Proc>;
  /** A bearer token for `user` (with these claims), signed with JWT_SECRET, valid for an hour. */
  token: (user: string, claims?: Record<string, unknown>) => Promise<string>;
  dispose: () => Promise<void>;
}

export interface TopologyOptions {
  /**
   * The services' databases, when the test runs its own servers (each database created, empty); by
   * default two empty test databases on the shared server, dropped at dispose.
   */
  databaseUrls?: { lineProvider: string; scoreMaker: string };
}

/** `name` tells the secrets apart; `settings` adds to or overrides the common ones. */
export async function openTopology(
  name: string,
  settings: Record<string, string> = {},
  options: TopologyOptions = {},
): Promise<Topology> {
  const { lp, sm, urls, closeDatabases } = await openDatabases(options.databaseUrls);
  const redis: TestRedis = createTestRedis();
  const grpcPort = String(await freePort());
  const httpPort = String(await freePort());
  const secrets = {
    LINE_PROVIDER_ADMIN_TOKEN: `${name}-admin-token-123456`,
    LINE_PROVIDER_INTERNAL_TOKEN: `${name}-internal-token-123456`,
    JWT_SECRET: `${name}-jwt-secret-of-32-characters-at-least`,
  };
  const env: Topology['env'] = {
    ...secrets,
    REDIS_URL: redis.url,
    REDIS_PREFIX: redis.prefix,
    LINE_PROVIDER_DATABASE_URL: urls.lineProvider,
    SCORE_MAKER_DATABASE_URL: urls.scoreMaker,
    LINE_PROVIDER_GRPC_PORT: grpcPort,
    LINE_PROVIDER_HTTP_PORT: '0',
    LINE_PROVIDER_GRPC_HOST: '127.0.0.1',
    LINE_PROVIDER_ADDRESS: `127.0.0.1:${grpcPort}`,
    SCORE_MAKER_HTTP_HOST: '127.0.0.1',
    SCORE_MAKER_HTTP_PORT: httpPort,
    WORKER_HTTP_PORT: '0',
    OUTBOX_POLL_INTERVAL: '500ms',
    LOG_LEVEL: 'info',
    ...settings,
  };
  const key = new TextEncoder().encode(secrets.JWT_SECRET);
  const procs: Proc[] = [];
  return {
    secrets,
    env,
    cliEnv: {
      LINE_PROVIDER_ADDRESS: env.LINE_PROVIDER_ADDRESS,
      LINE_PROVIDER_ADMIN_TOKEN: secrets.LINE_PROVIDER_ADMIN_TOKEN,
    },
    api: `http://127.0.0.1:${httpPort}`,
    lp,
    sm,
    procs,
    start: async (script, ready, extraEnv = {}) => {
      const proc = run(script, { ...env, ...extraEnv });
      procs.push(proc);
      const exited = () => proc.child.exitCode !== null || proc.child.signalCode !== null;
      await waitFor(() => proc.output().includes(ready) || exited(), { what: script, timeoutMs: 60_000 });
      if (exited()) throw new Error(`${script} exited at start:\n${proc.output().slice(-3000)}`);
      return proc;
    },
    token: (user, claims = {}) =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject(user)
        .setExpirationTime('1h')
        .sign(key),
    dispose: async () => {
      for (const p of procs.splice(0).reverse()) await p.stop();
      await closeDatabases();
      await redis.dispose();
    },
  };
}

/** Pools on the given databases, or two new empty test databases (dropped again by `closeDatabases`). */
async function openDatabases(given: TopologyOptions['databaseUrls']) {
  if (given) {
    const logger = pino({ level: 'silent' });
    const lp = await openDatabase({ url: given.lineProvider, logger, maxConnections: 2 });
    const sm = await openDatabase({ url: given.scoreMaker, logger, maxConnections: 2 });
    return {
      lp,
      sm,
      urls: given,
      closeDatabases: async () => {
        await lp.close();
        await sm.close();
      },
    };
  }
  const dbs: [TestDatabase, TestDatabase] = [await createTestDatabase([]), await createTestDatabase([])];
  const [lpDb, smDb] = dbs;
  return {
    lp: lpDb.db,
    sm: smDb.db,
    urls: { lineProvider: lpDb.url!, scoreMaker: smDb.url! },
    closeDatabases: async () => {
      for (const db of dbs) await db.dispose();
    },
  };
}
