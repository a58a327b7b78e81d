import { testServices } from '@scoreline/platform/testing';
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
      const { cliEnv, start } = topology;
      await start('services/line-provider/src/main.ts', 'line-provider listening');
      await start('services/score-maker/src/main-worker.ts', 'score-maker worker started');
      let api = await start('services/score-maker/src/main-api.ts', 'score-maker API listening');

      // The production line-provider has no demo events: an operator creates them.
      expect(
        (await cli(['events', 'create', '--title', 'Opening match', '--deadline', '+1d'], cliEnv)).code,
      ).toBe(0);

      const target: Target = { api: topology.api, token: await topology.token('walker'), cliEnv };
      const { scoreId } = await walkthrough(target);

      // SIGTERM stops the API cleanly; a new one serves the same data.
      expect(await api.stop()).toBe(0);
      api = await start('services/score-maker/src/main-api.ts', 'score-maker API listening');
      expect(await readScore(target, scoreId)).toMatchObject({ status: 'CONFIRMED', confirmed_score: 1 });
    }, 180_000);
  },
);
