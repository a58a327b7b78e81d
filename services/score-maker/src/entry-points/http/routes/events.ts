import { createHash } from 'node:crypto';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { AppError } from '@scoreline/platform';
import { Type } from 'typebox';
import type { AuthHook } from '../auth.js';
import { documentProblems } from '../openapi.js';
import type { EventReads } from '../../../use-cases/event-reads.js';
import type { SubmitScore } from '../../../use-cases/submit-score.js';
import {
  EventIdParams,
  EventListSchema,
  IdempotencyHeaders,
  ListEventsQuery,
  SubmitScoreBody,
} from '../schemas.js';
import { decodeCursor, encodeCursor, eventBody, scoreBody } from '../views.js';

export interface EventRoutesDeps {
  events: EventReads;
  submitScore: SubmitScore;
  authenticate: AuthHook;
  scoreRateLimit: object;
}

const listErrors = documentProblems('VALIDATION_FAILED', 'INVALID_ARGUMENT', 'UNAVAILABLE');
const getErrors = documentProblems('BAD_REQUEST', 'VALIDATION_FAILED', 'EVENT_NOT_FOUND', 'UNAVAILABLE');
const submitErrors = documentProblems(
  'BAD_REQUEST',
  'MALFORMED_JSON',
  'UNAUTHENTICATED',
  'EVENT_NOT_FOUND',
  'EVENT_CLOSED',
  'SCORE_FINAL',
  'BODY_TOO_LARGE',
  'UNSUPPORTED_MEDIA_TYPE',
  'VALIDATION_FAILED',
  'IDEMPOTENCY_KEY_REUSED',
);

const states = { open: 'OPEN', closed: 'CLOSED', cancelled: 'CANCELLED', all: undefined } as const;

export const eventRoutes =
  (deps: EventRoutesDeps): FastifyPluginAsyncTypebox =>
  async (app) => {
    app.get(
      '/events',
      {
        schema: {
          operationId: 'listEvents',
          summary: 'List events',
          description: 'Open events by default; `state` filters, `cursor` pages. No token needed.',
          tags: ['events'],
          security: [],
          querystring: ListEventsQuery,
          response: { 200: EventListSchema, ...listErrors.response },
          ...listErrors.extensions,
        },
      },
      async (request) => {
        const { state = 'open', limit = 50, cursor } = request.query;
        const token = cursor === undefined ? '' : decodeCursor(cursor);
        if (typeof token !== 'string')
          throw new AppError('INVALID_ARGUMENT', 'cursor is not one this API issued', {
            field: 'query.cursor',
          });
        const page = await deps.events.list({ state: states[state], limit, pageToken: token });
        return {
          events: page.events.map(eventBody),
          next_cursor: page.nextPageToken ? encodeCursor(page.nextPageToken) : null,
        };
      },
    );

    app.get(
      '/events/:event_id',
      {
        schema: {
          operationId: 'getEvent',
          summary: 'Get one event',
          tags: ['events'],
          security: [],
          params: EventIdParams,
          response: { 200: Type.Ref('Event'), ...getErrors.response },
          ...getErrors.extensions,
        },
      },
      async (request) => eventBody(await deps.events.get(request.params.event_id)),
    );

    app.post(
      '/events/:event_id/score',
      {
        onRequest: deps.authenticate,
        config: { rateLimit: deps.scoreRateLimit },
        schema: {
          operationId: 'submitScore',
          summary: 'Score an event (1–5)',
          description:
            'Accepts the score and starts its saga: 202 with the score, PENDING until line-provider confirms it. ' +
            'One score per user and event: posting again changes it (a new version) until the event closes. ' +
            'With an `Idempotency-Key`, a retry of the same request returns the first answer.',
          tags: ['scores'],
          security: [{ bearerAuth: [] }],
          params: EventIdParams,
          headers: IdempotencyHeaders,
          body: SubmitScoreBody,
          response: {
            202: {
              description: 'Accepted: the score, PENDING until its saga settles',
              headers: {
                Location: {
                  type: 'string',
                  format: 'uri-reference',
                  required: true,
                  description: 'The score: /scores/{id}',
                },
              },
              content: { 'application/json': { schema: Type.Ref('Score') } },
            },
            ...submitErrors.response,
          },
          ...submitErrors.extensions,
        },
      },
      async (request, reply) => {
        const userId = request.userId!;
        const eventId = request.params.event_id;
        const key = request.headers['idempotency-key'];
        const requestHash = createHash('sha256')
          .update(`POST ${eventId} ${JSON.stringify(request.body)}`)
          .digest('hex');
        const response = await deps.submitScore(
          { userId, eventId, rate: request.body.score, idempotency: key ? { key, requestHash } : undefined },
          (score) => ({ statusCode: 202, body: scoreBody(score), location: `/scores/${score.id}` }),
        );
        if (response.location) void reply.header('location', response.location);
        // Only 202s are stored and replayed (see submit-score.ts).
        return reply.code(response.statusCode as 202).send(response.body);
      },
    );
  };
