import { randomUUID } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { waitFor } from '@scoreline/platform/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEvent } from '../../line-provider/test/helpers.js';
import { startApi, type ApiHarness } from './api-harness.js';

let h: ApiHarness;
beforeAll(async () => {
  h = await startApi({ RATE_LIMIT_SCORES_PER_MINUTE: '3' });
});
afterAll(async () => {
  await h.dispose();
});

const get = (url: string, headers: Record<string, string> = {}) =>
  h.api.http.inject({ method: 'GET', url, headers });

describe('GET /events', () => {
  it('when listed without a token, then open events come with status, aggregates and version, page by page', async () => {
    const created: Awaited<ReturnType<typeof createEvent>>[] = [];
    for (let i = 0; i < 3; i++) created.push(await createEvent(h.lp, `Listed ${i}`));
    const closed = await createEvent(h.lp, 'Listed closed');
    await h.lp.call('closeEvent', { eventId: closed.id }, 'admin');
    const ids: number[] = [];
    let cursor: string | null = null;
    do {
      const res = await get(`/events?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.statusCode).toBe(200);
      const page = res.json<{ events: { id: number; state: string }[]; next_cursor: string | null }>();
      expect(page.events.length).toBeLessThanOrEqual(2);
      expect(page.events.every((e) => e.state === 'OPEN')).toBe(true);
      ids.push(...page.events.map((e) => e.id));
      cursor = page.next_cursor;
    } while (cursor);
    expect(ids).toEqual(expect.arrayContaining(created.map((e) => e.id)));
    expect(ids).not.toContain(closed.id);
    const one = (await get(`/events?limit=100`))
      .json()
      .events.find((e: { id: number }) => e.id === created[0]!.id);
    expect(one).toEqual({
      id: created[0]!.id,
      title: 'Listed 0',
      deadline: created[0]!.deadline!.toISOString(),
      state: 'OPEN',
      status: 'PROCESSING',
      scores: { count: 0, sum: 0, average: 0, histogram: { '1': 0, '2': 0, '3': 0, '4': 0, '5': 0 } },
      version: 1,
    });
    const closedOnly = (await get('/events?state=closed&limit=100')).json().events as { id: number }[];
    expect(closedOnly.map((e) => e.id)).toContain(closed.id);
  });

  it('when the query is invalid, then 422 with a problem', async () => {
    for (const url of [
      '/events?state=sideways',
      '/events?limit=0',
      '/events?limit=101',
      '/events?cursor=%%%',
      '/events?x=1',
    ]) {
      const res = await get(url);
      expect(res.statusCode, url).toBe(422);
      expect(res.json().code, url).toMatch(/VALIDATION_FAILED|INVALID_ARGUMENT/);
    }
  });

  it('when the state is unknown, then one error names the field and the values it accepts', async () => {
    const res = await get('/events?state=foo');
    expect(res.statusCode).toBe(422);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    const message = 'must be one of open, closed, cancelled, all (got "foo")';
    expect(res.json()).toMatchObject({
      code: 'VALIDATION_FAILED',
      detail: `query.state: ${message}`,
      errors: [{ field: 'query.state', message }],
    });
  });

  it('when several query parameters are wrong, then one entry per field, each saying what it accepts', async () => {
    const res = await get('/events?state=OPEN&limit=abc&limit=0&page=2');
    expect(res.statusCode).toBe(422);
    expect(res.json().errors).toEqual([
      { field: 'query.page', message: 'is not allowed; allowed: state, limit, cursor' },
      { field: 'query.state', message: 'must be one of open, closed, cancelled, all (got "OPEN")' },
      { field: 'query.limit', message: expect.stringMatching(/^must be an integer from 1 to 100/) },
    ]);
  });
});

describe('GET /events from memory: ETag, If-None-Match, Cache-Control', () => {
  it('when the page has not changed, then If-None-Match answers 304 with no body; when it has, 200 with a new ETag', async () => {
    await createEvent(h.lp, 'Tagged 1');
    const first = await get('/events?limit=100');
    expect(first.statusCode).toBe(200);
    expect(first.headers['content-type']).toMatch(/^application\/json/);
    expect(first.headers['cache-control']).toBe('public, max-age=1');
    const etag = first.headers.etag as string;
    expect(etag).toMatch(/^"[A-Za-z0-9_-]+"$/);
    // The same bytes again, and a revalidation answered without a body.
    const again = await get('/events?limit=100');
    expect(again.headers.etag).toBe(etag);
    expect(again.body).toBe(first.body);
    const revalidated = await get('/events?limit=100', { 'if-none-match': `"other", ${etag}` });
    expect(revalidated.statusCode).toBe(304);
    expect(revalidated.body).toBe('');
    expect(revalidated.headers.etag).toBe(etag);
    // A new event, announced as the worker's EventChanged consumer would: the page changes.
    const added = await createEvent(h.lp, 'Tagged 2');
    await h.cache.invalidate(added.id, added.version);
    const changed = await get('/events?limit=100', { 'if-none-match': etag });
    expect(changed.statusCode).toBe(200);
    expect(changed.headers.etag).not.toBe(etag);
    expect(changed.json().events.map((e: { id: number }) => e.id)).toContain(added.id);
    expect((await get('/events?limit=100', { 'if-none-match': etag })).statusCode).toBe(200);
  });

  it('when the client takes gzip, then the page comes gzip-coded under an ETag of its own, equal to the identity page once decoded', async () => {
    for (let i = 0; i < 8; i++) await createEvent(h.lp, `Compressed ${i}`); // over 1 KB a page
    const url = '/events?limit=100&state=all';
    const identity = await get(url);
    expect(identity.headers.vary).toBe('accept-encoding');
    expect(identity.headers['content-encoding']).toBeUndefined();
    // Compressed once, off the request path: the first requests may still get the identity body.
    const coded = await waitFor(
      async () => {
        const res = await get(url, { 'accept-encoding': 'br, gzip;q=0.8' });
        return res.headers['content-encoding'] === 'gzip' && res;
      },
      { intervalMs: 5, what: 'a gzip-coded page' },
    );
    expect(coded.statusCode).toBe(200);
    expect(coded.headers.vary).toBe('accept-encoding');
    expect(coded.rawPayload.length).toBeLessThan(identity.rawPayload.length / 3);
    expect(gunzipSync(coded.rawPayload).toString()).toBe(identity.body);
    expect(coded.headers.etag).toBe(`${(identity.headers.etag as string).slice(0, -1)}.gz"`);
    // Either representation's tag revalidates the page.
    for (const tag of [identity.headers.etag, coded.headers.etag] as string[]) {
      const res = await get(url, { 'if-none-match': tag, 'accept-encoding': 'gzip' });
      expect(res.statusCode).toBe(304);
      expect(res.headers.etag).toBe(coded.headers.etag);
    }
    // Refused or not offered: the identity body.
    for (const acceptEncoding of ['gzip;q=0', 'br', 'identity', '*;q=0']) {
      const res = await get(url, { 'accept-encoding': acceptEncoding });
      expect(res.headers['content-encoding'], acceptEncoding).toBeUndefined();
      expect(res.body).toBe(identity.body);
    }
    expect((await get(url, { 'accept-encoding': '*' })).headers['content-encoding']).toBe('gzip');
  });

  it('when an event is read with its ETag, then 304 until its version changes', async () => {
    const event = await createEvent(h.lp, 'Tagged one');
    const first = await get(`/events/${event.id}`);
    expect(first.headers.etag).toBe(`"${event.id}.1"`);
    expect(first.headers['cache-control']).toBe('public, max-age=1');
    expect((await get(`/events/${event.id}`, { 'if-none-match': `"${event.id}.1"` })).statusCode).toBe(304);
    await h.lp.call(
      'applyScore',
      { scoreId: randomUUID(), version: 1, eventId: event.id, userId: 'u', rate: 2 },
      'internal',
    );
    await h.cache.invalidate(event.id, 2);
    const changed = await get(`/events/${event.id}`, { 'if-none-match': `"${event.id}.1"` });
    expect(changed.statusCode).toBe(200);
    expect(changed.headers.etag).toBe(`"${event.id}.2"`);
    expect(changed.json()).toMatchObject({ version: 2, scores: { count: 1, sum: 2 } });
  });

  it('when no invalidation comes at all, then a change still shows once the copies expire (EVENTS_LOCAL_TTL + EVENTS_CACHE_TTL)', async () => {
    const event = await createEvent(h.lp, 'Unannounced');
    expect((await get(`/events/${event.id}`)).json().version).toBe(1);
    await h.lp.call(
      'applyScore',
      { scoreId: randomUUID(), version: 1, eventId: event.id, userId: 'u', rate: 4 },
      'internal',
    );
    // No invalidate(): a worker that is down. The defaults are 1 s in memory and 5 s in Redis.
    await waitFor(async () => (await get(`/events/${event.id}`)).json().version !== 1, {
      what: 'the cached copy to expire',
      timeoutMs: 6_000 + 500,
      intervalMs: 100,
    });
    expect((await get(`/events/${event.id}`)).json()).toMatchObject({ version: 2, scores: { count: 1 } });
  }, 15_000);
});

describe('GET /events/{event_id} and the cache', () => {
  it('when an event is read, then it comes from line-provider once and from the cache after', async () => {
    const event = await createEvent(h.lp, 'Cached');
    const first = await get(`/events/${event.id}`);
    expect(first.statusCode).toBe(200);
    expect(first.json()).toMatchObject({ id: event.id, title: 'Cached', version: 1 });
    expect((await h.cache.get(event.id))?.version).toBe(1);
  });

  it('when a newer version was seen, then an older one is never served again', async () => {
    const event = await createEvent(h.lp, 'Versions');
    expect((await get(`/events/${event.id}`)).json().version).toBe(1);
    // line-provider moves on (a score), and the worker's EventChanged consumer reports version 2.
    await h.lp.call(
      'applyScore',
      { scoreId: randomUUID(), version: 1, eventId: event.id, userId: 'u', rate: 5 },
      'internal',
    );
    await h.cache.invalidate(event.id, 2);
    const fresh = await get(`/events/${event.id}`);
    expect(fresh.json()).toMatchObject({ version: 2, status: 'HIGH_SCORE', scores: { count: 1, sum: 5 } });
    // A slow fill that read version 1 before the change arrives late: it is refused.
    const stale = {
      ...(await h.cache.get(event.id))!,
      version: 1,
      scores: { count: 0, sum: 0, average: 0, histogram: [0, 0, 0, 0, 0] },
    };
    expect(await h.cache.put(stale)).toBe(false);
    expect((await get(`/events/${event.id}`)).json().version).toBe(2);
  });

  it('when the event is unknown or the id malformed, then 404 EVENT_NOT_FOUND or 422', async () => {
    const missing = await get('/events/987654');
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toMatchObject({ code: 'EVENT_NOT_FOUND', status: 404 });
    expect((await get('/events/abc')).statusCode).toBe(422);
    expect((await get('/nowhere')).json()).toMatchObject({ status: 404, code: 'NOT_FOUND' });
  });
});

describe('rate limiting', () => {
  it('when a user submits more scores per minute than allowed, then 429 with Retry-After; other users are unaffected', async () => {
    const event = await createEvent(h.lp, 'Limited');
    const send = async (user: string) =>
      h.api.http.inject({
        method: 'POST',
        url: `/events/${event.id}/score`,
        headers: { ...(await h.auth(user)), 'content-type': 'application/json' },
        payload: { score: 3 },
      });
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await send('quinn'));
    expect(answers.map((r) => r.statusCode)).toEqual([202, 202, 202, 429]);
    // Submissions say how much of the minute's budget is left.
    expect(answers.map((r) => r.headers['x-ratelimit-remaining'])).toEqual(['2', '1', '0', '0']);
    expect(answers[0]!.headers['x-ratelimit-limit']).toBe('3');
    const limited = await send('quinn');
    expect(limited.statusCode).toBe(429);
    const retryAfter = Number(limited.headers['retry-after']);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(limited.headers['x-ratelimit-reset']).toBe(limited.headers['retry-after']);
    expect(limited.json()).toMatchObject({ status: 429, code: 'RATE_LIMITED' });
    expect((await send('rita')).statusCode).toBe(202);
    // Reads count against a limit of their own, which score submissions did not use up; they do not
    // carry the headers until they are refused.
    const read = await get('/events');
    expect(read.statusCode).toBe(200);
    expect(read.headers['x-ratelimit-remaining']).toBeUndefined();
  });
});

describe('operations and docs', () => {
  it('when /healthz and /readyz are asked, then alive and ready with each dependency checked', async () => {
    expect((await get('/healthz')).json()).toEqual({ status: 'ok' });
    const ready = await get('/readyz');
    expect(ready.statusCode).toBe(200);
    expect(ready.json().checks).toMatchObject({ database: 'ok', 'line-provider': 'ok' });
  });

  it('when /metrics is scraped, then Prometheus text with request durations comes back', async () => {
    const res = await get('/metrics');
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('http_request_duration_seconds_bucket');
    expect(res.body).toContain('scoreline_scores_accepted_total');
  });

  it('when the OpenAPI document is fetched, then every endpoint and the bearer scheme are in it, and /docs serves the UI', async () => {
    const doc = (await get('/openapi.json')).json();
    expect(doc.openapi).toBe('3.0.3');
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/events',
        '/events/{event_id}',
        '/events/{event_id}/score',
        '/scores/{score_id}',
        '/me/scores',
      ]),
    );
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.paths['/events/{event_id}/score'].post.security).toEqual([{ bearerAuth: [] }]);
    const ui = await get('/docs/');
    expect(ui.statusCode).toBe(200);
    expect(ui.headers['content-type']).toContain('text/html');
  });
});

describe('when line-provider is down', () => {
  it('then /readyz says so with 503, and GET /events answers 503 UNAVAILABLE without internals', async () => {
    const other = await startApi({ LINE_PROVIDER_CALL_TIMEOUT: '300ms' });
    try {
      await other.lp.app.stop();
      const ready = await other.api.http.inject({ method: 'GET', url: '/readyz' });
      expect(ready.statusCode).toBe(503);
      expect(ready.json().checks['line-provider']).toBe('failing');
      const list = await other.api.http.inject({ method: 'GET', url: '/events?state=all' });
      expect(list.statusCode).toBe(503);
      expect(list.json()).toMatchObject({ code: 'UNAVAILABLE' });
      expect(list.body).not.toMatch(/ECONNREFUSED|at .*\.ts/);
    } finally {
      await other.dispose().catch(() => undefined);
    }
  });
});
