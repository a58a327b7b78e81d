import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEvent } from '../../line-provider/test/helpers.js';
import { count, startApi, tokenFor, type ApiHarness } from './api-harness.js';

let h: ApiHarness;
let eventId: number;
beforeAll(async () => {
  h = await startApi();
  eventId = (await createEvent(h.lp, 'Scored event')).id;
});
afterAll(async () => {
  await h.dispose();
});

const post = async (
  user: string,
  body: unknown,
  options: { event?: number | string; headers?: Record<string, string> } = {},
) =>
  h.api.http.inject({
    method: 'POST',
    url: `/events/${options.event ?? eventId}/score`,
    headers: { ...(await h.auth(user)), 'content-type': 'application/json', ...options.headers },
    payload: typeof body === 'string' ? body : JSON.stringify(body),
  });

describe('POST /events/{event_id}/score', () => {
  it('when a user scores an open event, then 202 with the PENDING score, its Location, and one ApplyScore in the outbox', async () => {
    const before = await count(h.db, 'outbox');
    const res = await post('alice', { score: 4 });
    expect(res.statusCode).toBe(202);
    const body = res.json();
    expect(body).toMatchObject({
      event_id: eventId,
      score: 4,
      status: 'PENDING',
      version: 1,
      confirmed_score: null,
      final: false,
    });
    expect(res.headers.location).toBe(`/scores/${body.id}`);
    const { rows } = await h.db.query<{ type: string; payload: unknown; message_key: string }>(
      'SELECT type, payload, message_key FROM outbox ORDER BY id DESC LIMIT 1',
    );
    expect(await count(h.db, 'outbox')).toBe(before + 1);
    expect(rows[0]).toEqual({
      type: 'ApplyScore',
      message_key: body.id,
      payload: { scoreId: body.id, version: 1, eventId, userId: 'alice', rate: 4 },
    });
  });

  it('when the same user scores again, then the same score gets a new version and a new command', async () => {
    const first = (await post('bob', { score: 2 })).json();
    const second = await post('bob', { score: 5 });
    expect(second.statusCode).toBe(202);
    expect(second.json()).toMatchObject({ id: first.id, score: 5, version: 2, status: 'PENDING' });
    const { rows } = await h.db.query('SELECT payload FROM outbox WHERE message_key = $1 ORDER BY id', [
      first.id,
    ]);
    expect(rows.map((r) => (r.payload as { version: number }).version)).toEqual([1, 2]);
    const { rows: scores } = await h.db.query(`SELECT count(*)::int AS n FROM scores WHERE user_id = 'bob'`);
    expect(scores[0]).toEqual({ n: 1 });
  });

  it('when the event is unknown, then 404 EVENT_NOT_FOUND and nothing is written', async () => {
    const before = [await count(h.db, 'scores'), await count(h.db, 'outbox')];
    const res = await post('carol', { score: 3 }, { event: 987_654 });
    expect(res.statusCode).toBe(404);
    expect(res.headers['content-type']).toContain('application/problem+json');
    expect(res.json()).toMatchObject({ status: 404, code: 'EVENT_NOT_FOUND' });
    expect([await count(h.db, 'scores'), await count(h.db, 'outbox')]).toEqual(before);
  });

  it('when the event is closed, then 409 EVENT_CLOSED and nothing is written', async () => {
    const closed = await createEvent(h.lp, 'Closed');
    await h.lp.call('closeEvent', { eventId: closed.id }, 'admin');
    const before = [await count(h.db, 'scores'), await count(h.db, 'outbox')];
    const res = await post('carol', { score: 3 }, { event: closed.id });
    expect(res.statusCode).toBe(409);
    expect(res.json()).toMatchObject({ code: 'EVENT_CLOSED' });
    expect([await count(h.db, 'scores'), await count(h.db, 'outbox')]).toEqual(before);
  });

  it('when the score is final, then 409 SCORE_FINAL and it does not change', async () => {
    const body = (await post('dora', { score: 3 })).json();
    await h.db.query('UPDATE scores SET final = true WHERE id = $1', [body.id]);
    const res = await post('dora', { score: 1 });
    expect(res.statusCode).toBe(409);
    expect(res.json()).toMatchObject({ code: 'SCORE_FINAL' });
    const { rows } = await h.db.query('SELECT rate, version FROM scores WHERE id = $1', [body.id]);
    expect(rows[0]).toEqual({ rate: 3, version: 1 });
  });

  it.each([
    ['a string', { score: '3' }],
    ['a float', { score: 3.5 }],
    ['zero', { score: 0 }],
    ['six', { score: 6 }],
    ['a negative number', { score: -1 }],
    ['a huge number', { score: 1e308 }],
    ['a boolean', { score: true }],
    ['null', { score: null }],
    ['an array', [4]],
    ['an extra field', { score: 3, user: 'mallory' }],
    ['no score', {}],
  ])('when the body has %s, then 422 VALIDATION_FAILED and nothing is written', async (_, body) => {
    const before = [await count(h.db, 'scores'), await count(h.db, 'outbox')];
    const res = await post('erin', body);
    expect(res.statusCode).toBe(422);
    expect(res.json()).toMatchObject({ status: 422, code: 'VALIDATION_FAILED' });
    // One entry per field at fault: the body, or its score, or the extra field and not the score.
    const fields = res.json().errors.map((e: { field: string }) => e.field);
    expect(fields).toHaveLength(1);
    expect(fields[0]).toMatch(/^body(\.score|\.user)?$/);
    expect([await count(h.db, 'scores'), await count(h.db, 'outbox')]).toEqual(before);
  });

  it.each([
    ['a string', { score: '3' }, 'body.score', 'must be an integer from 1 to 5 (got "3")'],
    ['a float', { score: 3.5 }, 'body.score', 'must be an integer from 1 to 5 (got 3.5)'],
    ['no score', {}, 'body.score', 'is required: an integer from 1 to 5'],
    ['an extra field', { score: 3, user: 'x' }, 'body.user', 'is not allowed; allowed: score'],
    ['an array', [4], 'body', 'must be a JSON object with score (got [4])'],
  ])('when the body has %s, then the error names %s and what it accepts', async (_, body, field, message) => {
    const res = await post('erin', body);
    expect(res.json().errors).toEqual([{ field, message }]);
    expect(res.json().detail).toBe(`${field}: ${message}`);
  });

  it('when the path and a header are wrong, then each names its field and what it accepts', async () => {
    const path = await post('erin', { score: 3 }, { event: 'abc' });
    expect(path.json().errors).toEqual([
      {
        field: 'path.event_id',
        message: expect.stringMatching(/^must be an integer from 1 to \d+ \(got "abc"\)$/),
      },
    ]);
    const header = await post('erin', { score: 3 }, { headers: { 'idempotency-key': 'k'.repeat(201) } });
    expect(header.statusCode).toBe(422);
    expect(header.json().errors).toEqual([
      { field: 'header.idempotency-key', message: 'must be a string of 1 to 200 characters' },
    ]);
  });

  it.each([
    ['abc', 422],
    ['1.5', 422],
    ['0', 422],
    ['-2', 422],
    ['99999999999999999999', 422],
  ])('when the event id is %s, then %i and nothing is written', async (event, status) => {
    const before = await count(h.db, 'scores');
    const res = await post('frank', { score: 3 }, { event });
    expect(res.statusCode).toBe(status);
    expect(res.json().code).toBe('VALIDATION_FAILED');
    expect(await count(h.db, 'scores')).toBe(before);
  });

  it('when the body is not JSON, too large, or of another type, then 400, 413 or 415 and nothing is written', async () => {
    const before = await count(h.db, 'scores');
    const bad = await post('gail', '{"score": 4');
    expect(bad.statusCode).toBe(400);
    expect(bad.json().code).toBe('MALFORMED_JSON');
    const big = await post('gail', JSON.stringify({ score: 4, pad: 'x'.repeat(17 * 1024) }));
    expect(big.statusCode).toBe(413);
    expect(big.json().code).toBe('BODY_TOO_LARGE');
    const text = await post('gail', 'score=4', { headers: { 'content-type': 'text/plain' } });
    expect(text.statusCode).toBe(415);
    expect(text.json().code).toBe('UNSUPPORTED_MEDIA_TYPE');
    expect(await count(h.db, 'scores')).toBe(before);
  });
});

describe('authentication', () => {
  const send = (authorization?: string) =>
    h.api.http.inject({
      method: 'POST',
      url: `/events/${eventId}/score`,
      headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
      payload: { score: 3 },
    });

  it('when the token is missing, malformed, expired, wrongly signed or unsigned, then 401 and nothing is written', async () => {
    const before = await count(h.db, 'scores');
    const unsigned = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from(
      JSON.stringify({ sub: 'mallory', exp: Math.floor(Date.now() / 1000) + 600 }),
    ).toString('base64url')}.`;
    for (const authorization of [
      undefined,
      'Bearer',
      'Bearer not.a.jwt',
      'Basic dXNlcjpwYXNz',
      `Bearer ${await tokenFor('mallory', { expiresIn: '-1m' })}`,
      `Bearer ${await tokenFor('mallory', { secret: 'another-secret-that-is-32-characters-long' })}`,
      `Bearer ${unsigned}`,
    ]) {
      const res = await send(authorization);
      expect(res.statusCode, String(authorization)).toBe(401);
      expect(res.json()).toMatchObject({ status: 401, code: 'UNAUTHENTICATED' });
    }
    expect(await count(h.db, 'scores')).toBe(before);
  });
});

describe('Idempotency-Key', () => {
  it('when a request is repeated with the same key and body, then the first response comes back and nothing new is written', async () => {
    const key = randomUUID();
    const first = await post('hank', { score: 4 }, { headers: { 'idempotency-key': key } });
    const outboxAfterFirst = await count(h.db, 'outbox');
    const again = await post('hank', { score: 4 }, { headers: { 'idempotency-key': key } });
    expect(again.statusCode).toBe(202);
    expect(again.json()).toEqual(first.json());
    expect(again.headers.location).toBe(first.headers.location);
    expect(await count(h.db, 'outbox')).toBe(outboxAfterFirst);
  });

  it('when the key is reused with another body, then 422 IDEMPOTENCY_KEY_REUSED and nothing changes', async () => {
    const key = randomUUID();
    await post('ivan', { score: 4 }, { headers: { 'idempotency-key': key } });
    const outbox = await count(h.db, 'outbox');
    const res = await post('ivan', { score: 2 }, { headers: { 'idempotency-key': key } });
    expect(res.statusCode).toBe(422);
    expect(res.json().code).toBe('IDEMPOTENCY_KEY_REUSED');
    expect(await count(h.db, 'outbox')).toBe(outbox);
  });

  it('when another user sends the same key, then it is a different request', async () => {
    const key = randomUUID();
    const a = await post('jack', { score: 4 }, { headers: { 'idempotency-key': key } });
    const b = await post('jill', { score: 2 }, { headers: { 'idempotency-key': key } });
    expect(b.statusCode).toBe(202);
    expect(b.json().id).not.toBe(a.json().id);
  });

  it('when concurrent requests share a key, then one score version is written', async () => {
    const key = randomUUID();
    const responses = await Promise.all(
      Array.from({ length: 8 }, () => post('kate', { score: 5 }, { headers: { 'idempotency-key': key } })),
    );
    expect(new Set(responses.map((r) => r.statusCode))).toEqual(new Set([202]));
    expect(new Set(responses.map((r) => r.json().version))).toEqual(new Set([1]));
  });

  it('when a key is older than 24 hours, then it starts afresh', async () => {
    const key = randomUUID();
    await post('liam', { score: 4 }, { headers: { 'idempotency-key': key } });
    await h.db.query(`UPDATE idempotency_keys SET created_at = now() - interval '25 hours' WHERE key = $1`, [
      key,
    ]);
    const res = await post('liam', { score: 2 }, { headers: { 'idempotency-key': key } });
    expect(res.statusCode).toBe(202);
    expect(res.json()).toMatchObject({ score: 2, version: 2 });
  });
});

describe('reading scores', () => {
  it('when the owner asks for a score, then 200; anyone else gets 404; a bad id 422', async () => {
    const mine = (await post('mona', { score: 3 })).json();
    const own = await h.api.http.inject({
      method: 'GET',
      url: `/scores/${mine.id}`,
      headers: await h.auth('mona'),
    });
    expect(own.statusCode).toBe(200);
    expect(own.json()).toMatchObject({ id: mine.id, status: 'PENDING', score: 3 });
    const other = await h.api.http.inject({
      method: 'GET',
      url: `/scores/${mine.id}`,
      headers: await h.auth('nick'),
    });
    expect(other.statusCode).toBe(404);
    expect(other.json().code).toBe('SCORE_NOT_FOUND');
    const missing = await h.api.http.inject({
      method: 'GET',
      url: `/scores/${randomUUID()}`,
      headers: await h.auth('mona'),
    });
    expect(missing.statusCode).toBe(404);
    const bad = await h.api.http.inject({
      method: 'GET',
      url: '/scores/nope',
      headers: await h.auth('mona'),
    });
    expect(bad.statusCode).toBe(422);
    const anonymous = await h.api.http.inject({ method: 'GET', url: `/scores/${mine.id}` });
    expect(anonymous.statusCode).toBe(401);
  });

  it('when a user lists their scores, then only theirs come, newest first, page by page', async () => {
    const events = [];
    for (let i = 0; i < 3; i++) events.push((await createEvent(h.lp, `Mine ${i}`)).id);
    for (const id of events) await post('olga', { score: 2 }, { event: id });
    await post('pete', { score: 2 }, { event: events[0] });
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const url: string = `/me/scores?limit=2${cursor ? `&cursor=${cursor}` : ''}`;
      const res = await h.api.http.inject({
        method: 'GET',
        url,
        headers: await h.auth('olga'),
      });
      expect(res.statusCode).toBe(200);
      const page = res.json<{ scores: { event_id: number }[]; next_cursor: string | null }>();
      seen.push(...page.scores.map((s) => String(s.event_id)));
      cursor = page.next_cursor;
    } while (cursor);
    expect(seen).toEqual(events.reverse().map(String));
    const bad = await h.api.http.inject({
      method: 'GET',
      url: '/me/scores?cursor=zzz',
      headers: await h.auth('olga'),
    });
    expect(bad.statusCode).toBe(422);
  });
});
