import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  freePort,
  promqlMetricNames,
  scrapeMetrics,
  testServices,
  waitFor,
  type Exposition,
} from '@scoreline/platform/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { openTopology, type Topology } from './topology-processes.js';
import { cli, repoRoot } from './walkthrough.js';

const missing = !testServices().postgresUrl || !testServices().redisUrl;

interface Dashboard {
  schemaVersion: number;
  title: string;
  panels: { type: string; title: string; targets?: { expr: string }[] }[];
}

/** Every PromQL expression of the dashboard's panels, and of the alert rules. */
function observabilityExpressions(): { where: string; expr: string }[] {
  const dir = join(repoRoot, 'deploy/observability');
  const dashboard = JSON.parse(
    readFileSync(join(dir, 'grafana/dashboards/scoreline.json'), 'utf8'),
  ) as Dashboard;
  const rules = parse(readFileSync(join(dir, 'prometheus/alerts.yml'), 'utf8')) as {
    groups: { rules: { alert: string; expr: string }[] }[];
  };
  return [
    ...dashboard.panels.flatMap((p) =>
      (p.targets ?? []).map((t) => ({ where: `dashboard panel "${p.title}"`, expr: t.expr })),
    ),
    ...rules.groups.flatMap((g) => g.rules.map((r) => ({ where: `alert ${r.alert}`, expr: r.expr }))),
  ];
}

/**
 * The production entry points as separate processes on real PostgreSQL and Redis, scraped as Prometheus
 * would: every /metrics parses strictly, a confirmed score moves the saga's counters, a compensation
 * stuck on a stopped line-provider shows in the stuck gauge and leaves it once line-provider is back,
 * and the dashboard and the alert rules read only metrics the processes export.
 */
describe.skipIf(missing)(
  `metrics of the line-provider, API and worker processes${missing ? ' [skipped: needs PostgreSQL and Redis]' : ''}`,
  () => {
    let topology: Topology | undefined;
    afterAll(async () => {
      await topology?.dispose();
    });

    it('when scores settle and line-provider goes away and comes back, then /metrics of each process shows it', async () => {
      const [lpHttp, workerHttp] = [await freePort(), await freePort()];
      topology = await openTopology('metrics', {
        LINE_PROVIDER_HTTP_HOST: '127.0.0.1',
        LINE_PROVIDER_HTTP_PORT: String(lpHttp),
        WORKER_HTTP_HOST: '127.0.0.1',
        WORKER_HTTP_PORT: String(workerHttp),
        OUTBOX_POLL_INTERVAL: '200ms',
        // A saga gives up on line-provider after two deliveries, and its compensation counts as stuck
        // after 2 s: the stuck gauge moves within seconds instead of minutes.
        SAGA_MAX_ATTEMPTS: '2',
        SAGA_TIMEOUT: '1s',
        SAGA_BACKOFF_INITIAL: '100ms',
        SAGA_BACKOFF_MAX: '300ms',
        SAGA_REVERT_BACKOFF_MAX: '500ms',
        SAGA_STUCK_AFTER: '2s',
        LINE_PROVIDER_CALL_TIMEOUT: '500ms',
      });
      const { api, cliEnv, start, token } = topology;
      let lineProvider = await start('services/line-provider/src/main.ts', 'line-provider listening');
      await start('services/score-maker/src/main-worker.ts', 'score-maker worker started');
      await start('services/score-maker/src/main-api.ts', 'score-maker API listening');

      const urls = {
        'line-provider': `http://127.0.0.1:${lpHttp}/metrics`,
        api: `${api}/metrics`,
        worker: `http://127.0.0.1:${workerHttp}/metrics`,
      };
      const figures: string[] = [];
      const scrape = async (which: keyof typeof urls, note = false): Promise<Exposition> => {
        const { exposition, bytes, ms } = await scrapeMetrics(urls[which]);
        if (note) figures.push(`${which} ${bytes} B in ${ms.toFixed(1)} ms`);
        return exposition;
      };

      // Before any traffic: each process's page parses, with its process metrics and its own families.
      const idle = {
        lp: await scrape('line-provider', true),
        api: await scrape('api', true),
        worker: await scrape('worker', true),
      };
      for (const page of Object.values(idle)) {
        expect(page.families.get('nodejs_eventloop_lag_p99_seconds')?.type).toBe('gauge');
        expect(page.families.get('process_cpu_seconds_total')?.type).toBe('counter');
      }
      expect(idle.lp.families.get('grpc_server_handling_seconds')?.type).toBe('histogram');
      expect(idle.lp.has('scoreline_outbox_unpublished', { service: 'line-provider' })).toBe(true);
      expect(
        idle.lp.value('scoreline_db_pool_connections', { pool: 'line-provider', state: 'total' }),
      ).toBeGreaterThan(0);
      expect(idle.api.families.get('http_request_duration_seconds')?.type).toBe('histogram');
      expect(idle.api.has('scoreline_db_pool_waiting', { pool: 'score-maker-api' })).toBe(true);
      expect(idle.worker.has('scoreline_outbox_oldest_unpublished_seconds', { service: 'score-maker' })).toBe(
        true,
      );
      for (const topic of [
        'score-maker.apply-score',
        'score-maker.revert-score',
        'line-provider.event-changed',
      ]) {
        expect(idle.worker.has('scoreline_queue_depth', { topic }), topic).toBe(true);
      }
      expect(idle.worker.value('scoreline_sagas_stuck')).toBe(0);
      expect(idle.worker.has('scoreline_sagas_in_flight', { step: 'applying' })).toBe(true);

      // A confirmed score.
      expect(
        (await cli(['events', 'create', '--title', 'Metrics match', '--deadline', '+1d'], cliEnv)).code,
      ).toBe(0);
      const events = (await (await fetch(`${api}/events`)).json()) as {
        events: { id: number; title: string }[];
      };
      const eventId = events.events.find((e) => e.title === 'Metrics match')!.id;
      const submit = async (user: string, score: number) => {
        const response = await fetch(`${api}/events/${eventId}/score`, {
          method: 'POST',
          headers: { authorization: `Bearer ${await token(user)}`, 'content-type': 'application/json' },
          body: JSON.stringify({ score }),
        });
        expect(response.status).toBe(202);
        return ((await response.json()) as { id: string }).id;
      };
      const status = async (user: string, id: string) =>
        (
          (await (
            await fetch(`${api}/scores/${id}`, { headers: { authorization: `Bearer ${await token(user)}` } })
          ).json()) as { status: string; reason?: string | null }
        ).status;

      const confirmed = await submit('ann', 4);
      await waitFor(async () => (await status('ann', confirmed)) === 'CONFIRMED', {
        what: 'CONFIRMED',
        intervalMs: 100,
      });
      const afterConfirm = await waitFor(
        async () => {
          const page = await scrape('worker');
          return page.value('scoreline_event_changed_lag_seconds_count') > 0 && page;
        },
        { what: 'the EventChanged of the applied score consumed', intervalMs: 200 },
      );
      expect(
        afterConfirm.value('scoreline_saga_outcomes_total', { status: 'CONFIRMED', reason: 'none' }),
      ).toBe(1);
      expect(afterConfirm.value('scoreline_score_settlement_seconds_count', { status: 'CONFIRMED' })).toBe(1);
      expect(
        afterConfirm.value('scoreline_score_settlement_seconds_sum', { status: 'CONFIRMED' }),
      ).toBeGreaterThan(0);
      expect(
        afterConfirm.value('grpc_client_handling_seconds_count', {
          grpc_method: 'ApplyScores',
          grpc_code: 'OK',
        }),
      ).toBe(1);
      const lpAfter = await scrape('line-provider');
      expect(
        lpAfter.value('grpc_server_handling_seconds_count', { grpc_method: 'ApplyScores', grpc_code: 'OK' }),
      ).toBe(1);
      const apiAfter = await scrape('api');
      expect(apiAfter.value('scoreline_scores_accepted_total')).toBe(1);
      expect(
        apiAfter.value('http_request_duration_seconds_count', {
          route: '/events/:event_id/score',
          status: '202',
        }),
      ).toBe(1);

      // line-provider stops: the next score's saga gives up, its compensation cannot reach line-provider
      // and, after SAGA_STUCK_AFTER, counts as stuck.
      expect(await lineProvider.stop()).toBe(0);
      const compensated = await submit('bob', 2);
      const stuck = await waitFor(
        async () => {
          const page = await scrape('worker');
          return page.value('scoreline_sagas_stuck') === 1 && page;
        },
        { what: 'the stuck gauge at 1', timeoutMs: 30_000, intervalMs: 250 },
      );
      expect(stuck.value('scoreline_sagas_in_flight', { step: 'reverting' })).toBe(1);
      expect(stuck.value('scoreline_saga_compensations_total', { reason: 'UNAVAILABLE' })).toBe(1);
      expect(
        stuck.value('grpc_client_handling_seconds_count', { grpc_code: 'UNAVAILABLE' }) +
          stuck.value('grpc_client_handling_seconds_count', { grpc_code: 'DEADLINE_EXCEEDED' }),
      ).toBeGreaterThan(0);
      expect(await status('bob', compensated)).toBe('PENDING');

      // line-provider is back: the compensation goes through, the score is rejected, the gauge is 0.
      lineProvider = await start('services/line-provider/src/main.ts', 'line-provider listening');
      const settled = await waitFor(
        async () => {
          const page = await scrape('worker');
          return (
            page.value('scoreline_sagas_stuck') === 0 &&
            page.value('scoreline_saga_outcomes_total', { status: 'REJECTED' }) === 1 &&
            page
          );
        },
        { what: 'the stuck gauge back at 0', timeoutMs: 30_000, intervalMs: 250 },
      );
      expect(await status('bob', compensated)).toBe('REJECTED');
      expect(
        settled.value('scoreline_saga_outcomes_total', { status: 'REJECTED', reason: 'UNAVAILABLE' }),
      ).toBe(1);
      expect(settled.value('scoreline_sagas_in_flight', { step: 'reverting' })).toBe(0);
      // From its 202 to its rejection it waited at least SAGA_STUCK_AFTER.
      expect(settled.value('scoreline_score_settlement_seconds_sum', { status: 'REJECTED' })).toBeGreaterThan(
        2,
      );
      const lpBack = await scrape('line-provider', true);
      expect(
        lpBack.value('grpc_server_handling_seconds_count', { grpc_method: 'RevertScores', grpc_code: 'OK' }),
      ).toBeGreaterThan(0);

      // The dashboard and the alert rules read nothing the processes do not export (or Prometheus's `up`).
      const exported = new Set(['up']);
      for (const page of [settled, lpBack, await scrape('api', true), await scrape('worker', true)]) {
        for (const name of page.sampleNames) exported.add(name);
      }
      const unknown = observabilityExpressions().flatMap(({ where, expr }) =>
        [...promqlMetricNames(expr)].filter((name) => !exported.has(name)).map((name) => `${where}: ${name}`),
      );
      expect(unknown).toEqual([]);
      console.info(`metrics scrapes: ${figures.join('; ')}`);
    }, 180_000);
  },
);
