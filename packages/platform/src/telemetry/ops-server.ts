import { createServer, type Server } from 'node:http';
import type { Logger } from '../logger.js';
import { httpRequestDuration, type Metrics } from './metrics.js';

export interface OpsServerOptions {
  host: string;
  port: number;
  metrics: Metrics;
  logger: Logger;
  /** /readyz: whether the process is ready, and the body that says why. */
  readiness: () => Promise<{ ready: boolean; body: unknown }>;
}

export interface OpsServer {
  /** The bound port (the asked one, or the one chosen for 0). */
  readonly port: number;
  close(): Promise<void>;
}

const ROUTES = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * The health and metrics port of a process that serves no HTTP API (the worker, line-provider):
 * `/healthz` (the process answers), `/readyz` (200 or 503 with its checks) and `/metrics` (Prometheus
 * text). Plain node:http: three routes need no framework.
 */
export async function startOpsServer(options: OpsServerOptions): Promise<OpsServer> {
  const { metrics, logger } = options;
  const duration = httpRequestDuration(metrics);
  const server: Server = createServer((request, response) => {
    const started = process.hrtime.bigint();
    const path = (request.url ?? '/').split('?')[0]!;
    const send = (status: number, contentType: string, body: string) => {
      response.writeHead(status, { 'content-type': contentType }).end(body);
      const route = ROUTES.has(path) ? path : 'unmatched';
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      duration.observe({ method: request.method ?? 'GET', route, status: status }, seconds);
    };
    const json = (status: number, body: unknown) => send(status, 'application/json', JSON.stringify(body));
    if (path === '/healthz') return json(200, { status: 'ok' });
    if (path === '/readyz') {
      options.readiness().then(
        ({ ready, body }) => json(ready ? 200 : 503, body),
        (error: unknown) => {
          logger.warn({ err: error }, 'readiness failed');
          json(503, { status: 'not ready' });
        },
      );
      return;
    }
    if (path === '/metrics') {
      metrics.text().then(
        (text) => send(200, metrics.contentType, text),
        (error: unknown) => {
          logger.warn({ err: error }, 'metrics scrape failed');
          json(500, { status: 500, code: 'INTERNAL' });
        },
      );
      return;
    }
    json(404, { status: 404, code: 'NOT_FOUND' });
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : options.port);
    });
  });
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Scrapers keep connections alive; they must not hold the shutdown.
        server.closeIdleConnections();
      }),
  };
}
