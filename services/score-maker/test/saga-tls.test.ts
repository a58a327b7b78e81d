import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { SignJWT } from 'jose';
import { channelCredentials, v1 } from '@scoreline/contracts';
import { buildLineProvider, lineProviderMigrations, type LineProvider } from '@scoreline/line-provider';
import {
  AppError,
  ConfigError,
  createMemoryBroker,
  silentLogger,
  type Broker,
  type ClientTls,
} from '@scoreline/platform';
import {
  createTestDatabase,
  makeTestCertificates,
  waitFor,
  type TestCertificates,
} from '@scoreline/platform/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryEventsCache } from '../src/data-access/events-cache-memory.js';
import { createLineProviderClient } from '../src/data-access/line-provider-client.js';
import {
  buildScoreMakerApi,
  buildScoreMakerWorker,
  loadApiConfig,
  loadWorkerConfig,
  scoreMakerMigrations,
  type ScoreMakerApi,
  type ScoreMakerWorker,
} from '../src/index.js';
import { ADMIN_TOKEN, INTERNAL_TOKEN, testConfig } from '../../line-provider/test/helpers.js';
import { JWT_SECRET, tokenFor } from './api-harness.js';
import { fastSaga } from './saga-harness.js';

let certs: TestCertificates;
beforeAll(() => {
  certs = makeTestCertificates();
});
afterAll(() => certs.dispose());

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

type Mode = 'tls' | 'mutual';

/** line-provider serving TLS (and asking for client certificates in mutual mode), on a free port. */
async function startLineProvider(mode: Mode, broker: Broker = createMemoryBroker()) {
  const db = await createTestDatabase(lineProviderMigrations);
  cleanups.push(() => db.dispose());
  const lineProvider: LineProvider = await buildLineProvider(
    testConfig({
      LINE_PROVIDER_TLS_CERT_FILE: certs.serverCert,
      LINE_PROVIDER_TLS_KEY_FILE: certs.serverKey,
      ...(mode === 'mutual' ? { LINE_PROVIDER_TLS_CLIENT_CA_FILE: certs.ca } : {}),
    }),
    { logger: silentLogger(), db: db.db, broker },
  );
  const { port } = await lineProvider.start();
  cleanups.push(() => lineProvider.stop());
  return { port, db };
}

/** A score-maker client of line-provider, as the API and the worker build it, pinged once. */
async function ping(port: number, tls: ClientTls | undefined, host = '127.0.0.1'): Promise<void> {
  const client = createLineProviderClient({
    address: `${host}:${port}`,
    internalToken: INTERNAL_TOKEN,
    logger: silentLogger(),
    callTimeoutMs: 3000,
    tls,
  });
  try {
    await client.ping();
  } finally {
    client.close();
  }
}

const pem = (path: string) => readFileSync(path);

/** CreateEvent over the given TLS, with the admin token. */
async function createEvent(port: number, tls: ClientTls): Promise<number> {
  const channel = channelCredentials(tls);
  const client = new v1.EventServiceClient(`127.0.0.1:${port}`, channel.credentials, channel.options);
  const metadata = new grpc.Metadata();
  metadata.set('authorization', `Bearer ${ADMIN_TOKEN}`);
  const request = v1.CreateEventRequest.fromPartial({
    title: 'Final over TLS',
    deadline: new Date(Date.now() + 86_400_000),
  });
  try {
    return await new Promise<number>((resolve, reject) =>
      client.createEvent(request, metadata, (error, res) => (error ? reject(error) : resolve(res.event!.id))),
    );
  } finally {
    client.close();
  }
}

describe.each<Mode>(['tls', 'mutual'])('the saga with line-provider on %s', (mode) => {
  it('when the API and the worker are configured with the CA (and a client certificate), then a score goes CONFIRMED and the console closes its event', async () => {
    const broker = createMemoryBroker();
    cleanups.push(() => broker.close());
    const { port, db: lpDb } = await startLineProvider(mode, broker);
    const smDb = await createTestDatabase(scoreMakerMigrations);
    cleanups.push(() => smDb.dispose());
    const cache = createMemoryEventsCache();
    cleanups.push(() => cache.close());
    // What a deployment sets: the CA, the certificate's name (the address is by IP), and for mutual
    // TLS the client certificate. The API and the worker build their clients from it.
    const tlsEnv: Record<string, string> = {
      LINE_PROVIDER_ADDRESS: `127.0.0.1:${port}`,
      LINE_PROVIDER_TLS_CA_FILE: certs.ca,
      LINE_PROVIDER_TLS_SERVER_NAME: 'localhost',
      ...(mode === 'mutual'
        ? { LINE_PROVIDER_CLIENT_CERT_FILE: certs.clientCert, LINE_PROVIDER_CLIENT_KEY_FILE: certs.clientKey }
        : {}),
    };
    const api: ScoreMakerApi = await buildScoreMakerApi(
      loadApiConfig({
        env: { JWT_SECRET, REDIS_URL: 'memory://', LINE_PROVIDER_ADMIN_TOKEN: ADMIN_TOKEN, ...tlsEnv },
        envFile: false,
      }),
      { logger: silentLogger(), db: smDb.db, cache },
    );
    cleanups.push(() => api.stop());
    await api.http.ready();
    const worker: ScoreMakerWorker = await buildScoreMakerWorker(
      loadWorkerConfig({
        env: { ...fastSaga, LINE_PROVIDER_INTERNAL_TOKEN: INTERNAL_TOKEN, REDIS_URL: 'memory://', ...tlsEnv },
        envFile: false,
      }),
      { logger: silentLogger(), db: smDb.db, broker, cache },
    );
    await worker.start();
    cleanups.push(() => worker.stop());

    const eventId = await createEvent(port, {
      ca: pem(certs.ca),
      serverName: 'localhost',
      ...(mode === 'mutual' ? { cert: pem(certs.clientCert), key: pem(certs.clientKey) } : {}),
    });
    const res = await api.http.inject({
      method: 'POST',
      url: `/events/${eventId}/score`,
      headers: {
        authorization: `Bearer ${await tokenFor('alice')}`,
        'content-type': 'application/json',
        'idempotency-key': randomUUID(),
      },
      payload: { score: 4 },
    });
    expect(res.statusCode).toBe(202);
    const { id } = res.json<{ id: string }>();
    const score = await waitFor(
      async () => {
        const { rows: found } = await smDb.db.query<{ status: string; confirmed_rate: number | null }>(
          'SELECT status, confirmed_rate FROM scores WHERE id = $1',
          [id],
        );
        return found[0]?.status !== 'PENDING' && found[0];
      },
      { what: 'the score settled over TLS' },
    );
    expect(score).toEqual({ status: 'CONFIRMED', confirmed_rate: 4 });
    const { rows: event } = await lpDb.db.query('SELECT score_count, score_sum FROM events WHERE id = $1', [
      eventId,
    ]);
    expect(event[0]).toEqual({ score_count: 1, score_sum: 4 });

    // The operations console's admin calls take the same TLS settings.
    const admin = await new SignJWT({ roles: ['admin'] })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('ops')
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(JWT_SECRET));
    const closed = await api.http.inject({
      method: 'POST',
      url: `/admin/events/${eventId}/close`,
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      payload: {},
    });
    expect(closed.json()).toMatchObject({ id: eventId, state: 'CLOSED' });
  });
});

/** The AppError code a ping ended with; 'ok' when it answered SERVING. */
async function pingOutcome(port: number, tls: ClientTls | undefined, host?: string): Promise<string> {
  try {
    await ping(port, tls, host);
    return 'ok';
  } catch (error) {
    if (error instanceof AppError) return error.code;
    throw error;
  }
}

describe('line-provider on TLS', () => {
  it('when a client speaks plain text, or trusts another CA, then it gets no answer (UNAVAILABLE)', async () => {
    const { port } = await startLineProvider('tls');
    expect(await pingOutcome(port, undefined)).toBe('UNAVAILABLE');
    // The client certificate's CA did not sign the server's certificate.
    expect(await pingOutcome(port, { ca: pem(certs.strangerCert), serverName: 'localhost' })).toBe(
      'UNAVAILABLE',
    );
    // The server's certificate is for localhost and 127.0.0.1, not for another name.
    expect(await pingOutcome(port, { ca: pem(certs.ca), serverName: 'line-provider.example' })).toBe(
      'UNAVAILABLE',
    );
    // Without a server name the certificate is checked for the address's host.
    expect(await pingOutcome(port, { ca: pem(certs.ca) }, 'localhost')).toBe('ok');
  });

  it('when mutual TLS is on, then a client without a certificate, or with one of another CA, is refused and one with a certificate of the CA is served', async () => {
    const { port } = await startLineProvider('mutual');
    const server = { ca: pem(certs.ca), serverName: 'localhost' };
    expect(await pingOutcome(port, server)).toBe('UNAVAILABLE');
    expect(
      await pingOutcome(port, { ...server, cert: pem(certs.strangerCert), key: pem(certs.strangerKey) }),
    ).toBe('UNAVAILABLE');
    expect(
      await pingOutcome(port, { ...server, cert: pem(certs.clientCert), key: pem(certs.clientKey) }),
    ).toBe('ok');
  });

  it('when a TLS file is missing, unreadable as PEM or without its pair, then loading the configuration fails naming the setting', () => {
    const problems = (load: () => unknown): string => {
      try {
        load();
      } catch (error) {
        if (error instanceof ConfigError) return error.problems.join('\n');
        throw error;
      }
      throw new Error('the configuration loaded');
    };
    expect(
      problems(() =>
        testConfig({
          LINE_PROVIDER_TLS_CERT_FILE: `${certs.dir}/missing.crt`,
          LINE_PROVIDER_TLS_KEY_FILE: certs.serverKey,
        }),
      ),
    ).toMatch(/^LINE_PROVIDER_TLS_CERT_FILE: expected the path of a readable file \(ENOENT\)/);
    expect(problems(() => testConfig({ LINE_PROVIDER_TLS_CERT_FILE: certs.serverCert }))).toBe(
      'LINE_PROVIDER_TLS_KEY_FILE: required with LINE_PROVIDER_TLS_CERT_FILE (it is not set)',
    );
    expect(problems(() => testConfig({ LINE_PROVIDER_TLS_CLIENT_CA_FILE: certs.ca }))).toMatch(
      /^LINE_PROVIDER_TLS_CLIENT_CA_FILE: mutual TLS needs LINE_PROVIDER_TLS_CERT_FILE/,
    );
    // A key that is not the certificate's.
    expect(
      problems(() =>
        testConfig({
          LINE_PROVIDER_TLS_CERT_FILE: certs.serverCert,
          LINE_PROVIDER_TLS_KEY_FILE: certs.clientKey,
        }),
      ),
    ).toMatch(/^LINE_PROVIDER_TLS_CERT_FILE, LINE_PROVIDER_TLS_KEY_FILE: not usable for TLS/);
    // A key where the CA should be: no certificate in it.
    expect(
      problems(() =>
        loadWorkerConfig({
          env: { LINE_PROVIDER_INTERNAL_TOKEN: INTERNAL_TOKEN, LINE_PROVIDER_TLS_CA_FILE: certs.clientKey },
          envFile: false,
        }),
      ),
    ).toMatch(/^LINE_PROVIDER_TLS_CA_FILE: not usable for TLS/);
    expect(
      problems(() =>
        loadWorkerConfig({
          env: {
            LINE_PROVIDER_INTERNAL_TOKEN: INTERNAL_TOKEN,
            LINE_PROVIDER_CLIENT_KEY_FILE: certs.clientKey,
          },
          envFile: false,
        }),
      ),
    ).toBe('LINE_PROVIDER_CLIENT_CERT_FILE: required with LINE_PROVIDER_CLIENT_KEY_FILE (it is not set)');
  });

  it('when no TLS setting is given, then clients and server stay on plain text', () => {
    expect(testConfig().grpcTls).toBeUndefined();
    const worker = loadWorkerConfig({
      env: { LINE_PROVIDER_INTERNAL_TOKEN: INTERNAL_TOKEN },
      envFile: false,
    });
    expect(worker.lineProviderTls).toBeUndefined();
    const withRoots = loadWorkerConfig({
      env: { LINE_PROVIDER_INTERNAL_TOKEN: INTERNAL_TOKEN, LINE_PROVIDER_TLS: 'true' },
      envFile: false,
    });
    expect(withRoots.lineProviderTls).toEqual({ serverName: undefined });
  });
});
