import { once } from 'node:events';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createPostgresDatabase, createRedisBroker, silentLogger } from '../src/index.js';

/**
 * A TCP listener that keeps the first bytes each connection sends and then hangs up: what the driver
 * put on the wire shows whether it started TLS, with no TLS server needed.
 */
async function firstBytesServer() {
  const sockets = new Set<Socket>();
  let resolveFirst: (bytes: Buffer) => void;
  const first = new Promise<Buffer>((resolve) => (resolveFirst = resolve));
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.once('data', (bytes) => {
      resolveFirst(bytes);
      socket.destroy();
    });
    socket.on('error', () => undefined);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    first,
    close: () => {
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  };
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** PostgreSQL's SSLRequest: length 8, then the code 80877103. */
const SSL_REQUEST = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);
/** A TLS record of type handshake (a ClientHello), TLS 1.0 to 1.3 record versions. */
const isTlsHandshake = (bytes: Buffer) => bytes[0] === 0x16 && bytes[1] === 0x03;

describe('TLS settings in connection URLs reach the drivers unchanged', () => {
  it.each([
    ['sslmode=verify-full', true],
    ['sslmode=no-verify', true],
    ['sslmode=disable', false],
    ['', false],
  ])(
    'when the PostgreSQL URL says "%s", then the connection starts with an SSLRequest: %s',
    async (query, ssl) => {
      const server = await firstBytesServer();
      cleanups.push(server.close);
      const db = createPostgresDatabase({
        url: `postgres://app:secret@127.0.0.1:${server.port}/app${query ? `?${query}` : ''}`,
        logger: silentLogger(),
        maxConnections: 1,
      });
      cleanups.push(() => db.close());
      const ping = db.ping().catch(() => undefined);
      const bytes = await server.first;
      await ping;
      expect(bytes.subarray(0, 8).equals(SSL_REQUEST)).toBe(ssl);
    },
  );

  it.each([
    ['rediss', true],
    ['redis', false],
  ])(
    'when the Redis URL is %s://, then the broker connection starts with a TLS handshake: %s',
    async (scheme, tls) => {
      const server = await firstBytesServer();
      cleanups.push(server.close);
      const broker = createRedisBroker({
        url: `${scheme}://127.0.0.1:${server.port}`,
        logger: silentLogger(),
      });
      cleanups.push(() => broker.close().catch(() => undefined));
      const bytes = await server.first;
      expect(isTlsHandshake(bytes)).toBe(tls);
    },
  );
});
