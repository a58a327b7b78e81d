import { randomUUID } from 'node:crypto';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEvent } from '../../line-provider/test/helpers.js';
import { buildDocumentServer } from '../src/entry-points/http/openapi-document.js';
import { problemTypes, type ProblemCode } from '../src/entry-points/http/problem-types.js';
import { startApi, type ApiHarness } from './api-harness.js';

type Operation = { 'x-problem-codes': ProblemCode[]; responses: Record<string, unknown> };

let h: ApiHarness;
let spec: { paths: Record<string, Record<string, Operation>>; components: { schemas: { Problem: object } } };
let isProblem: (body: unknown) => boolean;
let openEvent: number;
let closedEvent: number;
beforeAll(async () => {
  h = await startApi({ RATE_LIMIT_SCORES_PER_MINUTE: '2' });
  spec = (await h.api.http.inject({ method: 'GET', url: '/openapi.json' })).json();
  // The Problem schema exactly as the document publishes it, checked against real bodies.
  const ajv = addFormats.default(new Ajv({ strict: false, allErrors: true }));
  isProblem = ajv.compile(spec.components.schemas.Problem);
  openEvent = (await createEvent(h.lp, 'Problems open')).id;
  closedEvent = (await createEvent(h.lp, 'Problems closed')).id;
  await h.lp.call('closeEvent', { eventId: closedEvent }, 'admin');
});
afterAll(async () => {
  await h.dispose();
});

const send = (options: InjectOptions) => h.api.http.inject(options);
const as = async (user: string) => h.auth(user);
const score = async (user: string, body: unknown, extra: { event?: number; headers?: object } = {}) =>
  send({
    method: 'POST',
    url: `/events/${extra.event ?? openEvent}/score`,
    headers: { ...(await as(user)), 'content-type': 'application/json', ...extra.headers },
    payload: JSON.stringify(body),
  });

/** [operation as the document names it, the code expected, a request that meets it]. */
const cases: [string, ProblemCode, () => Promise<LightMyRequestResponse>][] = [
  ['get /events', 'VALIDATION_FAILED', () => send({ method: 'GET', url: '/events?state=foo' })],
  ['get /events', 'INVALID_ARGUMENT', () => send({ method: 'GET', url: '/events?cursor=zzz' })],
  ['get /events/{event_id}', 'VALIDATION_FAILED', () => send({ method: 'GET', url: '/events/abc' })],
  ['get /events/{event_id}', 'EVENT_NOT_FOUND', () => send({ method: 'GET', url: '/events/987654' })],
  ['get /events/{event_id}', 'BAD_REQUEST', () => send({ method: 'GET', url: '/events/%E0%A4%A' })],
  [
    'post /events/{event_id}/score',
    'UNAUTHENTICATED',
    () => send({ method: 'POST', url: `/events/${openEvent}/score`, payload: { score: 3 } }),
  ],
  [
    'post /events/{event_id}/score',
    'MALFORMED_JSON',
    async () =>
      send({
        method: 'POST',
        url: `/events/${openEvent}/score`,
        headers: { ...(await as('p-json')), 'content-type': 'application/json' },
        payload: '{"score": 4',
      }),
  ],
  [
    'post /events/{event_id}/score',
    'EVENT_NOT_FOUND',
    () => score('p-404', { score: 3 }, { event: 987_654 }),
  ],
  [
    'post /events/{event_id}/score',
    'EVENT_CLOSED',
    () => score('p-409', { score: 3 }, { event: closedEvent }),
  ],
  [
    'post /events/{event_id}/score',
    'SCORE_FINAL',
    async () => {
      const first = (await score('p-final', { score: 3 })).json();
      await h.db.query('UPDATE scores SET final = true WHERE id = $1', [first.id]);
      return score('p-final', { score: 4 });
    },
  ],
  [
    'post /events/{event_id}/score',
    'BODY_TOO_LARGE',
    () => score('p-413', { score: 3, pad: 'x'.repeat(17_000) }),
  ],
  [
    'post /events/{event_id}/score',
    'UNSUPPORTED_MEDIA_TYPE',
    async () =>
      send({
        method: 'POST',
        url: `/events/${openEvent}/score`,
        headers: { ...(await as('p-415')), 'content-type': 'text/plain' },
        payload: 'score=3',
      }),
  ],
  ['post /events/{event_id}/score', 'VALIDATION_FAILED', () => score('p-422', { score: '3' })],
  [
    'post /events/{event_id}/score',
    'IDEMPOTENCY_KEY_REUSED',
    async () => {
      const headers = { 'idempotency-key': randomUUID() };
      await score('p-key', { score: 3 }, { headers });
      return score('p-key', { score: 4 }, { headers });
    },
  ],
  [
    'post /events/{event_id}/score',
    'BAD_REQUEST',
    async () =>
      send({
        method: 'POST',
        url: `/events/${openEvent}/score`,
        headers: { ...(await as('p-400')), 'content-type': 'application/json', 'content-length': '40' },
        payload: '{"score": 3}',
      }),
  ],
  [
    'post /events/{event_id}/score',
    'RATE_LIMITED',
    async () => {
      for (let i = 0; i < 2; i++) expect((await score('p-429', { score: 3 })).statusCode).toBe(202);
      return score('p-429', { score: 3 });
    },
  ],
  [
    'get /scores/{score_id}',
    'UNAUTHENTICATED',
    () => send({ method: 'GET', url: `/scores/${randomUUID()}` }),
  ],
  [
    'get /scores/{score_id}',
    'VALIDATION_FAILED',
    async () => send({ method: 'GET', url: '/scores/nope', headers: await as('p-s') }),
  ],
  [
    'get /scores/{score_id}',
    'SCORE_NOT_FOUND',
    async () => send({ method: 'GET', url: `/scores/${randomUUID()}`, headers: await as('p-s') }),
  ],
  [
    'get /scores/{score_id}',
    'BAD_REQUEST',
    async () => send({ method: 'GET', url: '/scores/%E0%A4%A', headers: await as('p-s') }),
  ],
  ['get /me/scores', 'UNAUTHENTICATED', () => send({ method: 'GET', url: '/me/scores' })],
  [
    'get /me/scores',
    'VALIDATION_FAILED',
    async () => send({ method: 'GET', url: '/me/scores?limit=0', headers: await as('p-me') }),
  ],
  [
    'get /me/scores',
    'INVALID_ARGUMENT',
    async () => send({ method: 'GET', url: '/me/scores?cursor=zzz', headers: await as('p-me') }),
  ],
  ['get /problems/{code}', 'NOT_FOUND', () => send({ method: 'GET', url: '/problems/NO_SUCH_CODE' })],
  ['get /problems/{code}', 'BAD_REQUEST', () => send({ method: 'GET', url: '/problems/%E0%A4%A' })],
];

describe('real error responses against the document', () => {
  it.each(cases)(
    'when %s meets %s, then a problem the document declares, whose type describes the code',
    async (name, code, request) => {
      const res = await request();
      const [method, path] = name.split(' ') as [string, string];
      const operation = spec.paths[path]![method]!;
      expect(res.statusCode).toBe(problemTypes[code].status);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      const body = res.json();
      expect(isProblem(body), JSON.stringify(body)).toBe(true);
      expect(body).toMatchObject({
        code,
        status: problemTypes[code].status,
        title: problemTypes[code].title,
      });
      expect(operation['x-problem-codes']).toContain(code);
      expect(Object.keys(operation.responses)).toContain(String(res.statusCode));

      // The type link, resolved against the request, opens a page about this very code.
      const link = new URL(body.type, `http://api.test${body.instance ?? '/'}`);
      const page = await send({ method: 'GET', url: link.pathname });
      expect(page.statusCode).toBe(200);
      expect(page.headers['content-type']).toContain('text/html');
      expect(page.body).toContain(`id="${code}"`);
      expect(page.body).toContain(problemTypes[code].title);
      const json = await send({ method: 'GET', url: link.pathname, headers: { accept: 'application/json' } });
      expect(json.json()).toEqual({ code, type: body.type, ...problemTypes[code] });
    },
  );

  it('when an instance is shutting down, then requests get 503 UNAVAILABLE as a problem, with Retry-After', async () => {
    const closing = await buildDocumentServer({ closing: () => true });
    try {
      const res = await closing.inject({ method: 'GET', url: '/events' });
      expect(res.statusCode).toBe(503);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.headers['retry-after']).toBe('1');
      expect(res.json()).toMatchObject({ code: 'UNAVAILABLE', type: '/problems/UNAVAILABLE' });
      expect(isProblem(res.json())).toBe(true);
    } finally {
      await closing.close();
    }
  });
});

describe('the /problems pages', () => {
  it('when /problems is opened, then every code has its own section, and JSON lists the same catalogue', async () => {
    const page = await send({ method: 'GET', url: '/problems' });
    expect(page.statusCode).toBe(200);
    for (const [code, { title, status }] of Object.entries(problemTypes)) {
      expect(page.body).toContain(`<section id="${code}">`);
      expect(page.body).toContain(title);
      expect(page.body).toContain(`<strong>${status}</strong>`);
    }
    const json = await send({ method: 'GET', url: '/problems', headers: { accept: 'application/json' } });
    expect(json.json().problems.map((p: { code: string }) => p.code)).toEqual(Object.keys(problemTypes));
  });

  it('when a browser or curl asks (Accept: text/html or */*), then HTML; only a JSON preference gets JSON', async () => {
    const accept = async (value: string) =>
      (await send({ method: 'GET', url: '/problems/EVENT_CLOSED', headers: { accept: value } })).headers[
        'content-type'
      ];
    expect(await accept('text/html,application/xhtml+xml,*/*;q=0.8')).toContain('text/html');
    expect(await accept('*/*')).toContain('text/html');
    expect(await accept('application/json')).toContain('application/json');
    expect(await accept('text/html;q=0.5, application/json')).toContain('application/json');
  });
});
