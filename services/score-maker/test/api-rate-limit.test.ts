import { testServices } from '@scoreline/platform/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEvent } from '../../line-provider/test/helpers.js';
import type { ScoreMakerApi } from '../src/index.js';
import { startApi, type ApiHarness } from './api-harness.js';

const LIMIT = 40;
// rate-limit-sync.ts: block = max(1, floor(limit × 0.05)); at most limit + replicas × block get through.
const BLOCK = Math.max(1, Math.floor(LIMIT * 0.05));
const REPLICAS = 2;
const skip = !testServices().redisUrl;

describe.skipIf(skip)(
  `per-user limits across two API replicas on one Redis${skip ? ' [skipped: needs Redis]' : ''}`,
  () => {
    let h: ApiHarness;
    let replicas: ScoreMakerApi[];
    let eventId: number;

    beforeAll(async () => {
      h = await startApi({ RATE_LIMIT_SCORES_PER_MINUTE: String(LIMIT) });
      replicas = [h.api, await h.replica()];
      eventId = (await createEvent(h.lp, 'Rate limit cup')).id;
    });
    afterAll(async () => {
      await h.dispose();
    });

    const post = async (replica: ScoreMakerApi, user: string, score: number) =>
      replica.http.inject({
        method: 'POST',
        url: `/events/${eventId}/score`,
        headers: { ...(await h.auth(user)), 'content-type': 'application/json' },
        payload: { score },
      });

    it('when a user sends 3× the limit through both replicas, then no more than limit + replicas × block get through, the rest 429 with Retry-After; another user is unaffected', async () => {
      const answers = [];
      // Eight in flight at a time, alternating replicas, as a load balancer would spread them.
      for (let i = 0; i < 3 * LIMIT; i += 8) {
        const wave = Array.from({ length: 8 }, (_, j) =>
          post(replicas[(i + j) % REPLICAS]!, 'greedy', 1 + (j % 5)),
        );
        answers.push(...(await Promise.all(wave)));
      }
      const accepted = answers.filter((r) => r.statusCode === 202).length;
      const limited = answers.filter((r) => r.statusCode === 429);
      expect(accepted + limited.length).toBe(3 * LIMIT);
      expect(accepted).toBeGreaterThanOrEqual(LIMIT);
      expect(accepted).toBeLessThanOrEqual(LIMIT + REPLICAS * BLOCK);
      for (const res of limited) {
        expect(res.json()).toMatchObject({ status: 429, code: 'RATE_LIMITED' });
        const retryAfter = Number(res.headers['retry-after']);
        expect(retryAfter).toBeGreaterThan(0);
        expect(retryAfter).toBeLessThanOrEqual(60);
      }
      // Both replicas refuse the greedy user now, and both still serve another one.
      for (const replica of replicas) {
        expect((await post(replica, 'greedy', 3)).statusCode).toBe(429);
        expect((await post(replica, 'modest', 3)).statusCode).toBe(202);
      }
    });

    it('when two users take turns at the limit, then each gets the limit, counted once across replicas', async () => {
      const statuses: Record<string, number[]> = { ann: [], bob: [] };
      for (let i = 0; i < LIMIT; i++) {
        for (const user of ['ann', 'bob']) {
          statuses[user]!.push((await post(replicas[i % REPLICAS]!, user, 1 + (i % 5))).statusCode);
        }
      }
      expect(statuses.ann).toEqual(Array(LIMIT).fill(202));
      expect(statuses.bob).toEqual(Array(LIMIT).fill(202));
      // Past the limit, each replica may still admit its unsynced block at most: the stated tolerance.
      const next = await Promise.all(replicas.map((r) => post(r, 'ann', 2)));
      expect(next.filter((r) => r.statusCode === 202).length).toBeLessThanOrEqual(REPLICAS * BLOCK);
    });
  },
);
