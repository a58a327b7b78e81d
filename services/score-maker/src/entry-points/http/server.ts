import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { LogController } from 'fastify';
import type { Redis } from 'ioredis';
import { httpRequestDuration, type Logger, type Metrics } from '@scoreline/platform';
import { adminHook, authHook, type Authenticate, type Principal } from './auth.js';
import { openApiOptions } from './openapi.js';
import { answerClientError, errorHandler, instanceOf, problem, sendProblem } from './problem.js';
import { BODY_LIMIT_BYTES } from './problem-types.js';
import { createRateLimiter, type RateLimit } from './rate-limit.js';
import { lazyRequestLogger } from './request-logger.js';
import { adminRoutes, type AdminRoutesDeps } from './routes/admin.js';
import { eventRoutes, type EventRoutesDeps } from './routes/events.js';
import { opsRoutes, type OpsRoutesDeps } from './routes/ops.js';
import { problemRoutes } from './routes/problems.js';
import { quickstartRoutes } from './routes/quickstart.js';
import { scoreRoutes, type ScoreRoutesDeps } from './routes/scores.js';
import { streamRoutes, type StreamRoutesDeps } from './routes/streams.js';
import { webAppBuilt, webAppRoutes } from './routes/web-app.js';
import { EventSchema, ProblemSchema, ProblemTypeSchema, ScoreSchema } from './schemas.js';
import { validatorCompiler } from './validation.js';

export interface HttpServerDeps {
  logger: Logger;
  authenticate: Authenticate & { principal?: (authorization: string | undefined) => Promise<Principal> };
  events: EventRoutesDeps['events'];
  /** How long events and pages are served from memory (EVENTS_LOCAL_TTL). Default 1000. */
  freshnessMs?: number;
  submitScore: EventRoutesDeps['submitScore'];
  db: ScoreRoutesDeps['db'];
  scores: ScoreRoutesDeps['scores'];
  /** Requests waiting for settlements (GET /scores/{id} with Prefer: wait); without it, no waiting. */
  waits?: ScoreRoutesDeps['waits'];
  /** Server-Sent Events streams (GET /me/scores/stream, GET /events/stream). */
  live: StreamRoutesDeps['live'];
  /** The built web app (web/dist), served at `/`; without it, or unbuilt, no app is served. */
  webRoot?: string;
  /** "Sign in as <name>" (the quick start, on its generated secret): signs with this secret. */
  quickstartSignIn?: { secret: string; adminClaim: string; adminRole: string };
  /** The operations console's routes (/admin/…), for tokens with the admin role. */
  admin?: Omit<AdminRoutesDeps, 'requireAdmin' | 'logger'>;
  ops: Omit<OpsRoutesDeps, 'metrics'>;
  metrics: Metrics;
  rateLimit: {
    /** Shared counters across API replicas; without it each replica counts on its own. */
    redis?: Redis;
    prefix: string;
    scoresPerMinute: number;
    readsPerMinute: number;
  };
}

/** The public REST API (DESIGN.md §4) as a Fastify instance, not listening yet. */
export async function buildHttpServer(deps: HttpServerDeps) {
  const app = Fastify({
    loggerInstance: deps.logger,
    // Per-request log lines cost throughput; the metrics carry request counts and durations instead.
    logController: new LogController({ disableRequestLogging: true }),
    // …and request.log is made only when something logs through it.
    childLoggerFactory: lazyRequestLogger,
    bodyLimit: BODY_LIMIT_BYTES,
    // Shutting down is answered below, as a problem like every other error.
    return503OnClosing: false,
    requestIdHeader: 'x-request-id',
    // Errors raised before routing (a path that is not valid percent-encoding) are problems too.
    frameworkErrors: (error, request, reply) => {
      void sendProblem(reply, problem('BAD_REQUEST', error.message, { instance: instanceOf(request) }));
    },
    // So are requests the HTTP parser refuses before Fastify sees them (headers over 16 KiB, not HTTP).
    clientErrorHandler: answerClientError,
  }).withTypeProvider<TypeBoxTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  // The API speaks JSON only: anything else is 415, not a string that fails validation.
  app.removeContentTypeParser('text/plain');
  app.setErrorHandler(errorHandler(deps.logger));
  app.setNotFoundHandler((request, reply) =>
    sendProblem(
      reply,
      problem('NOT_FOUND', `no route for ${request.method} ${request.url.split('?')[0]}`, {
        instance: instanceOf(request),
      }),
    ),
  );
  // From the moment shutdown begins, requests still arriving on kept-alive connections are turned away
  // before any work, so that the client retries on another replica.
  // Hooks on every request take a callback rather than returning a promise: one microtask less each.
  app.addHook('onRequest', (request, reply, done) => {
    if (!deps.ops.closing()) return done();
    void sendProblem(
      reply.header('connection', 'close'),
      problem('UNAVAILABLE', 'this API instance is shutting down; retry', { instance: instanceOf(request) }),
    );
  });
  for (const schema of [ProblemSchema, ProblemTypeSchema, EventSchema, ScoreSchema]) app.addSchema(schema);

  const duration = httpRequestDuration(deps.metrics);
  const scoresAccepted = deps.metrics.counter({
    name: 'scoreline_scores_accepted_total',
    help: 'Scores accepted (202) by the API',
  });
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched';
    duration.observe({ method: request.method, route, status: reply.statusCode }, reply.elapsedTime / 1000);
    if (reply.statusCode === 202) scoresAccepted.inc();
    done();
  });

  await app.register(swagger, openApiOptions);
  await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { persistAuthorization: true } });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  const { redis, prefix, scoresPerMinute, readsPerMinute } = deps.rateLimit;
  // Counted in Redis across replicas; per replica in memory while Redis is unreachable (or not used).
  const limiter = createRateLimiter({ redis, namespace: `${prefix}:rate-limit:`, logger: deps.logger });
  app.addHook('onClose', (_app, done) => {
    limiter.close();
    done();
  });
  // Signed-in requests are limited per user, anonymous ones per client address. A route may name a
  // limit of its own (config.rateLimit: score submissions); every other request counts as a read.
  const reads: RateLimit = { max: readsPerMinute, scope: 'reads:', headers: false };
  const scores: RateLimit = { max: scoresPerMinute, scope: 'scores:', headers: true };
  const unlimited = new Set(['/healthz', '/readyz', '/metrics']);
  app.addHook(
    'preHandler',
    limiter.hook(
      (request) => request.routeOptions.config.rateLimit ?? (unlimited.has(request.url) ? undefined : reads),
    ),
  );

  const authenticate = authHook(deps.authenticate);
  await app.register(
    eventRoutes({
      events: deps.events,
      submitScore: deps.submitScore,
      authenticate,
      scoreRateLimit: scores,
      freshnessMs: deps.freshnessMs ?? 1000,
    }),
  );
  await app.register(scoreRoutes({ db: deps.db, scores: deps.scores, authenticate, waits: deps.waits }));
  await app.register(streamRoutes({ live: deps.live, authenticate }));
  await app.register(problemRoutes);
  if (deps.admin && deps.authenticate.principal) {
    const requireAdmin = adminHook(deps.authenticate.principal);
    await app.register(adminRoutes({ ...deps.admin, requireAdmin, logger: deps.logger }));
  }
  if (deps.quickstartSignIn) await app.register(quickstartRoutes(deps.quickstartSignIn));
  if (deps.webRoot !== undefined) {
    if (webAppBuilt(deps.webRoot)) await app.register(webAppRoutes(deps.webRoot));
    else deps.logger.warn({ webRoot: deps.webRoot }, 'web app not built (npm run build:web): not served');
  }
  await app.register(opsRoutes({ ...deps.ops, metrics: deps.metrics }));
  return app;
}

export type HttpServer = Awaited<ReturnType<typeof buildHttpServer>>;
