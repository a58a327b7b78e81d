import * as grpc from '@grpc/grpc-js';
import Fastify from 'fastify';
import { freePort, spawnNode, waitUntilReady } from './children.js';

/**
 * The references the services are measured against, each run as a child process:
 * `node --import tsx bench/lib/reference-servers.ts echo|hello <port>`. `echo` is a grpc-js unary
 * service whose messages are raw bytes (no protobuf work), bytes in, the same bytes out; `hello` is
 * Fastify's hello-world, `GET /` → `{"hello":"world"}`, no logger, no plugins. Each exits when its stdin
 * closes, so it never outlives the bench that started it.
 */
const ECHO_PATH = '/bench.Echo/Echo';
const identity = (buffer: Buffer) => buffer;

/** A client for the echo server: one channel, like the line-provider client it is compared with. */
function createEchoClient(address: string) {
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  return {
    echo: (payload: Buffer, deadlineMs = 30_000) =>
      new Promise<Buffer>((resolve, reject) =>
        client.makeUnaryRequest(
          ECHO_PATH,
          identity,
          identity,
          payload,
          new grpc.Metadata(),
          { deadline: Date.now() + deadlineMs },
          (error, response) => (error ? reject(error) : resolve(response!)),
        ),
      ),
    close: () => client.close(),
  };
}

/** Starts the reference server `kind` in a child process and waits until it answers. */
export async function startReference(kind: 'echo' | 'hello', PATH: string) {
  const port = await freePort();
  const child = spawnNode(kind, ['--import', 'tsx', import.meta.filename, kind, String(port)], { PATH });
  const echo = kind === 'echo' ? createEchoClient(`127.0.0.1:${port}`) : undefined;
  await waitUntilReady(kind, child, async () => {
    if (echo) await echo.echo(Buffer.from('ping'), 1000);
    else if (!(await fetch(`http://127.0.0.1:${port}/`)).ok) throw new Error('not 200');
  });
  return { child, port, echo };
}

async function serve(kind: string, port: number): Promise<() => void> {
  if (kind === 'hello') {
    const app = Fastify({ logger: false });
    app.get('/', async () => ({ hello: 'world' }));
    await app.listen({ host: '127.0.0.1', port });
    return () => void app.close().finally(() => process.exit(0));
  }
  const server = new grpc.Server();
  const method = { path: ECHO_PATH, requestStream: false, responseStream: false };
  const codec = {
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  };
  server.addService(
    { echo: { ...method, ...codec } },
    {
      echo: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) =>
        callback(null, call.request),
    },
  );
  await new Promise((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (e, p) =>
      e ? reject(e) : resolve(p),
    ),
  );
  return () => server.tryShutdown(() => process.exit(0));
}

if (process.argv[1] === import.meta.filename) {
  serve(process.argv[2] ?? 'echo', Number(process.argv[3] ?? '0')).then(
    (stop) => {
      process.stdin.on('end', stop).on('error', stop).resume();
      process.on('SIGTERM', stop).on('SIGINT', stop);
    },
    (error: unknown) => {
      console.error(`${process.argv[2]} server failed:`, error);
      process.exit(1);
    },
  );
}
