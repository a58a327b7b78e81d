import * as grpc from '@grpc/grpc-js';
import { setTimeout as sleep } from 'node:timers/promises';
import { v1 } from '@scoreline/contracts';
import { silentLogger } from '@scoreline/platform';
import { testServices } from '@scoreline/platform/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN } from '../../line-provider/test/helpers.js';
import { buildScoreMakerApi, loadApiConfig, type ScoreMakerApi } from '../src/index.js';
import { JWT_SECRET, tokenFor } from './api-harness.js';
import { SagaSystem } from './saga-harness.js';

const skip = !testServices().redisUrl;

/**
 * The API's in-process copies of events against the whole system: line-provider's EventChanged goes
 * through its outbox, Redis and the worker's consumer, whose invalidate() reaches this API replica by
 * Redis pub/sub. The replica keeps copies for a minute here, so anything fresher came by invalidation.
 */
describe.skipIf(skip)(
  `events in the API's memory, kept fresh by EventChanged${skip ? ' [skipped: needs Redis]' : ''}`,
  () => {
    let system: SagaSystem;
    let api: ScoreMakerApi;

    beforeAll(async () => {
      system = await SagaSystem.start('redis', { workers: 1 });
      api = await buildScoreMakerApi(
        loadApiConfig({
          env: {
            JWT_SECRET,
            REDIS_URL: system.redis!.url,
            REDIS_PREFIX: system.redis!.prefix,
            EVENTS_LOCAL_TTL: '60s',
          },
          envFile: false,
        }),
        { logger: silentLogger(), db: system.smDb.db, cache: system.cache(), lineProvider: system.client() },
      );
      await api.http.ready();
    });
    afterAll(async () => {
      await api?.stop();
      await system?.dispose();
    });

    const post = async (user: string, eventId: number, score: number) =>
      api.http.inject({
        method: 'POST',
        url: `/events/${eventId}/score`,
        headers: { authorization: `Bearer ${await tokenFor(user)}`, 'content-type': 'application/json' },
        payload: { score },
      });
    const getEvent = async (id: number) =>
      (await api.http.inject({ method: 'GET', url: `/events/${id}` })).json<{
        state: string;
        scores: { count: number; sum: number };
      }>();
    /** Polls `probe` every 20 ms until it holds; returns how long that took. */
    const within = async (ms: number, probe: () => Promise<boolean>): Promise<number> => {
      const started = Date.now();
      while (!(await probe())) {
        if (Date.now() - started > ms) throw new Error(`not within ${ms} ms`);
        await sleep(20);
      }
      return Date.now() - started;
    };

    it('when an event is closed through line-provider, then once the invalidation arrived a POST to it is refused with 409', async () => {
      const eventId = await system.createEvent('Closing soon');
      expect((await post('early', eventId, 4)).statusCode).toBe(202);
      expect((await getEvent(eventId)).state).toBe('OPEN');

      const client = new v1.EventServiceClient(
        `127.0.0.1:${system.lpPort}`,
        grpc.credentials.createInsecure(),
      );
      const metadata = new grpc.Metadata();
      metadata.set('authorization', `Bearer ${ADMIN_TOKEN}`);
      try {
        await new Promise((resolve, reject) =>
          client.closeEvent(v1.CloseEventRequest.fromPartial({ eventId }), metadata, (e, r) =>
            e ? reject(e) : resolve(r),
          ),
        );
      } finally {
        client.close();
      }
      // Outbox relay, Redis, the worker, pub/sub: seconds at most, far inside the copy's minute.
      await within(10_000, async () => (await getEvent(eventId)).state === 'CLOSED');
      const late = await post('late', eventId, 3);
      expect(late.statusCode).toBe(409);
      expect(late.json()).toMatchObject({ code: 'EVENT_CLOSED' });
    });

    it('when a score is confirmed, then GET /events/{id} shows it as soon as its EventChanged is consumed', async () => {
      const eventId = await system.createEvent('Scored live');
      expect((await getEvent(eventId)).scores.count).toBe(0);
      const accepted = await post('fan', eventId, 5);
      expect(accepted.statusCode).toBe(202);
      const scoreId = accepted.json<{ id: string }>().id;
      await within(10_000, async () => (await system.score(scoreId)).status === 'CONFIRMED');
      // Settled in score-maker; line-provider's EventChanged for it follows through the outbox.
      const took = await within(5_000, async () => (await getEvent(eventId)).scores.count === 1);
      expect(await getEvent(eventId)).toMatchObject({ scores: { count: 1, sum: 5 } });
      expect(took).toBeLessThan(5_000);
    });
  },
);
