import { testServices } from '@scoreline/platform/testing';
import { SignJWT } from 'jose';
import { afterAll, describe, expect, it } from 'vitest';
import { openTopology, type Topology } from './topology-processes.js';
import { cli, readScore, walkthrough, type Target } from './walkthrough.js';

const missing = !testServices().postgresUrl || !testServices().redisUrl;

/** The production entry points as separate processes on real PostgreSQL and Redis, as compose runs them. */
describe.skipIf(missing)(
  `the full topology: line-provider, API and worker processes${missing ? ' [skipped: needs PostgreSQL and Redis]' : ''}`,
  () => {
    let topology: Topology | undefined;
    afterAll(async () => {
      await topology?.dispose();
    });

    it('when the walkthrough runs against separate processes, then it behaves as in the quick start, and a restarted API still serves the data', async () => {
      topology = await openTopology('topology');
      const { env, secrets, start } = topology;
      await start('services/line-provider/src/main.ts', 'line-provider listening');
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
      const target: Target = { api: topology.api, token, cliEnv };
      const { scoreId } = await walkthrough(target);

      // SIGTERM stops the API cleanly; a new one serves the same data.
      expect(await api.stop()).toBe(0);
      api = await start('services/score-maker/src/main-api.ts', 'score-maker API listening');
      expect(await readScore(target, scoreId)).toMatchObject({ status: 'CONFIRMED', confirmed_score: 1 });
    }, 180_000);
  },
);
