import {
  createTestDatabase,
  createTestRedis,
  testServices,
  waitFor,
  type TestDatabase,
  type TestRedis,
} from '@scoreline/platform/testing';
import { SignJWT } from 'jose';
import { afterAll, describe, expect, it } from 'vitest';
import { cli, readScore, run, walkthrough, type Proc, type Target } from './walkthrough.js';

const missing = !testServices().postgresUrl || !testServices().redisUrl;

/** The production entry points as separate processes on real PostgreSQL and Redis, as compose runs them. */
describe.skipIf(missing)(
  `the full topology: line-provider, API and worker processes${missing ? ' [skipped: needs PostgreSQL and Redis]' : ''}`,
  () => {
    const procs: Proc[] = [];
    const dbs: TestDatabase[] = [];
    let redis: TestRedis | undefined;
    afterAll(async () => {
      for (const p of procs.reverse()) await p.stop();
      for (const db of dbs) await db.dispose();
      await redis?.dispose();
    });

    it('when the walkthrough runs against separate processes, then it behaves as in the quick start, and a restarted API still serves the data', async () => {
      // Empty databases: each service migrates its own at start.
      const lpDb = await createTestDatabase([]);
      const smDb = await createTestDatabase([]);
      dbs.push(lpDb, smDb);
      redis = createTestRedis();
      const grpcPort = String(26_000 + Math.floor(Math.random() * 3000));
      const httpPort = String(22_000 + Math.floor(Math.random() * 3000));
      const secrets = {
        LINE_PROVIDER_ADMIN_TOKEN: 'topology-admin-token-123456',
        LINE_PROVIDER_INTERNAL_TOKEN: 'topology-internal-token-123456',
        JWT_SECRET: 'topology-jwt-secret-of-32-characters-at-least',
      };
      const env = {
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
      };
      const lineProvider = run('services/line-provider/src/main.ts', env);
      procs.push(lineProvider);
      await waitFor(() => lineProvider.output().includes('line-provider listening'), {
        what: 'line-provider',
        timeoutMs: 60_000,
      });
      const start = (script: string, ready: string) => {
        const proc = run(script, env);
        procs.push(proc);
        return waitFor(() => proc.output().includes(ready) && proc, { what: script, timeoutMs: 60_000 });
      };
      await start('services/score-maker/src/main-worker.ts', 'score-maker worker started');
      let api = await start('services/score-maker/src/main-api.ts', 'score-maker API listening');

      const cliEnv = {
        LINE_PROVIDER_ADDRESS: env.LINE_PROVIDER_ADDRESS,
        LINE_PROVIDER_ADMIN_TOKEN: secrets.LINE_PROVIDER_ADMIN_TOKEN,
      };
      // The production line-provider has no demo events: an operator creates them.
      expect(
        (await cli(['events', 'create', '--title', 'Opening match', '--deadline', '+1d'], cliEnv)).code,
      ).toBe(0);

      const token = await new SignJWT({})
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject('walker')
        .setExpirationTime('1h')
        .sign(new TextEncoder().encode(secrets.JWT_SECRET));
      const target: Target = { api: `http://127.0.0.1:${httpPort}`, token, cliEnv };
      const { scoreId } = await walkthrough(target);

      // SIGTERM stops the API cleanly; a new one serves the same data.
      expect(await api.stop()).toBe(0);
      api = await start('services/score-maker/src/main-api.ts', 'score-maker API listening');
      expect(await readScore(target, scoreId)).toMatchObject({ status: 'CONFIRMED', confirmed_score: 1 });
    }, 180_000);
  },
);
