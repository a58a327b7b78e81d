import {
  createTestDatabase,
  createTestRedis,
  freePort,
  waitFor,
  type TestDatabase,
  type TestRedis,
} from '@scoreline/platform/testing';
import { run, type Proc } from './walkthrough.js';

/**
 * The production entry points as separate processes, as compose runs them: line-provider, the score-maker
 * API and its worker on empty databases of their own (each migrates its own at start) and a Redis prefix
 * of their own, on free loopback ports. `env` holds the settings every process gets; `start` runs one
 * entry point and waits for its ready line; `dispose` stops them in reverse order and drops the rest.
 */
export interface Topology {
  secrets: { LINE_PROVIDER_ADMIN_TOKEN: string; LINE_PROVIDER_INTERNAL_TOKEN: string; JWT_SECRET: string };
  env: Record<string, string> & { LINE_PROVIDER_ADDRESS: string };
  /** The API's base URL. */
  api: string;
  /** The processes started, oldest first. */
  procs: Proc[];
  start: (script: string, ready: string) => Promise<Proc>;
  dispose: () => Promise<void>;
}

/** `name` tells the secrets apart; `settings` adds to or overrides the common ones. */
export async function openTopology(name: string, settings: Record<string, string> = {}): Promise<Topology> {
  const dbs: TestDatabase[] = [await createTestDatabase([]), await createTestDatabase([])];
  const [lpDb, smDb] = dbs as [TestDatabase, TestDatabase];
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
    LINE_PROVIDER_DATABASE_URL: lpDb.url!,
    SCORE_MAKER_DATABASE_URL: smDb.url!,
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
  const procs: Proc[] = [];
  return {
    secrets,
    env,
    api: `http://127.0.0.1:${httpPort}`,
    procs,
    start: async (script, ready) => {
      const proc = run(script, env);
      procs.push(proc);
      await waitFor(() => proc.output().includes(ready), { what: script, timeoutMs: 60_000 });
      return proc;
    },
    dispose: async () => {
      for (const p of procs.splice(0).reverse()) await p.stop();
      for (const db of dbs) await db.dispose();
      await redis.dispose();
    },
  };
}
