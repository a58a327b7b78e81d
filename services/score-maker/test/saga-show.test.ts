import { randomUUID } from 'node:crypto';
import { testServices, waitFor } from '@scoreline/platform/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { runSagasCli } from '../src/entry-points/cli/sagas.js';
import { ADMIN_TOKEN, INTERNAL_TOKEN } from '../../line-provider/test/helpers.js';
import { SagaSystem } from './saga-harness.js';

/** `npm run sagas -- show <id>` against a real score-maker database and a real line-provider. */
describe.skipIf(!testServices().postgresUrl)(
  `npm run sagas -- show${testServices().postgresUrl ? '' : ' [skipped: the CLI reads a PostgreSQL database]'}`,
  () => {
    let system: SagaSystem | undefined;
    afterEach(async () => {
      await system?.dispose();
      system = undefined;
    });

    async function show(args: string[], env: Record<string, string> = {}) {
      const out: string[] = [];
      const err: string[] = [];
      const code = await runSagasCli(['show', ...args], {
        out: (s) => out.push(s),
        err: (s) => err.push(s),
        env: {
          SCORE_MAKER_DATABASE_URL: system!.smDb.url!,
          LINE_PROVIDER_ADDRESS: `127.0.0.1:${system!.lpPort}`,
          LINE_PROVIDER_ADMIN_TOKEN: ADMIN_TOKEN,
          ...env,
        },
      });
      return { code, out, err, text: out.join('\n') };
    }

    const settled = (id: string, status: string) =>
      waitFor(
        async () => {
          const s = await system!.score(id);
          return s.status === status && s.saga_state === null;
        },
        { what: `score ${id} ${status}`, timeoutMs: 20_000 },
      );

    it('when a score is confirmed, then both sides show version 1 in effect and they agree; --json says the same', async () => {
      system = await SagaSystem.start('memory');
      const eventId = await system.createEvent();
      const { id } = await system.submit('alice', eventId, 4);
      await settled(id, 'CONFIRMED');

      const { code, out, text } = await show([id]);
      expect(code, text).toBe(0);
      expect(out[0]).toBe(`score-maker   score ${id}`);
      expect(text).toContain(`  event        ${eventId}\n  user         alice\n  version      1\n`);
      expect(text).toContain('  status       CONFIRMED');
      expect(text).toContain('  confirmed    version 1, rate 4');
      expect(text).toMatch(/ {2}saga {9}settled \(last change \S+Z \(\d+s ago\)\)/);
      expect(text).toContain('  last error   -');
      expect(text).toContain('  attempts     not recorded');
      expect(text).toContain('  trace        - (not traced: no OTEL_* exporter set when it was submitted)');
      expect(text).toContain('line-provider ledger');
      expect(text).toContain('  in effect    version 1, rate 4');
      expect(text).toMatch(/ {2}versions {5}v1 {2}rate 4 {2}APPLIED {2}recorded \S+Z/);
      expect(out.at(-1)).toBe(
        'verdict       agree: line-provider has version 1 (rate 4) in effect, the one score-maker confirmed',
      );

      const json = await show([id.toUpperCase(), '--json']);
      expect(json.code).toBe(0);
      const report = JSON.parse(json.text);
      expect(report).toMatchObject({
        scoreMaker: { id, eventId, userId: 'alice', version: 1, status: 'CONFIRMED', confirmedVersion: 1 },
        lineProvider: {
          found: true,
          eventId,
          userId: 'alice',
          maxVersion: 1,
          appliedVersion: 1,
          appliedRate: 4,
          versions: [
            { version: 1, rate: 4, applyOutcome: 'APPLIED', rejectReason: null, revertOutcome: null },
          ],
        },
        lineProviderError: null,
        verdict: 'agree',
      });
      expect(report.scoreMaker).toMatchObject({
        pendingSeconds: null,
        attempts: null,
        lastError: null,
        traceparent: null,
        traceId: null,
      });
    });

    it('when a change timed out and was compensated, then score-maker is back on version 1 with the reason, line-provider shows version 2 tombstoned, and they agree', async () => {
      system = await SagaSystem.start('memory', { env: { SAGA_TIMEOUT: '500ms', SAGA_MAX_ATTEMPTS: '3' } });
      const eventId = await system.createEvent();
      const { id } = await system.submit('bob', eventId, 4);
      await settled(id, 'CONFIRMED');
      await system.stopLineProvider();
      await system.submit('bob', eventId, 2);
      await waitFor(async () => (await system!.score(id)).saga_state === 'REVERTING', {
        what: 'the compensation',
        timeoutMs: 15_000,
      });

      // While line-provider is down: score-maker's side, and why line-provider's is missing.
      const down = await show([id]);
      expect(down.code, down.text).toBe(3);
      expect(down.text).toContain('  status       PENDING');
      expect(down.text).toMatch(/ {2}saga {9}compensating version 2 since \S+Z \(\d+s ago\)/);
      expect(down.text).toMatch(/ {2}last error {3}\S.* at \S+Z \(\d+s ago\)/);
      expect(down.text).toMatch(
        /^line-provider cannot reach line-provider at 127\.0\.0\.1:\d+ \(is it running\?\): connect ECONNREFUSED/m,
      );
      expect(down.out.at(-1)).toBe("verdict       line-provider unreachable: score-maker's side only");
      const downJson = JSON.parse((await show([id, '--json'])).text);
      expect(downJson).toMatchObject({ lineProvider: null, verdict: 'unreachable' });
      expect(downJson.lineProviderError).toMatch(/cannot reach line-provider/);
      expect(downJson.scoreMaker.sagaState).toBe('REVERTING');
      expect(downJson.scoreMaker.pendingSeconds).toBeGreaterThanOrEqual(0);

      await system.startLineProvider();
      await settled(id, 'CONFIRMED');
      const { code, text, out } = await show([id]);
      expect(code, text).toBe(0);
      expect(text).toContain('  version      2');
      expect(text).toContain('  rate         4');
      expect(text).toContain('  confirmed    version 1, rate 4');
      expect(text).toContain('  reason       UNAVAILABLE');
      expect(text).toContain('  max version  2');
      expect(text).toContain('  in effect    version 1, rate 4');
      expect(text).toMatch(/v1 {2}rate 4 {2}APPLIED {2}recorded/);
      expect(text).toMatch(/v2 {2}rate - {2}not applied, revert TOMBSTONED {2}recorded/);
      expect(out.at(-1)).toBe(
        'verdict       agree: line-provider has version 1 (rate 4) in effect, the one score-maker confirmed',
      );
    });

    it('when the id is unknown, malformed, or the token is missing or not the admin one, then it says so with its exit code', async () => {
      system = await SagaSystem.start('memory');
      const eventId = await system.createEvent();
      const { id } = await system.submit('carol', eventId, 3);
      await settled(id, 'CONFIRMED');

      const unknown = randomUUID();
      expect(await show([unknown])).toMatchObject({
        code: 1,
        out: [],
        err: [`no score ${unknown} in score-maker's database (SCORE_MAKER_DATABASE_URL)`],
      });
      const malformed = await show(['not-a-score']);
      expect(malformed.code).toBe(2);
      expect(malformed.err.join('\n')).toMatch(/"not-a-score" is not a score id[\s\S]*usage: npm run sagas/);
      expect((await show([])).code).toBe(2);
      expect((await show([id, 'extra'])).code).toBe(2);

      const noToken = await show([id], { LINE_PROVIDER_ADMIN_TOKEN: '' });
      expect(noToken.code).toBe(3);
      expect(noToken.text).toContain('  status       CONFIRMED');
      expect(noToken.out.at(-1)).toBe(
        'verdict       line-provider not asked (LINE_PROVIDER_ADMIN_TOKEN is not set): score-maker only',
      );
      const internal = await show([id, '--json'], { LINE_PROVIDER_ADMIN_TOKEN: INTERNAL_TOKEN });
      expect(internal.code).toBe(3);
      expect(JSON.parse(internal.text)).toMatchObject({ verdict: 'refused', lineProvider: null });
      expect(JSON.parse(internal.text).lineProviderError).toMatch(/another role's token/);
      const wrong = await show([id], { LINE_PROVIDER_ADMIN_TOKEN: 'x'.repeat(32) });
      expect(wrong.code).toBe(3);
      expect(wrong.text).toMatch(/line-provider refused the admin token/);
      const badSetting = await show([id], { LINE_PROVIDER_CALL_TIMEOUT: 'soon' });
      expect(badSetting.code).toBe(2);
      expect(badSetting.err.join('\n')).toContain('LINE_PROVIDER_CALL_TIMEOUT');
    });
  },
);
