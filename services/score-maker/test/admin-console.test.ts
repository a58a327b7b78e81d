import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN } from '../../line-provider/test/helpers.js';
import { createSagaRepository } from '../src/data-access/saga-repository.js';
import { JWT_SECRET, startApi, tokenFor, type ApiHarness } from './api-harness.js';

const sign = (sub: string, claims: Record<string, unknown>) =>
  new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setExpirationTime('1h')
    .sign(new TextEncoder().encode(JWT_SECRET));

/** The operations console's routes (/admin/…) on the real API and line-provider, no worker. */
describe('the operations console API', () => {
  let h: ApiHarness;
  let admin: { authorization: string };
  beforeAll(async () => {
    h = await startApi({ LINE_PROVIDER_ADMIN_TOKEN: ADMIN_TOKEN, SAGA_STUCK_AFTER: '1s' });
    admin = { authorization: `Bearer ${await sign('ops', { roles: ['admin'] })}` };
  });
  afterAll(async () => {
    await h?.dispose();
  });
  const inject = (method: 'GET' | 'POST', url: string, headers: object = admin, payload?: object) =>
    h.api.http.inject({ method, url, headers: headers as Record<string, string>, payload });

  it('when the token is missing or has no admin role, then 401 or 403 FORBIDDEN, for reads and actions alike', async () => {
    expect((await inject('GET', '/admin/overview', {})).json()).toMatchObject({ code: 'UNAUTHENTICATED' });
    const user = { authorization: `Bearer ${await tokenFor('plain-user')}` };
    const wrongRole = { authorization: `Bearer ${await sign('x', { roles: ['viewer'], role: 'admin' })}` };
    for (const headers of [user, wrongRole]) {
      for (const [method, url] of [
        ['GET', '/admin/overview'],
        ['POST', '/admin/events/1/close'],
      ] as const) {
        const res = await inject(method, url, headers, {});
        expect(res.statusCode, url).toBe(403);
        expect(res.headers['content-type']).toContain('application/problem+json');
        expect(res.json()).toMatchObject({ code: 'FORBIDDEN', type: '/problems/FORBIDDEN' });
      }
    }
  });

  it('when an admin creates, closes and cancels events, then line-provider does it with its admin token', async () => {
    const deadline = new Date(Date.now() + 3_600_000).toISOString();
    const created = await inject('POST', '/admin/events', admin, { title: 'Console cup', deadline });
    expect(created.statusCode).toBe(201);
    const event = created.json();
    expect(event).toMatchObject({ title: 'Console cup', state: 'OPEN' });
    expect(created.headers.location).toBe(`/events/${event.id}`);
    const closed = await inject('POST', `/admin/events/${event.id}/close`, admin, {});
    expect(closed.json()).toMatchObject({ id: event.id, state: 'CLOSED' });
    const other = (await inject('POST', '/admin/events', admin, { title: 'Rained off', deadline })).json();
    const cancelled = await inject('POST', `/admin/events/${other.id}/cancel`, admin, { reason: 'rain' });
    expect(cancelled.json()).toMatchObject({ id: other.id, state: 'CANCELLED' });

    const missing = await inject('POST', '/admin/events/999999/close', admin, {});
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toMatchObject({ code: 'EVENT_NOT_FOUND' });
    const past = await inject('POST', '/admin/events', admin, {
      title: 'Too late',
      deadline: '2001-01-01T00:00:00Z',
    });
    expect(past.statusCode).toBe(422);
    const bad = await inject('POST', '/admin/events', admin, { title: '', deadline: 'soon' });
    expect(bad.json()).toMatchObject({ code: 'VALIDATION_FAILED' });
  });

  it('when a saga is in flight, then the overview lists it with its age, stuck once compensating long enough, and a re-drive sends its step again', async () => {
    const deadline = new Date(Date.now() + 3_600_000).toISOString();
    const event = (await inject('POST', '/admin/events', admin, { title: 'Saga watch', deadline })).json();
    const posted = await h.api.http.inject({
      method: 'POST',
      url: `/events/${event.id}/score`,
      headers: { ...(await h.auth('watched')), 'content-type': 'application/json' },
      payload: { score: 3 },
    });
    const { id } = posted.json();
    // No worker: the saga stays where it is; a compensation is made to look long-running.
    await h.db.query(
      `UPDATE scores SET saga_state = 'REVERTING', pending_since = now() - interval '5 seconds' WHERE id = $1`,
      [id],
    );
    // The worker records why a step failed; a failure from before this saga began is not shown.
    await createSagaRepository().recordFailure(h.db, [id], 'line-provider unavailable: connection refused');
    expect((await inject('GET', '/admin/overview')).json().sagas.in_flight[0].last_error).toBe(
      'line-provider unavailable: connection refused',
    );
    await h.db.query(`UPDATE scores SET last_error_at = pending_since - interval '1 second' WHERE id = $1`, [
      id,
    ]);
    expect((await inject('GET', '/admin/overview')).json().sagas.in_flight[0].last_error).toBeNull();
    await createSagaRepository().recordFailure(h.db, [id], 'RevertScore: line-provider unavailable');
    const overview = (await inject('GET', '/admin/overview')).json();
    expect(overview.sagas).toMatchObject({ applying: 0, reverting: 1, stuck: 1 });
    expect(overview.sagas.in_flight).toEqual([
      expect.objectContaining({
        score_id: id,
        step: 'REVERTING',
        stuck: true,
        user_id: 'watched',
        last_error: 'RevertScore: line-provider unavailable',
      }),
    ]);
    expect(overview.sagas.in_flight[0].age_seconds).toBeGreaterThanOrEqual(5);
    expect(overview.outbox['score-maker'].unpublished).toBeGreaterThanOrEqual(1);
    expect(overview.outbox['line-provider']).toMatchObject({ unpublished: expect.any(Number), error: null });
    expect(overview.line_provider).toEqual({ status: 'ok', error: null });

    const before = await h.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM outbox WHERE message_key = $1`,
      [id],
    );
    const redriven = await inject('POST', `/admin/sagas/${id}/redrive`, admin, {});
    expect(redriven.statusCode).toBe(202);
    expect(redriven.json()).toEqual({ score_id: id, step: 'RevertScore' });
    const { rows } = await h.db.query<{ type: string; payload: unknown }>(
      `SELECT type, payload FROM outbox WHERE message_key = $1 ORDER BY id DESC LIMIT 1`,
      [id],
    );
    expect(rows[0]).toMatchObject({ type: 'RevertScore', payload: { scoreId: id, version: 1 } });
    const after = await h.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM outbox WHERE message_key = $1`,
      [id],
    );
    expect(after.rows[0]!.n).toBe(before.rows[0]!.n + 1);

    await h.db.query(
      `UPDATE scores SET saga_state = NULL, status = 'REJECTED', reason = 'UNAVAILABLE' WHERE id = $1`,
      [id],
    );
    const settled = await inject('POST', `/admin/sagas/${id}/redrive`, admin, {});
    expect(settled.statusCode).toBe(404);
    expect(settled.json()).toMatchObject({ code: 'SCORE_NOT_FOUND' });
    const compensations = (await inject('GET', '/admin/overview')).json().compensations;
    expect(compensations[0]).toMatchObject({ score_id: id, status: 'REJECTED', reason: 'UNAVAILABLE' });
  });
});

describe('the operations console with its own role claim, and without an admin token for line-provider', () => {
  let h: ApiHarness;
  beforeAll(async () => {
    h = await startApi({ ADMIN_ROLE_CLAIM: 'realm_access.roles', ADMIN_ROLE: 'ops' });
  });
  afterAll(async () => {
    await h?.dispose();
  });

  it('when ADMIN_ROLE_CLAIM names a nested claim, then only that claim opens the console; event changes answer 503', async () => {
    const nested = `Bearer ${await sign('kc', { realm_access: { roles: ['ops'] } })}`;
    const flat = `Bearer ${await sign('kc', { roles: ['ops', 'admin'] })}`;
    expect(
      (await h.api.http.inject({ url: '/admin/overview', headers: { authorization: nested } })).statusCode,
    ).toBe(200);
    expect(
      (await h.api.http.inject({ url: '/admin/overview', headers: { authorization: flat } })).statusCode,
    ).toBe(403);
    const close = await h.api.http.inject({
      method: 'POST',
      url: '/admin/events/1/close',
      headers: { authorization: nested },
    });
    const overview = (
      await h.api.http.inject({ url: '/admin/overview', headers: { authorization: nested } })
    ).json();
    expect(overview.outbox['line-provider']).toEqual({
      unpublished: null,
      lag_seconds: null,
      error: 'LINE_PROVIDER_ADMIN_TOKEN is not set',
    });
    expect(close.statusCode).toBe(503);
    expect(close.json()).toMatchObject({ code: 'UNAVAILABLE' });
  });
});
