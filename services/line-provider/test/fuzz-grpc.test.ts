import { randomUUID } from 'node:crypto';
import {
  createFileRegistry,
  fromBinary,
  ScalarType,
  type DescField,
  type DescMessage,
  type DescMethod,
} from '@bufbuild/protobuf';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import * as grpc from '@grpc/grpc-js';
import { readDescriptorSet, reflection } from '@scoreline/contracts';
import type { Database } from '@scoreline/platform';
import fc from 'fast-check';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  ADMIN_TOKEN,
  createEvent,
  grpcError,
  INTERNAL_TOKEN,
  startHarness,
  type Harness,
} from './helpers.js';

/*
 * Every method line-provider serves, found through its own reflection service and described by the
 * descriptor set it serves, gets random and boundary messages (and raw random bytes), with and without
 * tokens. Each call must end in a status a client can act on, never INTERNAL or UNKNOWN; a refused call
 * must leave every table as it was; the server must keep answering.
 *
 * FUZZ_SEED and FUZZ_RUNS reproduce or lengthen a run; a failure prints its seed and counterexample.
 */

/** Calls per method with generated messages; half as many in all with raw bytes. */
const RUNS = Number(process.env.FUZZ_RUNS ?? 40);
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
const CALL_TIMEOUT_MS = 10_000;

/** What a well-behaved server may answer to anything a client sends. */
const ACCEPTABLE = new Set<grpc.status>([
  grpc.status.OK,
  grpc.status.INVALID_ARGUMENT,
  grpc.status.NOT_FOUND,
  grpc.status.FAILED_PRECONDITION,
  grpc.status.ABORTED,
  grpc.status.ALREADY_EXISTS,
  grpc.status.OUT_OF_RANGE,
  grpc.status.UNAUTHENTICATED,
  grpc.status.PERMISSION_DENIED,
  grpc.status.RESOURCE_EXHAUSTED,
]);

const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, readDescriptorSet()));

// ---------------------------------------------------------------------------------------------------
// Protobuf wire encoding, by hand: the generator must be able to write what a typed encoder refuses
// (out-of-range varints, wrong wire types, unknown fields, invalid UTF-8).

type Bytes = Buffer;
const cat = (parts: Bytes[]): Bytes => Buffer.concat(parts);
const EMPTY: Bytes = Buffer.alloc(0);
const WIRE = { VARINT: 0, I64: 1, LEN: 2, I32: 5 } as const;

function varint(value: bigint): Bytes {
  let v = BigInt.asUintN(64, value);
  const out: number[] = [];
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return Buffer.from(out);
}
const tag = (field: number, wire: number): Bytes => varint(BigInt((field << 3) | wire) & 0xffffffffn);
const len = (payload: Bytes): Bytes => cat([varint(BigInt(payload.length)), payload]);
function fixed(value: bigint, bytes: 4 | 8): Bytes {
  const v = BigInt.asUintN(bytes * 8, value);
  return Buffer.from(Array.from({ length: bytes }, (_, i) => Number((v >> BigInt(8 * i)) & 0xffn)));
}
const utf8 = (text: string): Bytes => Buffer.from(text, 'utf8');

/** One encoded value of a field, without its tag. */
interface WireValue {
  wire: number;
  payload: Bytes;
}

// ---------------------------------------------------------------------------------------------------
// Values: boundaries and randoms for every scalar type, and plausible values for fields whose names
// say what they hold, so that calls also get past validation into the database.

const I = (n: number | bigint) => BigInt(n);
const intBoundaries = [
  0,
  1,
  -1,
  2,
  5,
  6,
  200,
  201,
  500,
  501,
  1000,
  1001,
  2 ** 31 - 1,
  -(2 ** 31),
  2 ** 31,
  2 ** 32 - 1,
  2 ** 32,
  Number.MAX_SAFE_INTEGER,
  -Number.MAX_SAFE_INTEGER,
].map(I);
const bigBoundaries = [2n ** 53n, 2n ** 63n - 1n, -(2n ** 63n), 2n ** 64n - 1n];
const anyInt = fc.oneof(
  fc.constantFrom(...intBoundaries, ...bigBoundaries),
  fc.bigInt({ min: -10n, max: 10n }),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 64n - 1n }),
);

const hugeString = fc.constantFrom('x'.repeat(100_000), '😀'.repeat(30_000));
const anyString = fc.oneof(
  fc.constantFrom(
    '',
    ' ',
    '\t\n ',
    '\0',
    'a\0b',
    '\ud800',
    'x\udfffy',
    '😀'.repeat(200),
    'é'.repeat(201),
    'x'.repeat(200),
    'x'.repeat(201),
    'x'.repeat(501),
    '\u202e\u0301\ufeff',
    'NaN',
    '-1',
    '00000000-0000-0000-0000-000000000000',
    'FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF',
    "'; DROP TABLE events; --",
  ),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.uuid(),
  hugeString,
);
/** String payloads: UTF-8 of any string, or bytes that are no UTF-8 at all. */
const anyStringBytes: fc.Arbitrary<Bytes> = fc.oneof(
  { weight: 5, arbitrary: anyString.map(utf8) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 24 }).map((b) => Buffer.from(b)) },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom([0xc3], [0xff, 0xfe], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80])
      .map((b) => Buffer.from(b)),
  },
);

function scalarValue(type: ScalarType, ints: fc.Arbitrary<bigint> = anyInt): fc.Arbitrary<WireValue> {
  switch (type) {
    case ScalarType.STRING:
      return anyStringBytes.map((payload) => ({ wire: WIRE.LEN, payload: len(payload) }));
    case ScalarType.BYTES:
      return fc
        .uint8Array({ maxLength: 64 })
        .map((payload) => ({ wire: WIRE.LEN, payload: len(Buffer.from(payload)) }));
    case ScalarType.BOOL:
      return fc
        .constantFrom(0n, 1n, 2n, 2n ** 64n - 1n)
        .map((v) => ({ wire: WIRE.VARINT, payload: varint(v) }));
    case ScalarType.SINT32:
    case ScalarType.SINT64:
      return ints.map((v) => ({ wire: WIRE.VARINT, payload: varint((v << 1n) ^ (v < 0n ? -1n : 0n)) }));
    case ScalarType.FIXED32:
    case ScalarType.SFIXED32:
      return ints.map((v) => ({ wire: WIRE.I32, payload: fixed(v, 4) }));
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64:
      return ints.map((v) => ({ wire: WIRE.I64, payload: fixed(v, 8) }));
    case ScalarType.FLOAT:
      return fc.float().map((v) => {
        const b = Buffer.alloc(4);
        b.writeFloatLE(v);
        return { wire: WIRE.I32, payload: b };
      });
    case ScalarType.DOUBLE:
      return fc.double().map((v) => {
        const b = Buffer.alloc(8);
        b.writeDoubleLE(v);
        return { wire: WIRE.I64, payload: b };
      });
    default:
      return ints.map((v) => ({ wire: WIRE.VARINT, payload: varint(v) }));
  }
}

/** Values that make sense for a field of this name: ids that exist, rates in range, tokens issued. */
interface Known {
  eventIds: number[];
  scoreIds: string[];
  serviceNames: string[];
  pageTokens: string[];
}

function hintedInts(field: DescField, known: Known): fc.Arbitrary<bigint> | undefined {
  const name = field.name;
  if (name === 'event_id' || name === 'id') return fc.constantFrom(...known.eventIds.map(I), 999_999n);
  if (name === 'rate' || name === 'score') return fc.bigInt({ min: 0n, max: 6n });
  if (name === 'version' || name === 'expected_version') return fc.bigInt({ min: 0n, max: 4n });
  if (name === 'page_size') return fc.constantFrom(0n, 1n, 2n, 500n, 501n);
  return undefined;
}

/** Text of a length a field takes, with the characters a database or a log line may choke on. */
const nastyText = fc.oneof(
  fc.string({ unit: 'binary', minLength: 1, maxLength: 30 }),
  fc.constantFrom('a\0b', '\0', 'x\ud800y', '\u00a0', '😀'.repeat(200), 'x'.repeat(200), 'x'.repeat(201)),
);

function hintedString(field: DescField, known: Known): fc.Arbitrary<string> | undefined {
  switch (field.name) {
    case 'score_id':
      return fc.oneof(fc.constantFrom(...known.scoreIds), fc.uuid());
    case 'user_id':
      return fc.oneof(fc.constantFrom('alice', 'bob', 'legacy:anonymous'), nastyText);
    case 'title':
      return fc.oneof(fc.string({ minLength: 1, maxLength: 30 }), nastyText);
    case 'page_token':
      return fc.constantFrom(...known.pageTokens);
    case 'service':
      return fc.constantFrom(...known.serviceNames);
    case 'list_services':
    case 'file_containing_symbol':
      return fc.constantFrom('', '*', ...known.serviceNames, 'scoreline.line_provider.v1.Event');
    case 'file_by_filename':
      return fc.constantFrom('scoreline/line_provider/v1/event_service.proto', 'legacy/line_provider.proto');
    default:
      return undefined;
  }
}

function timestampValue(): fc.Arbitrary<Bytes> {
  const now = BigInt(Math.floor(Date.now() / 1000));
  const seconds = fc.oneof(
    { weight: 3, arbitrary: fc.bigInt({ min: now + 60n, max: now + 86_400n * 365n }) },
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        0n,
        -1n,
        now - 60n,
        -62_135_596_800n, // 0001-01-01, the smallest valid Timestamp
        -62_135_596_801n,
        253_402_300_799n, // 9999-12-31T23:59:59, the largest
        253_402_300_800n,
        8_640_000_000_000n, // the last second a JavaScript Date holds
        8_640_000_000_001n,
        2n ** 63n - 1n,
        -(2n ** 63n),
      ),
    },
  );
  const nanos = fc.constantFrom(0n, 999_999_999n, 1_000_000_000n, -1n, 2n ** 31n - 1n);
  return fc
    .tuple(fc.option(seconds, { nil: undefined }), fc.option(nanos, { nil: undefined, freq: 3 }))
    .map(([s, n]) =>
      cat([
        s === undefined ? EMPTY : cat([tag(1, WIRE.VARINT), varint(s)]),
        n === undefined ? EMPTY : cat([tag(2, WIRE.VARINT), varint(n)]),
      ]),
    );
}

/** Any wire value at all, of any wire type: for unknown fields and fields sent with the wrong type. */
const strayValue: fc.Arbitrary<WireValue> = fc.oneof(
  anyInt.map((v) => ({ wire: WIRE.VARINT, payload: varint(v) })),
  anyInt.map((v) => ({ wire: WIRE.I64, payload: fixed(v, 8) })),
  anyInt.map((v) => ({ wire: WIRE.I32, payload: fixed(v, 4) })),
  anyStringBytes.map((payload) => ({ wire: WIRE.LEN, payload: len(payload) })),
);

function singleValue(field: DescField, kind: string, known: Known, depth: number): fc.Arbitrary<WireValue> {
  if (kind === 'message') {
    const message = field.message!;
    if (message.typeName === 'google.protobuf.Timestamp') {
      return timestampValue().map((payload) => ({ wire: WIRE.LEN, payload: len(payload) }));
    }
    if (depth >= 4) return fc.constant({ wire: WIRE.LEN, payload: len(EMPTY) });
    return messageBytes(message, known, depth + 1).map((payload) => ({
      wire: WIRE.LEN,
      payload: len(payload),
    }));
  }
  if (kind === 'enum') {
    const values = field.enum!.values.map((v) => I(v.number));
    return fc
      .oneof({ weight: 4, arbitrary: fc.constantFrom(...values) }, anyInt)
      .map((v) => ({ wire: WIRE.VARINT, payload: varint(v) }));
  }
  const scalar = field.scalar!;
  if (scalar === ScalarType.STRING) {
    const hint = hintedString(field, known);
    if (hint) {
      return fc
        .oneof({ weight: 4, arbitrary: hint.map(utf8) }, anyStringBytes)
        .map((payload) => ({ wire: WIRE.LEN, payload: len(payload) }));
    }
  }
  const ints = hintedInts(field, known);
  return ints
    ? fc.oneof({ weight: 3, arbitrary: scalarValue(scalar, ints) }, scalarValue(scalar))
    : scalarValue(scalar);
}

/** The encoded occurrences of one field: none, one, several, or (for lists) past any sane limit. */
function fieldBytes(field: DescField, known: Known, depth: number): fc.Arbitrary<Bytes> {
  const encode = (v: WireValue) => cat([tag(field.number, v.wire), v.payload]);
  const wrongType = strayValue.map(encode);
  if (field.fieldKind === 'list') {
    const item = singleValue(field, field.listKind, known, depth);
    const items = fc.oneof(
      { weight: 6, arbitrary: fc.array(item, { maxLength: 5 }) },
      // Over the documented limits (1000 items): one generated item, repeated.
      {
        weight: 1,
        arbitrary: item
          .filter((one) => one.payload.length < 1000)
          .map((one) => Array.from({ length: 1001 }, () => one)),
      },
    );
    return fc.oneof({ weight: 8, arbitrary: items.map((list) => cat(list.map(encode))) }, wrongType);
  }
  if (field.fieldKind === 'map') {
    return fc.array(strayValue, { maxLength: 3 }).map((entries) => cat(entries.map(encode)));
  }
  const one = singleValue(field, field.fieldKind, known, depth);
  return fc.oneof(
    { weight: 12, arbitrary: one.map(encode) },
    // The same field twice (the last one wins, or messages merge).
    { weight: 1, arbitrary: fc.tuple(one, one).map(([a, b]) => cat([encode(a), encode(b)])) },
    { weight: 1, arbitrary: wrongType },
  );
}

/** A message of this type as bytes: each field present or not, plus now and then an unknown field. */
function messageBytes(message: DescMessage, known: Known, depth = 0): fc.Arbitrary<Bytes> {
  const fields = message.fields.map((field) =>
    fc.option(fieldBytes(field, known, depth), { nil: EMPTY, freq: 6 }),
  );
  const unknown = fc.option(
    fc
      .tuple(fc.integer({ min: 1, max: 2 ** 29 - 1 }), strayValue)
      .filter(([number]) => !message.fields.some((f) => f.number === number))
      .map(([number, v]) => cat([tag(number, v.wire), v.payload])),
    { nil: EMPTY, freq: 5 },
  );
  return fc.tuple(fc.tuple(...fields), unknown).map(([present, extra]) => cat([...present, extra]));
}

// ---------------------------------------------------------------------------------------------------
// Calls with raw payloads (identity serializers): what goes on the wire is exactly the generated bytes.

interface Outcome {
  code: grpc.status;
  details: string;
  responses: Buffer[];
}

const identity = (b: Buffer) => b;

function rawCall(client: grpc.Client, method: DescMethod, payloads: Buffer[], metadata: grpc.Metadata) {
  const path = `/${method.parent.typeName}/${method.name}`;
  const options = { deadline: Date.now() + CALL_TIMEOUT_MS };
  return new Promise<Outcome>((resolve) => {
    const responses: Buffer[] = [];
    const done = (code: grpc.status, details: string) => resolve({ code, details, responses });
    switch (method.methodKind) {
      case 'unary':
        client.makeUnaryRequest(path, identity, identity, payloads[0]!, metadata, options, (error, value) =>
          error ? done(error.code, error.details) : (responses.push(value!), done(grpc.status.OK, '')),
        );
        return;
      case 'server_streaming': {
        // A stream may stay open (Health.Watch): its first message, or its status, is the answer.
        const call = client.makeServerStreamRequest(
          path,
          identity,
          identity,
          payloads[0]!,
          metadata,
          options,
        );
        call.on('data', (value: Buffer) => {
          responses.push(value);
          call.cancel();
        });
        call.on('error', () => undefined);
        call.on('status', (status: grpc.StatusObject) =>
          done(responses.length > 0 ? grpc.status.OK : status.code, status.details),
        );
        return;
      }
      case 'client_streaming': {
        const call = client.makeClientStreamRequest(
          path,
          identity,
          identity,
          metadata,
          options,
          (error, value) =>
            error ? done(error.code, error.details) : (responses.push(value!), done(grpc.status.OK, '')),
        );
        for (const payload of payloads) call.write(payload);
        call.end();
        return;
      }
      case 'bidi_streaming': {
        const call = client.makeBidiStreamRequest(path, identity, identity, metadata, options);
        call.on('data', (value: Buffer) => responses.push(value));
        call.on('error', () => undefined);
        call.on('status', (status: grpc.StatusObject) => done(status.code, status.details));
        for (const payload of payloads) call.write(payload);
        call.end();
        return;
      }
    }
  });
}

/** 'none', 'admin', 'internal' (the tokens), or any other string sent as the authorization value. */
type Auth = string;
function metadataFor(auth: Auth): grpc.Metadata {
  const metadata = new grpc.Metadata();
  if (auth === 'admin') metadata.set('authorization', `Bearer ${ADMIN_TOKEN}`);
  else if (auth === 'internal') metadata.set('authorization', `Bearer ${INTERNAL_TOKEN}`);
  else if (auth !== 'none') metadata.set('authorization', auth);
  return metadata;
}
const authArb: fc.Arbitrary<Auth> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom('admin', 'internal') },
  { weight: 1, arbitrary: fc.constant('none') },
  {
    weight: 1,
    arbitrary: fc.oneof(
      fc.constantFrom(
        'Bearer',
        'Bearer ',
        `bearer ${INTERNAL_TOKEN}`,
        `Bearer ${ADMIN_TOKEN} extra`,
        `Bearer ${ADMIN_TOKEN.slice(0, -1)}`,
        `Basic ${Buffer.from(`admin:${ADMIN_TOKEN}`).toString('base64')}`,
        `Bearer ${'x'.repeat(4000)}`,
      ),
      // Metadata values are printable ASCII on the wire.
      fc.string({
        unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
        maxLength: 60,
      }),
    ),
  },
);

// ---------------------------------------------------------------------------------------------------
// State: every table of line-provider's, row by row. The relay's bookkeeping (when a row was published)
// moves by itself and is left out.

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

/** Every table, row by row (as a digest), in one round trip. */
async function snapshot(db: Database): Promise<Record<string, string>> {
  const { rows } = await db.query<{ name: string; n: number; digest: string | null }>(snapshotSql);
  return Object.fromEntries(rows.map((r) => [r.name, `${r.n}:${r.digest ?? ''}`]));
}

// ---------------------------------------------------------------------------------------------------

let h: Harness;
let client: grpc.Client;
let known: Known;
let snapshotSql: string;
let methods: DescMethod[];

/** The services the server says it serves (its reflection's list), each from the descriptor set. */
async function servedMethods(): Promise<DescMethod[]> {
  const rc = new reflection.ServerReflectionClient(`127.0.0.1:${h.port}`, grpc.credentials.createInsecure());
  const names = await new Promise<string[]>((resolve, reject) => {
    const call = rc.serverReflectionInfo();
    call.on('data', (response: reflection.ServerReflectionResponse) => {
      resolve(response.listServicesResponse?.service.map((s) => s.name) ?? []);
      call.end();
    });
    call.on('error', reject);
    call.write({ host: '', listServices: '' });
  });
  rc.close();
  return names.flatMap((name) => {
    const service = registry.getService(name);
    if (!service) throw new Error(`served service ${name} is not in the descriptor set`);
    return service.methods;
  });
}

beforeAll(async () => {
  // No deadline closing or relay activity of its own during the run: tables move only by calls.
  h = await startHarness({ DEADLINE_CHECK_INTERVAL: '1h' });
  client = new grpc.Client(`127.0.0.1:${h.port}`, grpc.credentials.createInsecure());
  const open = await createEvent(h, 'Open');
  const closed = await createEvent(h, 'Closed');
  await h.call('closeEvent', { eventId: closed.id }, 'admin');
  const cancelled = await createEvent(h, 'Cancelled');
  await h.call('cancelEvent', { eventId: cancelled.id }, 'admin');
  // One score line-provider has seen, so that reads of a score (GetScoreLedger) also find one.
  const scoreIds = [randomUUID(), randomUUID(), randomUUID()];
  await h.call(
    'applyScore',
    { scoreId: scoreIds[0], version: 2, eventId: open.id, userId: 'alice', rate: 3 },
    'internal',
  );
  methods = await servedMethods();
  snapshotSql = await snapshotQuery(h.db);
  known = {
    eventIds: [open.id, closed.id, cancelled.id],
    scoreIds,
    serviceNames: ['', ...new Set(methods.map((m) => m.parent.typeName)), 'no.such.Service'],
    pageTokens: [
      '',
      Buffer.from('v1:1').toString('base64url'),
      Buffer.from('v1:99999999999999999').toString('base64url'),
    ],
  };
});

afterAll(async () => {
  client?.close();
  await h?.dispose();
});

async function healthy(): Promise<boolean> {
  const check = methods.find((m) => m.parent.typeName === 'grpc.health.v1.Health' && m.name === 'Check')!;
  const outcome = await rawCall(client, check, [Buffer.alloc(0)], new grpc.Metadata());
  return outcome.code === grpc.status.OK;
}

/** Sends one call and checks the answer and, for a refused call, that nothing changed. */
async function exercise(method: DescMethod, payloads: Buffer[], auth: Auth): Promise<Outcome> {
  const before = await snapshot(h.db);
  const outcome = await rawCall(client, method, payloads, metadataFor(auth));

  const label = `${method.parent.typeName}/${method.name} → ${grpc.status[outcome.code]}: ${outcome.details}`;
  expect(ACCEPTABLE.has(outcome.code), label).toBe(true);
  if (outcome.code === grpc.status.OK) {
    // Whatever it answered decodes as the declared response type.
    for (const response of outcome.responses) fromBinary(method.output, response);
  } else {
    expect(await snapshot(h.db), `${label} changed state`).toEqual(before);
  }
  return outcome;
}

describe('gRPC fuzzing: every served method, random and boundary messages, raw bytes', () => {
  it('when the methods are enumerated from what the server serves, then every service and RPC is there', () => {
    const paths = methods.map((m) => `${m.parent.typeName}/${m.name}`);
    // A sample, to show the enumeration works; the fuzzing itself covers whatever is listed.
    expect(paths).toEqual(
      expect.arrayContaining([
        'scoreline.line_provider.v1.EventService/GetScoreLedger',
        'scoreline.line_provider.v1.EventService/ApplyScores',
        'scoreline.line_provider.v1.EventService/RevertScores',
        'EventService/UpdateEventStatusByScore',
        'grpc.health.v1.Health/Check',
        'grpc.health.v1.Health/Watch',
        'grpc.reflection.v1.ServerReflection/ServerReflectionInfo',
        'grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo',
      ]),
    );
    expect(paths.length).toBeGreaterThanOrEqual(18);
  });

  it('when every method gets messages generated from its request type, then each answers a proper status and refusals change nothing', async () => {
    const seen = new Map<string, Set<string>>();
    for (const method of methods) {
      const key = `${method.parent.typeName}/${method.name}`;
      const call = fc.record({
        payloads: fc.array(messageBytes(method.input, known), { minLength: 1, maxLength: 3 }),
        auth: authArb,
      });
      await fc.assert(
        fc.asyncProperty(call, async ({ payloads, auth }) => {
          const outcome = await exercise(method, payloads, auth);
          seen.set(key, (seen.get(key) ?? new Set()).add(grpc.status[outcome.code]));
        }),
        { numRuns: RUNS, seed: SEED },
      );
    }
    // Calls got through to real work, not only to refusals (a method needing every field right, such
    // as ApplyScore, may see none in a short run).
    const statuses = JSON.stringify(Object.fromEntries([...seen].map(([k, v]) => [k, [...v]])));
    expect([...seen.values()].filter((codes) => codes.has('OK')).length, statuses).toBeGreaterThan(
      methods.length / 2,
    );
    expect(await healthy()).toBe(true);
  });

  it('when every method gets raw random bytes as its request, then it answers INVALID_ARGUMENT or a proper status, never INTERNAL', async () => {
    const call = fc.record({
      method: fc.constantFrom(...methods),
      payload: fc.oneof(
        fc.uint8Array({ maxLength: 64 }),
        fc.uint8Array({ minLength: 1000, maxLength: 4000 }),
        fc.constantFrom(
          Uint8Array.of(0xff),
          Uint8Array.of(0x08), // a tag with no value
          Uint8Array.of(0x0a, 0x05, 0x61), // a length past the end
          Uint8Array.of(0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01), // an 11-byte varint
          Uint8Array.of(0x07), // wire type 7 does not exist
          Uint8Array.of(0x0b, 0x0c), // a group start and end
          Uint8Array.of(0x00, 0x00), // field number 0
        ),
      ),
      auth: authArb,
    });
    await fc.assert(
      fc.asyncProperty(call, async ({ method, payload, auth }) => {
        await exercise(method, [Buffer.from(payload)], auth);
      }),
      { numRuns: Math.ceil((RUNS * methods.length) / 4), seed: SEED },
    );
    expect(await healthy()).toBe(true);
  });

  it('when a request is larger than the server takes (5 MB), then RESOURCE_EXHAUSTED and the server stays up', async () => {
    const method = methods.find((m) => m.name === 'ApplyScores')!;
    const huge = cat([tag(1, WIRE.LEN), len(utf8('x'.repeat(1000)))]);
    const outcome = await exercise(
      method,
      [Buffer.concat(Array.from({ length: 5000 }, () => huge))],
      'internal',
    );
    expect(outcome.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(await healthy()).toBe(true);
  });
});

describe('what the fuzzing found, kept as examples', () => {
  const method = (path: string) => methods.find((m) => `${m.parent.typeName}/${m.name}` === path)!;

  it('when a request does not decode (an int64 past 2^53, a truncated field), then INVALID_ARGUMENT, not INTERNAL', async () => {
    const updateEvent = method('scoreline.line_provider.v1.EventService/UpdateEvent');
    // event_id = 2^56: the contract maps int64 to a JavaScript number, so it cannot be decoded exactly.
    const tooLarge = Buffer.from([0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]);
    const outcome = await exercise(updateEvent, [tooLarge], 'admin');
    expect(outcome.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(outcome.details).toContain('MAX_SAFE_INTEGER');
    const listEvents = method('scoreline.line_provider.v1.EventService/ListEvents');
    expect((await exercise(listEvents, [Buffer.from([0x05])], 'none')).code).toBe(
      grpc.status.INVALID_ARGUMENT,
    );
  });

  it('when a health check names a 100 KB service, then NOT_FOUND with a short message, and the connection keeps working', async () => {
    const check = method('grpc.health.v1.Health/Check');
    const outcome = await exercise(check, [cat([tag(1, WIRE.LEN), len(utf8('x'.repeat(100_000)))])], 'none');
    expect(outcome.code).toBe(grpc.status.NOT_FOUND);
    expect(outcome.details.length).toBeLessThan(200);
    expect(await healthy()).toBe(true);
  });

  it('when a title, user id or cancel reason holds a NUL character, then INVALID_ARGUMENT and nothing is written', async () => {
    const [eventId] = known.eventIds;
    const before = await snapshot(h.db);
    const refused = [
      h.call('createEvent', { title: 'a\0b', deadline: new Date(Date.now() + 86_400_000) }, 'admin'),
      h.call('updateEvent', { eventId, title: '\0' }, 'admin'),
      h.call('cancelEvent', { eventId, reason: 'why\0' }, 'admin'),
      h.call(
        'applyScore',
        { scoreId: randomUUID(), version: 1, eventId, userId: 'a\0b', rate: 3 },
        'internal',
      ),
      h.call(
        'applyScores',
        { items: [{ scoreId: randomUUID(), version: 1, eventId, userId: '\0', rate: 3 }] },
        'internal',
      ),
    ];
    // Each refusal is taken as it comes: one awaited later would go unhandled meanwhile.
    const errors = await Promise.all(refused.map((call) => grpcError(call, grpc.status.INVALID_ARGUMENT)));
    for (const error of errors) expect(error.details).toContain('NUL');
    expect(await snapshot(h.db)).toEqual(before);
  });
});
