import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { AppError, type Database, type Logger } from '@scoreline/platform';
import type { LineProviderAdmin } from '../../../data-access/line-provider-admin.js';
import type { OperationsRepository } from '../../../data-access/operations-repository.js';
import type { SagaRepository } from '../../../data-access/saga-repository.js';
import type { AuthHook } from '../auth.js';
import { EventIdParams, ScoreIdParams } from '../schemas.js';
import { eventBody } from '../views.js';

export interface AdminRoutesDeps {
  db: Database;
  sagas: Pick<SagaRepository, 'counts' | 'list'>;
  operations: OperationsRepository;
  /** line-provider's admin calls; without LINE_PROVIDER_ADMIN_TOKEN, event changes answer 503. */
  admin?: LineProviderAdmin;
  /** Resolves when line-provider answers (the readiness check). */
  pingLineProvider: () => Promise<void>;
  stuckAfterMs: number;
  logger: Logger;
  requireAdmin: AuthHook;
}

const CreateEventBody = Type.Object(
  {
    title: Type.String({ minLength: 1, maxLength: 200 }),
    deadline: Type.String({ format: 'date-time' }),
  },
  { additionalProperties: false },
);
const CancelEventBody = Type.Object(
  { reason: Type.Optional(Type.String({ maxLength: 500 })) },
  { additionalProperties: false },
);

/**
 * The operations console's JSON (GET /admin/overview) and actions, for tokens with the admin role.
 * Every action is written to the log as an audit line (`audit: true`, who, what). Not part of the
 * public API's OpenAPI document: see docs/operations.md.
 */
export const adminRoutes =
  (deps: AdminRoutesDeps): FastifyPluginAsyncTypebox =>
  async (app) => {
    const hidden = { hide: true };
    const audit = (userId: string | undefined, action: string, facts: Record<string, unknown>) =>
      deps.logger.info({ audit: true, admin: userId, action, ...facts }, `admin: ${action}`);
    const lineProviderAdmin = () => {
      if (!deps.admin) {
        throw new AppError(
          'UNAVAILABLE',
          'LINE_PROVIDER_ADMIN_TOKEN is not set: events cannot be changed here',
        );
      }
      return deps.admin;
    };

    app.get('/admin/overview', { onRequest: deps.requireAdmin, schema: hidden }, async (_request, reply) => {
      const now = Date.now();
      const lineProviderOutbox = deps.admin
        ? deps.admin.outboxStatus().then(
            (status) => ({ unpublished: status.unpublished, lag_seconds: status.lagSeconds, error: null }),
            (error: unknown) => ({
              unpublished: null,
              lag_seconds: null,
              error: error instanceof Error ? error.message : String(error),
            }),
          )
        : Promise.resolve({
            unpublished: null,
            lag_seconds: null,
            error: 'LINE_PROVIDER_ADMIN_TOKEN is not set',
          });
      const [counts, inFlight, outbox, compensations, lineProvider, lpOutbox] = await Promise.all([
        deps.sagas.counts(deps.db, deps.stuckAfterMs),
        deps.sagas.list(deps.db, { stuckOnly: false, stuckAfterMs: deps.stuckAfterMs, limit: 100 }),
        deps.operations.outboxBacklog(deps.db),
        deps.operations.recentCompensations(deps.db, 20),
        deps.pingLineProvider().then(
          () => ({ status: 'ok' as const, error: null }),
          (error: unknown) => ({
            status: 'failing' as const,
            error: error instanceof Error ? error.message : String(error),
          }),
        ),
        lineProviderOutbox,
      ]);
      void reply.header('cache-control', 'no-store');
      return {
        generated_at: new Date(now).toISOString(),
        stuck_after_seconds: deps.stuckAfterMs / 1000,
        sagas: {
          ...counts,
          in_flight: inFlight.map((s) => {
            const age = (now - s.pendingSince.getTime()) / 1000;
            return {
              score_id: s.id,
              version: s.version,
              event_id: s.eventId,
              user_id: s.userId,
              step: s.sagaState,
              age_seconds: Math.round(age),
              stuck: s.sagaState === 'REVERTING' && age * 1000 > deps.stuckAfterMs,
              last_error: s.lastError,
            };
          }),
        },
        outbox: {
          'score-maker': { unpublished: outbox.unpublished, lag_seconds: outbox.lagSeconds, error: null },
          'line-provider': lpOutbox,
        },
        line_provider: lineProvider,
        compensations: compensations.map((c) => ({
          score_id: c.id,
          event_id: c.eventId,
          user_id: c.userId,
          version: c.version,
          status: c.status,
          reason: c.reason,
          confirmed_score: c.confirmedRate,
          at: c.updatedAt.toISOString(),
        })),
      };
    });

    app.post(
      '/admin/sagas/:score_id/redrive',
      { onRequest: deps.requireAdmin, schema: { ...hidden, params: ScoreIdParams } },
      async (request, reply) => {
        const scoreId = request.params.score_id;
        const step = await deps.operations.redrive(deps.db, scoreId);
        if (!step) throw new AppError('SCORE_NOT_FOUND', `score ${scoreId} has no saga in flight`);
        audit(request.userId, 'saga.redrive', { scoreId, step });
        return reply.code(202).send({ score_id: scoreId, step });
      },
    );

    app.post(
      '/admin/events',
      { onRequest: deps.requireAdmin, schema: { ...hidden, body: CreateEventBody } },
      async (request, reply) => {
        const event = await lineProviderAdmin().create(request.body.title, new Date(request.body.deadline));
        audit(request.userId, 'events.create', { eventId: event.id, title: event.title });
        return reply.code(201).header('location', `/events/${event.id}`).send(eventBody(event));
      },
    );

    app.post(
      '/admin/events/:event_id/close',
      { onRequest: deps.requireAdmin, schema: { ...hidden, params: EventIdParams } },
      async (request) => {
        const event = await lineProviderAdmin().close(request.params.event_id);
        audit(request.userId, 'events.close', { eventId: event.id });
        return eventBody(event);
      },
    );

    app.post(
      '/admin/events/:event_id/cancel',
      { onRequest: deps.requireAdmin, schema: { ...hidden, params: EventIdParams, body: CancelEventBody } },
      async (request) => {
        const reason = request.body?.reason ?? '';
        const event = await lineProviderAdmin().cancel(request.params.event_id, reason);
        audit(request.userId, 'events.cancel', { eventId: event.id, reason });
        return eventBody(event);
      },
    );
  };
