import * as grpc from '@grpc/grpc-js';
import { echoService } from './lib/echo.js';

/**
 * The bench's reference server: grpc-js unary echo, bytes in, the same bytes out. Run by
 * bench/line-provider.ts as a child process: `node --import tsx bench/echo-server.ts <port>`. It exits
 * when its stdin closes, so it never outlives the bench that started it.
 */
async function main() {
  const port = Number(process.argv[2] ?? '0');
  const server = new grpc.Server();
  server.addService(echoService, {
    echo: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) =>
      callback(null, call.request),
  });
  await new Promise<number>((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (error, p) =>
      error ? reject(error) : resolve(p),
    ),
  );
  const stop = () => server.tryShutdown(() => process.exit(0));
  process.stdin.on('end', stop).on('error', stop).resume();
  process.on('SIGTERM', stop).on('SIGINT', stop);
}

main().catch((error: unknown) => {
  console.error('echo server failed:', error);
  process.exit(1);
});
