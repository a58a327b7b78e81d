import { connect } from 'node:net';
import { SignJWT } from 'jose';
import fc from 'fast-check';
import type { Database } from '@scoreline/platform';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createEvent } from '../../line-provider/test/helpers.js';
import { JWT_SECRET, startApi, tokenFor, type ApiHarness } from './api-harness.js';

/*
 * Requests generated from the OpenAPI document the API serves: for each operation, its parameters and
 * body in valid shapes and broken ones (wrong types, out of range, huge, unicode with lone surrogates
 * and NUL, broken JSON, deep JSON, wrong content types), wrong methods, and malformed Authorization,
 * Idempotency-Key, Prefer, If-None-Match and Last-Event-ID headers; then raw bytes that are hardly
 * HTTP at all. Sent over TCP to a real API (real PostgreSQL, Redis and line-provider). Every answer
 * must be below 500; every 4xx a problem+json whose `code` is a documented code of that status (and,
 * for a request to a documented operation, one that operation lists); a refused request, and any
 * request that is not a POST, must leave every table as it was.
 *
 * FUZZ_SEED and FUZZ_RUNS reproduce or lengthen a run; a failure prints its seed and counterexample.
 */

const RUNS = Number(process.env.FUZZ_RUNS ?? 600);
/** One seed for every property of the file, printed when a test fails (a timeout included). */
const SEED =
  process.env.FUZZ_SEED === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(process.env.FUZZ_SEED);
beforeEach(({ onTestFailed }) => {
  onTestFailed(() =>
    console.log(
      `repeat with FUZZ_SEED=${SEED}${process.env.FUZZ_RUNS ? ` FUZZ_RUNS=${process.env.FUZZ_RUNS}` : ''}`,
    ),
  );
});
const ANSWER_TIMEOUT_MS = 10_000;

interface Schema {
  type?: string;
  enum?: unknown[];
  format?: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
}
interface Parameter {
  in: 'path' | 'query' | 'header';
  name: string;
  required?: boolean;
  schema: Schema;
}
interface Operation {
  method: string;
  path: string;
  operationId: string;
  parameters: Parameter[];
  body?: Schema;
  secured: boolean;
  statuses: Set<string>;
  codes: Set<string>;
  streams: boolean;
}

// ---------------------------------------------------------------------------------------------------
// HTTP over a socket, by hand: the request goes out exactly as generated.

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

function dechunk(raw: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = raw.indexOf('\r\n', at);
    if (eol < 0) break;
    const size = parseInt(raw.subarray(at, eol).toString(), 16);
    if (!(size > 0)) break;
    parts.push(raw.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
  return Buffer.concat(parts);
}

let port = 0;

/** Sends raw bytes, reads the answer (or, for an event stream, its head) until the server closes. */
function send(request: Buffer): Promise<Answer | undefined> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let head: { status: number; headers: Record<string, string>; bodyAt: number } | undefined;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer in ${ANSWER_TIMEOUT_MS} ms`));
    }, ANSWER_TIMEOUT_MS);
    const finish = () => {
      clearTimeout(timer);
      const all = Buffer.concat(chunks);
      if (!head) return resolve(undefined); // closed without a word: nothing to check but the rest
      let body: Buffer = all.subarray(head.bodyAt);
      if (head.headers['transfer-encoding'] === 'chunked') body = dechunk(body);
      resolve({ status: head.status, headers: head.headers, body: body.toString() });
    };
    socket.on('data', (chunk) => {
      chunks.push(chunk);
      if (head) return;
      let all = Buffer.concat(chunks);
      // An interim answer (100 Continue) comes before the answer.
      while (
        /^HTTP\/1\.[01] 1\d\d /.test(all.subarray(0, 13).toString('latin1')) &&
        all.includes('\r\n\r\n')
      ) {
        all = all.subarray(all.indexOf('\r\n\r\n') + 4);
        chunks.splice(0, chunks.length, all);
      }
      const end = all.indexOf('\r\n\r\n');
      if (end < 0) return;
      const [statusLine = '', ...lines] = all.subarray(0, end).toString('latin1').split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      head = { status: Number(statusLine.split(' ')[1]), headers, bodyAt: end + 4 };
      // A stream stays open: its status and headers are the answer.
      if (headers['content-type']?.startsWith('text/event-stream')) {
        socket.destroy();
        finish();
      }
    });
    socket.on('end', () => {
      socket.destroy();
      finish();
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      // The server may close on a request it cannot parse before reading it all.
      if (error.code === 'ECONNRESET' || error.code === 'EPIPE') finish();
      else reject(error);
    });
    socket.write(request);
  });
}

interface Request {
  method: string;
  target: string;
  headers: [string, string][];
  body?: Buffer;
}

function bytesOf(request: Request): Buffer {
  const lines = [`${request.method} ${request.target} HTTP/1.1`, 'host: 127.0.0.1', 'connection: close'];
  for (const [name, value] of request.headers) lines.push(`${name}: ${value}`);
  if (request.body !== undefined) lines.push(`content-length: ${request.body.length}`);
  return Buffer.concat([
    Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'),
    request.body ?? Buffer.alloc(0),
  ]);
}

// ---------------------------------------------------------------------------------------------------
// Values from schemas: valid ones, and every kind of wrong one.

const MAX_SAFE = Number.MAX_SAFE_INTEGER;

function validValue(schema: Schema): fc.Arbitrary<unknown> {
  if (schema.enum) return fc.constantFrom(...schema.enum);
  switch (schema.type) {
    case 'integer': {
      const min = schema.minimum ?? -MAX_SAFE;
      const max = schema.maximum ?? MAX_SAFE;
      return fc.oneof(
        fc.integer({ min: Math.max(min, -(2 ** 31)), max: Math.min(max, 2 ** 31 - 1) }),
        fc.constantFrom(min, max),
      );
    }
    case 'number':
      return fc.double({ noNaN: true, noDefaultInfinity: true });
    case 'boolean':
      return fc.boolean();
    case 'string':
      if (schema.format === 'uuid') return fc.uuid();
      return fc.string({ minLength: schema.minLength ?? 0, maxLength: Math.min(schema.maxLength ?? 40, 40) });
    case 'array':
      return fc.array(validValue(schema.items ?? {}), { maxLength: 3 });
    case 'object': {
      const props = Object.fromEntries(
        Object.entries(schema.properties ?? {}).map(([name, s]) => [name, validValue(s)]),
      );
      return fc.record(props, { requiredKeys: schema.required ?? [] });
    }
    default:
      return fc.jsonValue({ maxDepth: 2 });
  }
}

const strangeStrings = fc.constantFrom(
  '',
  ' ',
  '\0',
  'a\0b',
  '\ud800',
  'x\udfffy',
  '\u202e\u0301\ufeff',
  '😀'.repeat(300),
  'x'.repeat(20_000),
  '../../etc/passwd',
  '%',
  '%zz',
  '%00',
  '%ff%fe',
  '<script>alert(1)</script>',
  "' OR 1=1 --",
  '{"score":3}',
);

/** Wrong values for a field of this schema: off its range, of another type, huge, odd text. */
function brokenValue(schema: Schema): fc.Arbitrary<unknown> {
  const edges: unknown[] = [];
  if (schema.minimum !== undefined) edges.push(schema.minimum - 1, schema.minimum - 0.5);
  if (schema.maximum !== undefined) edges.push(schema.maximum + 1, schema.maximum + 0.5);
  if (schema.maxLength !== undefined)
    edges.push('x'.repeat(schema.maxLength + 1), '😀'.repeat(schema.maxLength));
  if (schema.minLength !== undefined && schema.minLength > 0) edges.push('x'.repeat(schema.minLength - 1));
  return fc.oneof(
    fc.constantFrom(
      null,
      true,
      0,
      -1,
      1.5,
      -0,
      1e308,
      2 ** 53,
      2 ** 64,
      '1',
      '1e2',
      '0x10',
      '01',
      'NaN',
      'Infinity',
      [],
      {},
      [3],
      { score: 3 },
      ...edges,
    ),
    strangeStrings,
    fc.string({ unit: 'binary', maxLength: 30 }),
    fc.jsonValue({ maxDepth: 3 }),
  );
}

function anyValue(schema: Schema, hints?: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> {
  return fc.oneof(
    { weight: 4, arbitrary: hints ?? validValue(schema) },
    { weight: 2, arbitrary: validValue(schema) },
    { weight: 3, arbitrary: brokenValue(schema) },
  );
}

const textOf = (value: unknown): string =>
  typeof value === 'string' ? value : value === undefined ? '' : JSON.stringify(value);

/** A header value as it travels: the UTF-8 bytes read as latin1, without the bytes HTTP forbids. */
const headerText = (value: unknown): string =>
  Buffer.from(textOf(value), 'utf8')
    .toString('latin1')
    .slice(0, 8000)
    .replace(/[^\t\x20-\x7e\x80-\xff]/g, '?');

/** A path segment or query value: mostly percent-encoded, sometimes sent as it is (kept to one line). */
const uriPart = (value: unknown, raw: boolean): string => {
  const text = textOf(value);
  if (!raw) return encodeURIComponent(text.replace(/[\ud800-\udfff]/g, '\ufffd'));
  return Buffer.from(text, 'utf8')
    .toString('latin1')
    .replace(/[\0-\x20\x7f#?]/g, '%');
};

// ---------------------------------------------------------------------------------------------------

interface Known {
  eventIds: number[];
  scoreIds: string[];
  cursors: string[];
  etags: string[];
  tokens: Record<string, string>;
  problemStatus: Map<string, number>;
}

let h: ApiHarness;
let operations: Operation[];
let known: Known;
let snapshotSql: string;
let lpSnapshotSql: string;

const cursorOf = (value: unknown) => Buffer.from(JSON.stringify({ v: 1, c: value })).toString('base64url');

function hintsFor(param: Parameter): fc.Arbitrary<unknown> | undefined {
  switch (param.name) {
    case 'event_id':
      // Mostly the open event, so that scores are accepted and there is state to keep unchanged.
      return fc.oneof(
        { weight: 3, arbitrary: fc.constant(known.eventIds[0]!) },
        fc.constantFrom(...known.eventIds.slice(1), 999_999),
      );
    case 'score_id':
      return fc.constantFrom(...known.scoreIds);
    case 'cursor':
      return fc.oneof(
        fc.constantFrom(...known.cursors),
        brokenValue({}).map(cursorOf),
        fc.constantFrom(cursorOf(2 ** 60), cursorOf(-1), cursorOf('\0'), cursorOf('x'.repeat(150))),
      );
    case 'code':
      return fc.constantFrom(...known.problemStatus.keys(), 'event_closed', 'NOPE');
    case 'if-none-match':
      return fc.oneof(
        fc.constantFrom(...known.etags),
        fc.constantFrom('*', ...known.etags.map((e) => `W/${e}`), `"x", ${known.etags[0]}`, '""', '"'),
      );
    case 'prefer':
      // Never a long wait: a PENDING score (no worker settles them here) would hold the answer.
      return fc.oneof(
        fc.constantFrom('wait=0', 'wait=1', 'WAIT=0', 'wait="1"', 'wait=0; x=y', 'respond-async, wait=0'),
        fc.constantFrom(
          'wait',
          'wait=',
          'wait=-1',
          'wait=1.5',
          'wait=abc',
          'wait=1e9x',
          'return=minimal',
          ',',
        ),
      );
    case 'last-event-id':
      return fc.oneof(fc.constantFrom('0', '1', '-1', '99999999999999999999', '1-0', 'x'), fc.string());
    default:
      return undefined;
  }
}

const authArb = (): fc.Arbitrary<string | undefined> =>
  fc.oneof(
    { weight: 5, arbitrary: fc.constantFrom(`Bearer ${known.tokens.alice}`, `Bearer ${known.tokens.bob}`) },
    { weight: 1, arbitrary: fc.constant(undefined) },
    {
      weight: 3,
      arbitrary: fc.oneof(
        fc.constantFrom(...Object.values(known.tokens).map((t) => `Bearer ${t}`)),
        fc.constantFrom(
          'Bearer',
          'Bearer ',
          `bearer ${known.tokens.alice}`,
          `Bearer  ${known.tokens.alice}  `,
          `Bearer ${known.tokens.alice}x`,
          `Bearer ${known.tokens.alice}.x`,
          `Basic ${Buffer.from('alice:pw').toString('base64')}`,
          `Bearer ${'a'.repeat(7000)}`,
          'Bearer a.b.c',
          'Bearer ....',
          'Bearer é.é.é',
        ),
        fc.string({ maxLength: 50 }),
      ),
    },
  );

const contentTypes = fc.oneof(
  { weight: 8, arbitrary: fc.constant('application/json') },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      'application/json; charset=utf-8',
      'Application/JSON',
      'application/json; charset=utf-16',
      'application/json;;',
      'application/problem+json',
      'application/vnd.api+json',
      'text/plain',
      'text/json',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/octet-stream',
      '',
      ';',
      '*/*',
      'application/json; charset="',
    ),
  },
);

const brokenJson = fc.constantFrom(
  '',
  ' ',
  '{',
  '}',
  '{"score":',
  '{"score":3,}',
  "{'score':3}",
  '{"score":3}{"score":4}',
  '{"score":3} x',
  '{"score":3',
  '{"score":01}',
  '{"score":3e0}',
  '{"score":NaN}',
  '{"score":3,"score":4}',
  '{"score":-0}',
  '{"score":3.0}',
  '\ufeff{"score":3}',
  '{"__proto__":{"score":3}}',
  '{"score":3,"__proto__":{"x":1}}',
  '{"constructor":{"prototype":{"score":3}}}',
  'null',
  '[',
  '"',
  '\\',
  '{"score":"\\ud800"}',
  '{"score":"\\u0000"}',
);

/** Bodies: valid, with wrong fields, of the wrong JSON, broken JSON, huge, deep, not UTF-8. */
function bodyArb(schema: Schema | undefined): fc.Arbitrary<Buffer> {
  const s = schema ?? { type: 'object' };
  const object = (props: Record<string, fc.Arbitrary<unknown>>) => fc.record(props, { requiredKeys: [] });
  const wrongFields = object(
    Object.fromEntries([
      ...Object.entries(s.properties ?? {}).map(([name, p]) => [name, anyValue(p)]),
      ['extra', brokenValue({})],
    ]),
  );
  return fc
    .oneof(
      { weight: 5, arbitrary: validValue(s).map((v) => JSON.stringify(v)) },
      { weight: 4, arbitrary: wrongFields.map((v) => JSON.stringify(v)) },
      { weight: 2, arbitrary: brokenValue(s).map((v) => JSON.stringify(v) ?? '') },
      { weight: 2, arbitrary: brokenJson },
      {
        weight: 1,
        arbitrary: fc.constantFrom(
          `{"score":3,"pad":"${'x'.repeat(17_000)}"}`, // over the 16 KiB limit
          `${'['.repeat(8000)}${']'.repeat(8000)}`, // deep, under the limit
          `${'{"a":'.repeat(3000)}1${'}'.repeat(3000)}`,
          `[${Array.from({ length: 3000 }, (_, i) => i).join(',')}]`,
        ),
      },
      { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 60 }) },
    )
    .chain((text) =>
      fc.oneof(
        { weight: 9, arbitrary: fc.constant(Buffer.from(text, 'utf8')) },
        { weight: 1, arbitrary: fc.constant(Buffer.from(text, 'utf16le')) },
        { weight: 1, arbitrary: fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b)) },
      ),
    );
}

const otherMethods = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD'];

interface Generated {
  operation: Operation;
  request: Request;
  /** The documented method and a path every segment of which was percent-encoded. */
  documented: boolean;
}

/** Absent most of the time: a broken extra, now and then. */
const rarely = <T>(arb: fc.Arbitrary<T>, oneIn = 5) =>
  fc.oneof({ weight: oneIn - 1, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: arb });

/**
 * A request for this operation. A clean one has only valid values (so requests get past validation to
 * the real work and change state); otherwise every part may be broken.
 */
function requestArb(operation: Operation, clean: boolean): fc.Arbitrary<Generated> {
  const params = operation.parameters;
  const value = (p: Parameter) => {
    const hints = hintsFor(p);
    const v = clean ? (hints ?? validValue(p.schema)) : anyValue(p.schema, hints);
    return fc.option(v, { nil: undefined, freq: p.required ? 30 : clean ? 2 : 3 });
  };
  const none = fc.constant(null);
  return fc
    .record({
      method: clean
        ? fc.constant(operation.method)
        : fc.oneof(
            { weight: 6, arbitrary: fc.constant(operation.method) },
            { weight: 1, arbitrary: fc.constantFrom(...otherMethods) },
          ),
      values: fc.tuple(...params.map(value)),
      raw: clean ? fc.constant(false) : fc.nat(9).map((n) => n === 0),
      extraQuery: clean ? none : rarely(fc.tuple(fc.string({ maxLength: 10 }), brokenValue({}))),
      auth: clean ? fc.constantFrom(`Bearer ${known.tokens.alice}`, `Bearer ${known.tokens.bob}`) : authArb(),
      idempotencyKey: clean
        ? rarely(fc.uuid(), 2)
        : rarely(fc.oneof(fc.uuid(), strangeStrings, fc.string()), 3),
      contentType: clean ? fc.constant('application/json') : contentTypes,
      body: clean
        ? operation.body
          ? validValue(operation.body).map((v) => Buffer.from(JSON.stringify(v)))
          : fc.constant(undefined)
        : operation.body
          ? fc.option(bodyArb(operation.body), { nil: undefined, freq: 20 })
          : rarely(bodyArb(undefined), 4).map((b) => b ?? undefined),
      extraHeaders: clean
        ? fc.constant([])
        : fc.array(
            fc.oneof(
              fc.tuple(
                fc.constantFrom('accept', 'x-request-id', 'accept-encoding', 'origin', 'cookie', 'range'),
                fc.oneof(strangeStrings, fc.string()),
              ),
              fc.constant<[string, string]>(['expect', '100-continue']),
            ),
            { maxLength: 2 },
          ),
    })
    .map((g) => {
      let path = operation.path;
      const query: string[] = [];
      const headers: [string, string][] = [];
      params.forEach((p, i) => {
        const v = g.values[i];
        if (p.in === 'path') {
          path = path.replace(`{${p.name}}`, v === undefined ? '' : uriPart(v, g.raw));
        } else if (v !== undefined && p.in === 'query') {
          query.push(`${encodeURIComponent(p.name)}=${uriPart(v, g.raw)}`);
        } else if (v !== undefined && p.in === 'header') {
          headers.push([p.name, headerText(v)]);
        }
      });
      if (g.extraQuery) query.push(`${uriPart(g.extraQuery[0], false)}=${uriPart(g.extraQuery[1], false)}`);
      if (g.auth !== undefined) headers.push(['authorization', headerText(g.auth)]);
      if (g.idempotencyKey !== null) headers.push(['idempotency-key', headerText(g.idempotencyKey)]);
      for (const [name, v] of g.extraHeaders) headers.push([name, headerText(v)]);
      if (g.body !== undefined) headers.push(['content-type', g.contentType]);
      const target = query.length ? `${path}?${query.join('&')}` : path;
      const documented =
        g.method === operation.method && !g.raw && !path.includes('//') && !path.endsWith('/');
      const request = { method: g.method, target, headers, body: g.body };
      return {
        operation,
        request,
        documented,
        // Counterexamples print short: the request as it went out, long values cut.
        [fc.toStringMethod]: () => JSON.stringify(bytesOf(request).toString('latin1').slice(0, 2000)),
      };
    });
}

// ---------------------------------------------------------------------------------------------------
// State: every table, row by row, in one round trip.

async function snapshotQuery(db: Database): Promise<string> {
  const { rows } = await db.query<{ name: string }>(
    `SELECT table_name AS name FROM information_schema.tables
      WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'
        AND table_name NOT IN ('schema_migrations', 'outbox_relay_activity')
      ORDER BY table_name`,
  );
  const row = `(to_jsonb(t) - 'published_at')::text`;
  return rows
    .map(
      ({ name }) =>
        `SELECT '${name}' AS name, count(*)::int AS n, md5(string_agg(${row}, ',' ORDER BY ${row})) AS digest FROM "${name}" t`,
    )
    .join(' UNION ALL ');
}

async function snapshot(db: Database, sql: string): Promise<Record<string, string>> {
  const { rows } = await db.query<{ name: string; n: number; digest: string | null }>(sql);
  return Object.fromEntries(rows.map((r) => [r.name, `${r.n}:${r.digest ?? ''}`]));
}

// ---------------------------------------------------------------------------------------------------

function operationsOf(doc: { paths: Record<string, Record<string, Record<string, unknown>>> }): Operation[] {
  const found: Operation[] = [];
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const requestBody = op.requestBody as { content?: Record<string, { schema: Schema }> } | undefined;
      const responses = op.responses as Record<string, { content?: Record<string, unknown> }>;
      found.push({
        method: method.toUpperCase(),
        path,
        operationId: op.operationId as string,
        parameters: (op.parameters as Parameter[] | undefined) ?? [],
        body: requestBody?.content?.['application/json']?.schema,
        secured: ((op.security as unknown[] | undefined) ?? []).length > 0,
        statuses: new Set(Object.keys(responses)),
        codes: new Set((op['x-problem-codes'] as string[] | undefined) ?? []),
        streams: Object.values(responses).some((r) =>
          Object.keys(r.content ?? {}).includes('text/event-stream'),
        ),
      });
    }
  }
  return found;
}

beforeAll(async () => {
  h = await startApi({ RATE_LIMIT_READS_PER_MINUTE: '10000000', RATE_LIMIT_SCORES_PER_MINUTE: '1000000' });
  port = (await h.api.start()).port;
  const open = await createEvent(h.lp, 'Open');
  const closed = await createEvent(h.lp, 'Closed');
  await h.lp.call('closeEvent', { eventId: closed.id }, 'admin');
  const cancelled = await createEvent(h.lp, 'Cancelled');
  await h.lp.call('cancelEvent', { eventId: cancelled.id }, 'admin');
  for (let i = 0; i < 3; i++) await createEvent(h.lp, `More ${i}`);

  const inject = (url: string, headers: Record<string, string> = {}) => h.api.http.inject({ url, headers });
  const doc = (await inject('/openapi.json')).json();
  operations = operationsOf(doc);
  const problems = (await inject('/problems', { accept: 'application/json' })).json<{
    problems: { code: string; status: number }[];
  }>();
  const alice = await tokenFor('alice');
  const score = await h.api.http.inject({
    method: 'POST',
    url: `/events/${open.id}/score`,
    headers: { authorization: `Bearer ${alice}`, 'content-type': 'application/json' },
    payload: { score: 4 },
  });
  const bobs = await h.api.http.inject({
    method: 'POST',
    url: `/events/${open.id}/score`,
    headers: { authorization: `Bearer ${await tokenFor('bob')}`, 'content-type': 'application/json' },
    payload: { score: 2 },
  });
  const page = await inject('/events?limit=2&state=all');
  const event = await inject(`/events/${open.id}`);
  const signed = (claims: Record<string, unknown>, sub?: unknown) => {
    const jwt = new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuedAt()
      .setExpirationTime('1h');
    if (typeof sub === 'string') jwt.setSubject(sub);
    return jwt.sign(new TextEncoder().encode(JWT_SECRET));
  };
  const unsigned = (payload: object) =>
    `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.`;
  known = {
    eventIds: [open.id, closed.id, cancelled.id],
    scoreIds: [score.json().id, bobs.json().id, '00000000-0000-0000-0000-000000000000'],
    cursors: [page.json().next_cursor, cursorOf(1)],
    etags: [page.headers.etag as string, event.headers.etag as string],
    tokens: {
      alice,
      bob: await tokenFor('bob'),
      expired: await tokenFor('alice', { expiresIn: '-1h' }),
      wrongSecret: await tokenFor('alice', { secret: 'another-secret-of-at-least-32-characters!!' }),
      unsigned: unsigned({ sub: 'alice', exp: Math.floor(Date.now() / 1000) + 3600 }),
      nulSub: await signed({}, 'a\0b'),
      emptySub: await signed({}, ''),
      longSub: await signed({}, 'x'.repeat(201)),
      emojiSub: await signed({}, '😀'.repeat(200)),
      noSub: await signed({}),
      numberSub: await signed({ sub: 42 }),
    },
    problemStatus: new Map(problems.problems.map((p) => [p.code, p.status])),
  };
  snapshotSql = await snapshotQuery(h.db);
  lpSnapshotSql = await snapshotQuery(h.lp.db);
});

afterAll(async () => {
  await h?.dispose();
});

/** Sends one request and holds its answer to the rules above. */
async function exercise(generated: Generated): Promise<Answer | undefined> {
  const { operation, request, documented } = generated;
  const before = await snapshot(h.db, snapshotSql);
  const answer = await send(bytesOf(request));
  const label = `${request.method} ${request.target.slice(0, 200)} → ${answer?.status}: ${answer?.body.slice(0, 300)}`;
  expect(answer, `${label}: the connection closed with no answer`).toBeDefined();
  const { status, headers, body } = answer!;
  expect(status, label).toBeLessThan(500);
  if (status >= 400) {
    expect(headers['content-type'], label).toMatch(/^application\/problem\+json/);
    if (request.method !== 'HEAD') {
      const problem = JSON.parse(body) as { code: string; status: number; type: string };
      expect(known.problemStatus.get(problem.code), `${label}: code of another status`).toBe(status);
      expect(problem.status, label).toBe(status);
      expect(problem.type, label).toBe(`/problems/${problem.code}`);
      // BAD_REQUEST (malformed at the HTTP level, such as headers over 16 KiB) may answer any request.
      if (documented && problem.code !== 'BAD_REQUEST') {
        expect(operation.statuses.has(String(status)), `${label}: status not documented`).toBe(true);
        expect(operation.codes.has(problem.code), `${label}: code not documented`).toBe(true);
      }
    }
  }
  if (status >= 400 || request.method !== 'POST') {
    expect(await snapshot(h.db, snapshotSql), `${label}: changed state`).toEqual(before);
  }
  return answer;
}

describe('HTTP fuzzing: requests generated from the OpenAPI document', () => {
  it('when the operations are read from the served document, then the public operations are all there', () => {
    expect(operations.map((o) => o.operationId)).toEqual(
      expect.arrayContaining(['listEvents', 'getEvent', 'submitScore', 'getScore', 'listMyScores']),
    );
  });

  it('when every operation gets generated requests, then never a 5xx, every 4xx a documented problem, and refusals change nothing', async () => {
    const lpBefore = await snapshot(h.lp.db, lpSnapshotSql);
    const statuses = new Map<string, Set<number>>();
    await fc.assert(
      fc.asyncProperty(
        fc
          .tuple(fc.constantFrom(...operations), fc.nat(9))
          .chain(([operation, n]) => requestArb(operation, n < 3)),
        async (generated) => {
          const answer = await exercise(generated);
          const id = generated.operation.operationId;
          statuses.set(id, (statuses.get(id) ?? new Set()).add(answer!.status));
        },
      ),
      { numRuns: RUNS, seed: SEED },
    );
    // The requests reached the operations' real work, not only their validation.
    const summary = JSON.stringify(Object.fromEntries([...statuses].map(([k, v]) => [k, [...v]])));
    expect([...statuses.values()].filter((s) => [...s].some((c) => c < 300)).length, summary).toBeGreaterThan(
      operations.length / 2,
    );
    expect(statuses.get('submitScore')?.has(202), summary).toBe(true);
    // The API only reads line-provider's state.
    expect(await snapshot(h.lp.db, lpSnapshotSql)).toEqual(lpBefore);
  });

  it('when raw bytes that are hardly HTTP arrive, then any answer is a 4xx problem, nothing changes, and the server keeps answering', async () => {
    const token = fc.constantFrom(
      'GET',
      'POST',
      'get',
      'G\u00c9T',
      'PRI',
      'CONNECT',
      'M-SEARCH',
      '',
      ' ',
      'GET GET',
    );
    const target = fc.oneof(
      fc.constantFrom(
        '/',
        '/events',
        `/events/${known.eventIds[0]}/score`,
        '/me/scores',
        '*',
        'http://x/events',
      ),
      fc.constantFrom(
        '/events/%',
        '/events/%zz/score',
        '/\u00ff\u00fe',
        '//events',
        '/events/../me/scores',
        '/%00',
      ),
      fc.string({ unit: 'binary', maxLength: 30 }).map((t) => `/${Buffer.from(t).toString('latin1')}`),
    );
    const version = fc.constantFrom('HTTP/1.1', 'HTTP/1.0', 'HTTP/2.0', 'HTTP/1.1x', 'http/1.1', '');
    const header = fc.oneof(
      fc.constantFrom(
        'content-length: -1',
        'content-length: abc',
        'content-length: 1, 2',
        'content-length: 99999999999999999999',
        'transfer-encoding: chunked',
        'transfer-encoding: gzip, chunked',
        'transfer-encoding: x',
        'content-type: application/json',
        'authorization: Bearer \u00e9',
        'x: a\rb',
        ' folded: header',
        'no colon',
        ': empty name',
        'bad name: x',
        'host:',
        'host: a, b',
        `authorization: Bearer ${known.tokens.alice}`,
      ),
      fc
        .tuple(fc.string({ maxLength: 8 }), fc.string({ unit: 'binary', maxLength: 20 }))
        .map(([n, v]) => `${n}: ${v}`),
    );
    const body = fc.oneof(
      fc.constantFrom('', '{"score":3}', '5\r\n{"sco\r\n0\r\n\r\n', 'zz\r\nxx\r\n', '0\r\n\r\n'),
      fc.string({ unit: 'binary', maxLength: 40 }),
    );
    const raw = fc
      .tuple(token, target, version, fc.array(header, { maxLength: 4 }), body)
      .map(([method, path, v, headers, b]) =>
        Buffer.from(
          `${method} ${path} ${v}\r\nhost: 127.0.0.1\r\n${headers.map((x) => `${x}\r\n`).join('')}connection: close\r\n\r\n${b}`,
          'utf8',
        ),
      );
    await fc.assert(
      fc.asyncProperty(raw, async (bytes) => {
        const before = await snapshot(h.db, snapshotSql);
        const answer = await send(bytes);
        const label = `${JSON.stringify(bytes.toString('latin1').slice(0, 300))} → ${answer?.status}: ${answer?.body.slice(0, 200)}`;
        if (answer) {
          expect(answer.status, label).toBeLessThan(500);
          if (answer.status >= 400)
            expect(answer.headers['content-type'], label).toMatch(/^application\/problem\+json/);
        }
        if (!answer || answer.status >= 400 || !bytes.toString('latin1').startsWith('POST ')) {
          expect(await snapshot(h.db, snapshotSql), `${label}: changed state`).toEqual(before);
        }
      }),
      { numRuns: Math.ceil(RUNS / 4), seed: SEED },
    );
    const alive = await send(bytesOf({ method: 'GET', target: '/healthz', headers: [] }));
    expect(alive?.status).toBe(200);
  });
});

describe('what the fuzzing found, kept as examples', () => {
  it('when the request line and headers are over 16 KiB, then 400 BAD_REQUEST as a problem (not a bare 431)', async () => {
    const answer = await send(
      bytesOf({ method: 'GET', target: `/events?cursor=${'x'.repeat(20_000)}`, headers: [] }),
    );
    expect(answer?.status).toBe(400);
    expect(answer?.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(JSON.parse(answer!.body)).toMatchObject({ code: 'BAD_REQUEST', status: 400 });
  });

  it('when a body is nested 8,000 deep, then 422 VALIDATION_FAILED (describing it overflowed the stack: a 500)', async () => {
    const answer = await send(
      bytesOf({
        method: 'POST',
        target: `/events/${known.eventIds[0]}/score`,
        headers: [
          ['authorization', `Bearer ${known.tokens.alice}`],
          ['content-type', 'application/json'],
        ],
        body: Buffer.from(`${'['.repeat(8000)}${']'.repeat(8000)}`),
      }),
    );
    expect(answer?.status).toBe(422);
    expect(JSON.parse(answer!.body)).toMatchObject({ code: 'VALIDATION_FAILED' });
  });

  it('when a validly signed token has a NUL in its sub, then 401 UNAUTHENTICATED and nothing is written (not a 500)', async () => {
    const before = await snapshot(h.db, snapshotSql);
    const answer = await send(
      bytesOf({
        method: 'POST',
        target: `/events/${known.eventIds[0]}/score`,
        headers: [
          ['authorization', `Bearer ${known.tokens.nulSub}`],
          ['content-type', 'application/json'],
        ],
        body: Buffer.from('{"score":1}'),
      }),
    );
    expect(answer?.status).toBe(401);
    expect(JSON.parse(answer!.body)).toMatchObject({ code: 'UNAUTHENTICATED' });
    expect(await snapshot(h.db, snapshotSql)).toEqual(before);
  });

  it('when HEAD asks for an event stream, then it is answered at once with a problem, not held open without a word', async () => {
    for (const [target, auth] of [
      ['/events/stream', []],
      ['/me/scores/stream', [['authorization', `Bearer ${known.tokens.alice}`]]],
    ] as [string, [string, string][]][]) {
      // No HEAD route: 404, or 422 where HEAD /events/{event_id} takes the path.
      const answer = await send(bytesOf({ method: 'HEAD', target, headers: auth }));
      expect([404, 422]).toContain(answer?.status);
      expect(answer?.headers['content-type']).toMatch(/^application\/problem\+json/);
    }
  });
});
