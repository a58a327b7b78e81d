import { testServices, waitFor } from '@scoreline/platform/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi, tokenFor, type ApiHarness } from './api-harness.js';
import { SagaSystem } from './saga-harness.js';
import { openSse, type SseMessage } from './sse-client.js';

const kind = testServices().redisUrl ? 'redis' : 'memory';
type Streams = Awaited<ReturnType<typeof openSse>>[];

const listen = async (http: { listen(o: object): Promise<string> }) =>
  http.listen({ host: '127.0.0.1', port: 0 });
const scoreOf =
  (id: string, more: (data: Record<string, unknown>) => boolean = () => true) =>
  (m: SseMessage) =>
    m.event === 'score' && (m.data as { id: string }).id === id && more(m.data as Record<string, unknown>);

/** The live update streams against the real API, a worker and line-provider: settlements and EventChanged. */
describe(`GET /me/scores/stream and /events/stream (${kind})`, () => {
  let system: SagaSystem;
  let base: string;
  const open: Streams = [];
  const stream = async (path: string, user?: string, headers: Record<string, string> = {}) => {
    const auth: Record<string, string> = user ? { authorization: `Bearer ${await tokenFor(user)}` } : {};
    const s = await openSse(`${base}${path}`, { ...auth, ...headers });
    open.push(s);
    return s;
  };

  beforeAll(async () => {
    system = await SagaSystem.start(kind, { apiEnv: { STREAM_HEARTBEAT: '200ms' } });
    base = await listen(system.api.http);
  });
  afterAll(async () => {
    for (const s of open) await s.close();
    await system?.dispose();
  });

  it('when a score settles, then its owner sees it CONFIRMED on the stream, and another user sees nothing of it', async () => {
    const eventId = await system.createEvent('Live cup');
    const mine = await stream('/me/scores/stream', 'live-alice');
    const theirs = await stream('/me/scores/stream', 'live-bob');
    expect(mine.res.status).toBe(200);
    expect(mine.res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    await mine.next((m) => m.event === 'ready');
    await theirs.next((m) => m.event === 'ready');
    const { id } = await system.submit('live-alice', eventId, 4);
    const settled = await mine.next(scoreOf(id, (d) => d.status === 'CONFIRMED'));
    expect(settled.data).toMatchObject({ id, event_id: eventId, score: 4, confirmed_score: 4, final: false });
    expect(settled.id).toMatch(/^\d+$/);
    expect(theirs.messages.filter((m) => m.event === 'score')).toEqual([]);
    // Idle streams carry keep-alive comments.
    await waitFor(() => mine.comments.includes('keep-alive'), { what: 'a keep-alive comment' });
  });

  it('when a scores stream reconnects with Last-Event-ID, then it gets the scores that changed while it was away', async () => {
    const eventId = await system.createEvent('Resume cup');
    const first = await stream('/me/scores/stream', 'live-carol');
    const ready = await first.next((m) => m.event === 'ready');
    await first.close();
    const { id } = await system.submit('live-carol', eventId, 2);
    await expect.poll(async () => (await system.score(id)).status, { timeout: 15_000 }).toBe('CONFIRMED');
    const again = await stream('/me/scores/stream', 'live-carol', { 'last-event-id': ready.id! });
    const replayed = await again.next(scoreOf(id));
    expect(replayed.data).toMatchObject({ id, status: 'CONFIRMED', score: 2 });
    // The replay comes before `ready`, which carries the id to resume from next time.
    const order = again.messages.map((m) => m.event);
    await again.next((m) => m.event === 'ready');
    expect(order.indexOf('score')).toBeLessThan(again.messages.findIndex((m) => m.event === 'ready'));
  });

  it('when an event is scored, created or closed, then the events stream carries it, and the owners of its scores see them final', async () => {
    const events = await stream('/events/stream');
    await events.next((m) => m.event === 'ready');
    const eventId = await system.createEvent('Stream derby');
    const created = await events.next(
      (m) => m.event === 'event' && (m.data as { id: number }).id === eventId,
    );
    expect(created.data).toMatchObject({ title: 'Stream derby', state: 'OPEN', scores: { count: 0 } });

    const scores = await stream('/me/scores/stream', 'live-dan');
    await scores.next((m) => m.event === 'ready');
    const { id } = await system.submit('live-dan', eventId, 5);
    const counted = await events.next(
      (m) =>
        m.event === 'event' &&
        (m.data as { id: number; scores: { count: number } }).id === eventId &&
        (m.data as { scores: { count: number } }).scores.count === 1,
    );
    expect(counted.data).toMatchObject({
      id: eventId,
      status: 'HIGH_SCORE',
      scores: { histogram: { '5': 1 } },
    });
    await scores.next(scoreOf(id, (d) => d.status === 'CONFIRMED'));

    await system.closeEvent(eventId);
    const final = await scores.next(
      scoreOf(id, (d) => d.final === true),
      30_000,
    );
    expect(final.data).toMatchObject({ status: 'CONFIRMED', final: true });
    await events.next(
      (m) =>
        m.event === 'event' &&
        (m.data as { id: number; state: string }).id === eventId &&
        (m.data as { state: string }).state === 'CLOSED',
      30_000,
    );
  });

  it('when an events stream reconnects with Last-Event-ID, then it gets what it missed, or `reset` when that cannot be replayed', async () => {
    const listener = await stream('/events/stream');
    const ready = await listener.next((m) => m.event === 'ready');
    const eventId = await system.createEvent('Missed while away');
    const seen = await listener.next((m) => m.event === 'event' && (m.data as { id: number }).id === eventId);
    const again = await stream('/events/stream', undefined, { 'last-event-id': ready.id! });
    const replayed = await again.next(
      (m) => m.event === 'event' && (m.data as { id: number }).id === eventId,
    );
    expect(replayed.id).toBe(seen.id);
    const stranger = await stream('/events/stream', undefined, { 'last-event-id': 'another-process.7' });
    await stranger.next((m) => m.event === 'reset');
  });
});

describe('live update streams: limits, errors and shutdown', () => {
  let h: ApiHarness;
  let base: string;
  beforeAll(async () => {
    h = await startApi({ STREAM_MAX_CONNECTIONS: '2', STREAM_HEARTBEAT: '1s' });
    base = await listen(h.api.http);
  });
  afterAll(async () => {
    await h?.dispose();
  });

  it('when the scores stream is asked for without a token, then 401 problem+json', async () => {
    const res = await fetch(`${base}/me/scores/stream`);
    expect(res.status).toBe(401);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect(await res.json()).toMatchObject({ code: 'UNAUTHENTICATED' });
  });

  it('when the process holds STREAM_MAX_CONNECTIONS streams, then one more gets 503 with Retry-After, and room frees when one closes; stop() ends the rest', async () => {
    const a = await openSse(`${base}/events/stream`);
    const b = await openSse(`${base}/me/scores/stream`, { authorization: `Bearer ${await tokenFor('cap')}` });
    await a.next((m) => m.event === 'ready');
    await b.next((m) => m.event === 'ready');
    const refused = await fetch(`${base}/events/stream`);
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(await refused.json()).toMatchObject({ code: 'UNAVAILABLE' });
    await a.close();
    await expect.poll(async () => (await fetch(`${base}/healthz`)).status).toBe(200);
    const c = await openSse(`${base}/events/stream`);
    await expect.poll(() => c.messages.some((m) => m.event === 'ready')).toBe(true);
    const started = Date.now();
    await h.api.stop();
    expect(Date.now() - started).toBeLessThan(5_000);
    await expect.poll(() => b.ended() && c.ended()).toBe(true);
  });
});
