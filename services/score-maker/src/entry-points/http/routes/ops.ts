import type { FastifyPluginAsync } from 'fastify';
import { probeReadiness, type Metrics, type ReadinessChecks } from '@scoreline/platform';

export interface OpsRoutesDeps {
  /** Named checks; each resolves when its dependency answers. */
  checks: ReadinessChecks;
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
      // The causes go to the log; the response says only which dependency fails.
      const probe = await probeReadiness(deps.checks, {
        timeoutMs: deps.checkTimeoutMs ?? 2000,
        logger: app.log,
      });
      const { checks } = probe;
      const closing = deps.closing();
      const ready = !closing && probe.ready;
      const details = deps.details ? await deps.details().catch(() => ({})) : {};
      return reply
        .code(ready ? 200 : 503)
        .send({ status: ready ? 'ready' : closing ? 'shutting down' : 'not ready', checks, ...details });
    });

    app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
      return reply.type(deps.metrics.contentType).send(await deps.metrics.text());
    });
  };
