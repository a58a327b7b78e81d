import Fastify from 'fastify';

/**
 * bench/api.ts's reference HTTP server: Fastify's hello-world, `GET /` → `{"hello":"world"}`, no logger,
 * no plugins. A child process: `node --import tsx bench/api-hello.ts <port>`. It exits when its stdin
 * closes, so it never outlives the bench that started it.
 */
async function main() {
  const port = Number(process.argv[2] ?? '0');
  const app = Fastify({ logger: false });
  app.get('/', async () => ({ hello: 'world' }));
  await app.listen({ host: '127.0.0.1', port });
  const stop = () => void app.close().finally(() => process.exit(0));
  process.stdin.on('end', stop).on('error', stop).resume();
  process.on('SIGTERM', stop).on('SIGINT', stop);
}

main().catch((error: unknown) => {
  console.error('hello-world server failed:', error);
  process.exit(1);
});
