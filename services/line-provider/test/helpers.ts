import * as grpc from '@grpc/grpc-js';
import { v1 } from '@scoreline/contracts';
import { createMemoryBroker, silentLogger, type Broker, type Database } from '@scoreline/platform';
import { createTestDatabase, type TestDatabase } from '@scoreline/platform/testing';
import {
  buildLineProvider,
  lineProviderMigrations,
  loadLineProviderConfig,
  type LineProvider,
} from '../src/index.js';

export const ADMIN_TOKEN = 'test-admin-token-0123456789';
export const INTERNAL_TOKEN = 'test-internal-token-0123456789';

export function testConfig(overrides: Record<string, string> = {}) {
  return loadLineProviderConfig({
    env: {
      LINE_PROVIDER_DATABASE_URL: 'pglite://memory', // unused: tests pass their own database
      REDIS_URL: 'memory://',
      LINE_PROVIDER_GRPC_HOST: '127.0.0.1',
      LINE_PROVIDER_GRPC_PORT: '0',
      LINE_PROVIDER_ADMIN_TOKEN: ADMIN_TOKEN,
      LINE_PROVIDER_INTERNAL_TOKEN: INTERNAL_TOKEN,
      DEADLINE_CHECK_INTERVAL: '100ms',
      OUTBOX_POLL_INTERVAL: '200ms',
      ...overrides,
    },
    envFile: false,
  });
}

export interface Harness {
  tdb: TestDatabase;
  db: Database;
  broker: Broker;
  app: LineProvider;
  port: number;
  client: v1.EventServiceClient;
  /** Calls a unary method and resolves with its response or rejects with the gRPC error. */
  /** token: 'admin', 'internal', or any other string sent as it is. */
  call<Req, Res>(method: string, request: Req, token?: string): Promise<Res>;
  dispose(): Promise<void>;
}

/**
 * A real line-provider on a free port over a fresh test database; a grpc-js client pointed at it.
 * `wrapDb` puts something between the service and its database (to watch what it sends).
 */
export async function startHarness(
  overrides: Record<string, string> = {},
  options: { wrapDb?: (db: Database) => Database } = {},
): Promise<Harness> {
  const tdb = await createTestDatabase(lineProviderMigrations);
  const broker = createMemoryBroker();
  const db = options.wrapDb ? options.wrapDb(tdb.db) : tdb.db;
  const app = await buildLineProvider(testConfig(overrides), { logger: silentLogger(), db, broker });
  const { port } = await app.start();
  const client = new v1.EventServiceClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  const call = <Req, Res>(method: string, request: Req, token?: string) =>
    new Promise<Res>((resolve, reject) => {
      const metadata = new grpc.Metadata();
      const bearer = token === 'admin' ? ADMIN_TOKEN : token === 'internal' ? INTERNAL_TOKEN : token;
      if (bearer) metadata.set('authorization', `Bearer ${bearer}`);
      const fn = (
        client as unknown as Record<string, grpc.requestCallback<Res> & ((...args: unknown[]) => void)>
      )[method]!;
      // Requests go through fromPartial, as a real client's would: unset fields take proto defaults.
      const type = (v1 as unknown as Record<string, { fromPartial(x: unknown): unknown }>)[
        `${method[0]!.toUpperCase()}${method.slice(1)}Request`
      ]!;
      fn.call(
        client,
        type.fromPartial(request),
        metadata,
        (error: grpc.ServiceError | null, response?: Res) => (error ? reject(error) : resolve(response!)),
      );
    });
  return {
    tdb,
    db: tdb.db,
    broker,
    app,
    port,
    client,
    call,
    async dispose() {
      client.close();
      await app.stop();
      await broker.close();
      await tdb.dispose();
    },
  };
}

export function inDays(days: number): Date {
  return new Date(Date.now() + days * 86_400_000);
}

export async function createEvent(h: Harness, title = 'Final', deadline = inDays(1)): Promise<v1.Event> {
  const res = await h.call<v1.CreateEventRequest, v1.CreateEventResponse>(
    'createEvent',
    { title, deadline },
    'admin',
  );
  return res.event!;
}

export async function outboxKinds(db: Database, eventId: number): Promise<string[]> {
  const { rows } = await db.query<{ kind: string }>(
    `SELECT payload->>'kind' AS kind FROM outbox WHERE message_key = $1 ORDER BY id`,
    [String(eventId)],
  );
  return rows.map((r) => r.kind.replace('EVENT_CHANGE_KIND_', ''));
}

/** Expects a gRPC error with this status code; returns it for further checks. */
export async function grpcError(promise: Promise<unknown>, code: grpc.status): Promise<grpc.ServiceError> {
  try {
    await promise;
  } catch (error) {
    const e = error as grpc.ServiceError;
    if (e.code !== code)
      throw new Error(`expected ${grpc.status[code]}, got ${grpc.status[e.code]}: ${e.details}`);
    return e;
  }
  throw new Error(`expected ${grpc.status[code]}, but the call succeeded`);
}
