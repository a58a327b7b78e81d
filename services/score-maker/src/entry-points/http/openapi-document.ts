import { createMetrics, silentLogger } from '@scoreline/platform';
import { buildHttpServer, type HttpServer } from './server.js';

/** A dependency this server never reaches: it only answers routes that need none (docs, problems). */
function unavailable<T>(name: string): T {
  const fail = (): never => {
    throw new Error(`${name} is not available: this server only describes the API`);
  };
  return new Proxy(fail, { get: fail, apply: fail }) as T;
}

/**
 * The real routes and schemas, with no database, cache or line-provider behind them: enough to serve
 * /openapi.json, /docs and /problems, and everything that fails before a handler runs (validation,
 * shutdown). Nothing listens until the caller says so.
 */
export function buildDocumentServer(options: { closing?: () => boolean } = {}): Promise<HttpServer> {
  return buildHttpServer({
    logger: silentLogger(),
    authenticate: unavailable('authentication'),
    events: unavailable('events'),
    submitScore: unavailable('submitScore'),
    db: unavailable('database'),
    scores: unavailable('scores'),
    live: unavailable('live updates'),
    metrics: createMetrics({ defaultMetrics: false }),
    ops: { checks: {}, closing: options.closing ?? (() => false) },
    rateLimit: { prefix: 'openapi-document', scoresPerMinute: 60, readsPerMinute: 600 },
  });
}

/** The OpenAPI document exactly as GET /openapi.json serves it. */
export async function openApiDocument(): Promise<Record<string, unknown>> {
  const app = await buildDocumentServer();
  try {
    const response = await app.inject({ method: 'GET', url: '/openapi.json' });
    if (response.statusCode !== 200) throw new Error(`GET /openapi.json answered ${response.statusCode}`);
    return response.json<Record<string, unknown>>();
  } finally {
    await app.close();
  }
}
