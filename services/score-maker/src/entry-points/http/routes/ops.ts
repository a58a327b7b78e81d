import type { FastifyPluginAsync } from 'fastify';
import type { Metrics } from '@scoreline/platform';

export type ReadinessCheck = () => Promise<void>;

export interface OpsRoutesDeps {
  /** Named checks; each resolves when its dependency answers. */
  checks: Record<string, ReadinessCheck>;
  /** Extra facts for /readyz detail (counts of stuck work and such); never fails readiness. */
  details?: () => Promise<Record<string, unknown>>;
  closing: () => boolean;
  metrics: Metrics;
  checkTimeoutMs?: number;
}

/** Liveness, readiness and metrics: unauthenticated, undocumented in the public API. */
export const opsRoutes =
  (deps: OpsRoutesDeps): FastifyPluginAsync =>
  async (app) => {
    app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }));

    app.get('/readyz', { schema: { hide: true } }, async (_request, reply) => {
      const timeout = deps.checkTimeoutMs ?? 2000;
      const results = await Promise.all(
        Object.entries(deps.checks).map(async ([name, check]) => {
          try {
            await Promise.race([
              check(),
              new Promise((_, reject) =>
                setTimeout(() => reject(new Error(`no answer in ${timeout} ms`)), timeout).unref(),
              ),
            ]);
            return [name, 'ok'] as const;
          } catch (error) {
            // The cause goes to the log; the response says only which dependency fails.
            app.log.warn({ err: error, check: name }, 'readiness check failed');
            return [name, 'failing'] as const;
          }
        }),
      );
      const checks = Object.fromEntries(results);
      const closing = deps.closing();
      const ready = !closing && results.every(([, state]) => state === 'ok');
      const details = deps.details ? await deps.details().catch(() => ({})) : {};
      return reply
        .code(ready ? 200 : 503)
        .send({ status: ready ? 'ready' : closing ? 'shutting down' : 'not ready', checks, ...details });
    });

    app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
      return reply.type(deps.metrics.contentType).send(await deps.metrics.text());
    });
  };
