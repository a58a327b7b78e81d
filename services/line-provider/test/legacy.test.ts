import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEvent, grpcError, startHarness, type Harness } from './helpers.js';

/**
 * The legacy contract, exercised by a client built at run time from the .proto file alone (as the
 * original system's clients were), not from this repository's generated code.
 */
const protoPath = fileURLToPath(
  new URL('../../../packages/contracts/proto/legacy/line_provider.proto', import.meta.url),
);

interface LegacyEvent {
  event_id: number;
  deadline: { seconds: string; nanos: number };
  status: string;
}
type Callback<T> = (error: grpc.ServiceError | null, response: T) => void;
interface LegacyClient extends grpc.Client {
  GetEvents(req: object, metadata: grpc.Metadata, cb: Callback<{ events: LegacyEvent[] }>): void;
  UpdateEventStatusByScore(req: object, metadata: grpc.Metadata, cb: Callback<{ success: boolean }>): void;
}

let h: Harness;
let client: LegacyClient;
const call = <T>(
  method: 'GetEvents' | 'UpdateEventStatusByScore',
  req: object,
  metadata = new grpc.Metadata(),
) =>
  new Promise<T>((resolve, reject) =>
    (client[method] as (r: object, m: grpc.Metadata, cb: Callback<T>) => void)(req, metadata, (error, res) =>
      error ? reject(error) : resolve(res),
    ),
  );

beforeAll(async () => {
  h = await startHarness();
  const definition = protoLoader.loadSync(protoPath, {
    keepCase: true,
    enums: String,
    longs: String,
    defaults: true,
  });
  const pkg = grpc.loadPackageDefinition(definition) as unknown as {
    EventService: new (address: string, credentials: grpc.ChannelCredentials) => LegacyClient;
  };
  client = new pkg.EventService(`127.0.0.1:${h.port}`, grpc.credentials.createInsecure());
});
afterAll(async () => {
  client.close();
  await h.dispose();
});

describe('legacy EventService', () => {
  it('when GetEvents is called without a token, then it lists open events with the original status enum', async () => {
    const open = await createEvent(h, 'Open one');
    const closed = await createEvent(h, 'Closed one');
    await h.call('closeEvent', { eventId: closed.id }, 'admin');
    const { events } = await call<{ events: LegacyEvent[] }>('GetEvents', {});
    const mine = events.find((e) => e.event_id === open.id);
    expect(mine).toMatchObject({ status: 'STATUS_PROCESSING' });
    expect(Number(mine!.deadline.seconds)).toBe(Math.floor(open.deadline!.getTime() / 1000));
    expect(events.some((e) => e.event_id === closed.id)).toBe(false);
  });

  it('when scores are sent, then each counts as one anonymous score and the status follows the average', async () => {
    const event = await createEvent(h);
    expect(await call('UpdateEventStatusByScore', { event_id: event.id, score: 2 })).toEqual({
      success: true,
    });
    let { events } = await call<{ events: LegacyEvent[] }>('GetEvents', {});
    expect(events.find((e) => e.event_id === event.id)?.status).toBe('STATUS_LOW_SCORE');
    expect(await call('UpdateEventStatusByScore', { event_id: event.id, score: 5 })).toEqual({
      success: true,
    });
    ({ events } = await call<{ events: LegacyEvent[] }>('GetEvents', {}));
    expect(events.find((e) => e.event_id === event.id)?.status).toBe('STATUS_HIGH_SCORE');
    const { rows } = await h.db.query('SELECT score_count, score_sum FROM events WHERE id = $1', [event.id]);
    expect(rows[0]).toEqual({ score_count: 2, score_sum: 7 });
  });

  it('when the score is outside 1-5 or the event unknown or closed, then success is false and nothing is written', async () => {
    const event = await createEvent(h);
    const closed = await createEvent(h);
    await h.call('closeEvent', { eventId: closed.id }, 'admin');
    const before = await h.db.query('SELECT count(*)::int AS n FROM score_ledger');
    for (const req of [
      { event_id: event.id, score: 0 },
      { event_id: event.id, score: 6 },
      { event_id: event.id, score: -1 },
      { event_id: 999_999, score: 3 },
      { event_id: 0, score: 3 },
      { event_id: closed.id, score: 3 },
    ]) {
      expect(await call('UpdateEventStatusByScore', req), JSON.stringify(req)).toEqual({ success: false });
    }
    expect((await h.db.query('SELECT count(*)::int AS n FROM score_ledger')).rows).toEqual(before.rows);
    const { rows } = await h.db.query('SELECT score_count FROM events WHERE id = $1', [event.id]);
    expect(rows[0]).toEqual({ score_count: 0 });
  });
});

describe('legacy EventService with LINE_PROVIDER_LEGACY_REQUIRE_TOKEN=true', () => {
  let locked: Harness;
  let lockedClient: LegacyClient;
  beforeAll(async () => {
    locked = await startHarness({ LINE_PROVIDER_LEGACY_REQUIRE_TOKEN: 'true' });
    const definition = protoLoader.loadSync(protoPath, {
      keepCase: true,
      enums: String,
      longs: String,
      defaults: true,
    });
    const pkg = grpc.loadPackageDefinition(definition) as unknown as {
      EventService: new (address: string, credentials: grpc.ChannelCredentials) => LegacyClient;
    };
    lockedClient = new pkg.EventService(`127.0.0.1:${locked.port}`, grpc.credentials.createInsecure());
  });
  afterAll(async () => {
    lockedClient.close();
    await locked.dispose();
  });

  it('when a legacy call has no token, then UNAUTHENTICATED; with the internal token, it works', async () => {
    const noToken = new Promise((resolve, reject) =>
      lockedClient.GetEvents({}, new grpc.Metadata(), (e, r) => (e ? reject(e) : resolve(r))),
    );
    await grpcError(noToken, grpc.status.UNAUTHENTICATED);
    const metadata = new grpc.Metadata();
    metadata.set('authorization', `Bearer ${'test-internal-token-0123456789'}`);
    const res = await new Promise<{ events: unknown[] }>((resolve, reject) =>
      lockedClient.GetEvents({}, metadata, (e, r) => (e ? reject(e) : resolve(r))),
    );
    expect(Array.isArray(res.events)).toBe(true);
  });
});
