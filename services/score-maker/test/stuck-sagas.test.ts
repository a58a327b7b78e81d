import { testServices, waitFor } from '@scoreline/platform/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { runSagasCli } from '../src/entry-points/cli/sagas.js';
import { SagaSystem } from './saga-harness.js';

describe.skipIf(!testServices().postgresUrl)(
  `a compensation that keeps failing${testServices().postgresUrl ? '' : ' [skipped: the CLI reads a PostgreSQL database]'}`,
  () => {
    let system: SagaSystem | undefined;
    afterEach(async () => {
      await system?.dispose();
    });

    it('when line-provider stays down, then the compensation keeps retrying and shows in /readyz and `npm run sagas -- stuck`', async () => {
      system = await SagaSystem.start('memory', { env: { SAGA_TIMEOUT: '500ms', SAGA_MAX_ATTEMPTS: '3' } });
      const eventId = await system.createEvent();
      await system.stopLineProvider();
      const { id } = await system.submit('stuck', eventId, 2);
      await waitFor(async () => (await system!.score(id)).saga_state === 'REVERTING', {
        what: 'compensation',
        timeoutMs: 10_000,
      });
      // Stuck once its compensation is older than SAGA_STUCK_AFTER and a retry has failed.
      let code: number | undefined;
      const lines = await waitFor(
        async () => {
          const out: string[] = [];
          code = await runSagasCli(['stuck'], {
            out: (s) => out.push(s),
            env: { SCORE_MAKER_DATABASE_URL: system!.smDb.url!, SAGA_STUCK_AFTER: '1s' },
          });
          return out[0]?.endsWith(', 1 stuck') && / {2}last error: \S/.test(out[1] ?? '') && out;
        },
        { what: 'the compensation listed as stuck', timeoutMs: 10_000, intervalMs: 200 },
      );
      expect(code).toBe(0);
      expect(lines[0]).toBe('in flight: 0 applying, 1 compensating, 1 stuck');
      expect(lines[1]).toContain(id);
      expect(lines[1]).toContain('reverting');
      // The worker recorded why the compensation keeps failing.
      expect(lines[1]).toMatch(/ {2}last error: \S/);

      const ready = await system.api.http.inject({ method: 'GET', url: '/readyz' });
      expect(ready.json().sagas).toMatchObject({ reverting: 1 });

      // Still retrying: once line-provider is back, the compensation completes.
      await system.startLineProvider();
      await waitFor(async () => (await system!.score(id)).status === 'REJECTED', {
        what: 'the compensation to finish',
        timeoutMs: 15_000,
      });
      expect(await system.score(id)).toMatchObject({ reason: 'UNAVAILABLE', saga_state: null });
    });
  },
);
